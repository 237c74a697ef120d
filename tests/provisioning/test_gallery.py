"""The gallery: Clarizen One as Microsoft's tutorial describes it, and a generic SCIM app."""

from __future__ import annotations

import pytest

from scimitar.provisioning.gallery import (
    CLARIZEN_ONE,
    DEFAULT_ACCESS,
    GALLERY,
    GENERIC_SCIM,
    UnknownGalleryApp,
    gallery_app,
)
from scimitar.provisioning.mappings import Mapping, target_key, validate_mappings

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# The issue's list of Clarizen One's default user mappings, in order:
# (target, source type, source, matching precedence).
CLARIZEN_USER_DEFAULTS = [
    ("userName", "direct", "userPrincipalName", 1),
    ("active", "expression", 'Switch([IsSoftDeleted], , "False", "True", "True", "False")', None),
    ("displayName", "direct", "displayName", None),
    ("title", "direct", "jobTitle", None),
    ('emails[type eq "work"].value', "direct", "mail", None),
    ("preferredLanguage", "direct", "preferredLanguage", None),
    ("name.givenName", "direct", "givenName", None),
    ("name.familyName", "direct", "surname", None),
    ("name.formatted", "expression", 'Join(" ", [givenName], [surname])', None),
    ('addresses[type eq "work"].formatted', "direct", "physicalDeliveryOfficeName", None),
    ('addresses[type eq "work"].streetAddress', "direct", "streetAddress", None),
    ('addresses[type eq "work"].locality', "direct", "city", None),
    ('addresses[type eq "work"].region', "direct", "state", None),
    ('addresses[type eq "work"].postalCode', "direct", "postalCode", None),
    ('addresses[type eq "work"].country', "direct", "country", None),
    ('phoneNumbers[type eq "work"].value', "direct", "telephoneNumber", None),
    ('phoneNumbers[type eq "mobile"].value', "direct", "mobile", None),
    ('phoneNumbers[type eq "fax"].value', "direct", "facsimileTelephoneNumber", None),
    ("externalId", "direct", "mailNickname", None),
    (f"{ENTERPRISE}:employeeNumber", "direct", "employeeId", None),
    (f"{ENTERPRISE}:department", "direct", "department", None),
    (f"{ENTERPRISE}:manager", "direct", "manager", None),
    (
        'roles[primary eq "True"].value',
        "expression",
        "SingleAppRoleAssignment([appRoleAssignments])",
        None,
    ),
]
GROUP_DEFAULTS = [
    ("displayName", "direct", "displayName", 1),
    ("externalId", "direct", "objectId", None),
    ("members", "direct", "members", None),
]

# The tutorial's user attribute table, transcribed as printed (division appears twice
# there; the role rows use its late-bracket alias).
SEED_USER_TABLE = [
    ("userName", "String"),
    ("displayName", "String"),
    ("active", "Boolean"),
    ("title", "String"),
    ('emails[type eq "work"].value', "String"),
    ('emails[type eq "home"].value', "String"),
    ('emails[type eq "other"].value', "String"),
    ("preferredLanguage", "String"),
    ("name.givenName", "String"),
    ("name.familyName", "String"),
    ("name.formatted", "String"),
    ("name.honorificPrefix", "String"),
    ("name.honorificSuffix", "String"),
    ('addresses[type eq "other"].formatted', "String"),
    ('addresses[type eq "work"].formatted', "String"),
    ('addresses[type eq "work"].country', "String"),
    ('addresses[type eq "work"].region', "String"),
    ('addresses[type eq "work"].locality', "String"),
    ('addresses[type eq "work"].postalCode', "String"),
    ('addresses[type eq "work"].streetAddress', "String"),
    ('phoneNumbers[type eq "work"].value', "String"),
    ('phoneNumbers[type eq "mobile"].value', "String"),
    ('phoneNumbers[type eq "fax"].value', "String"),
    ('phoneNumbers[type eq "home"].value', "String"),
    ('phoneNumbers[type eq "other"].value', "String"),
    ('phoneNumbers[type eq "pager"].value', "String"),
    ("externalId", "String"),
    ("nickName", "String"),
    ("locale", "String"),
    ('roles[primary eq "True".type]', "String"),
    ('roles[primary eq "True".value]', "String"),
    ("timezone", "String"),
    ("userType", "String"),
    (f"{ENTERPRISE}:department", "String"),
    (f"{ENTERPRISE}:employeeNumber", "String"),
    (f"{ENTERPRISE}:manager", "Reference"),
    (f"{ENTERPRISE}:costCenter", "String"),
    (f"{ENTERPRISE}:division", "String"),
    (f"{ENTERPRISE}:division", "String"),
]


def _rows(mappings: tuple[Mapping, ...]) -> list[tuple[str, str, str, int | None]]:
    return [(m.target, m.source_type, m.source, m.matching_precedence) for m in mappings]


def test_clarizen_one_default_mappings_are_the_issues_list() -> None:
    assert _rows(CLARIZEN_ONE.default_mappings["user"]) == CLARIZEN_USER_DEFAULTS
    assert _rows(CLARIZEN_ONE.default_mappings["group"]) == GROUP_DEFAULTS
    assert all(m.apply_on == "always" for m in CLARIZEN_ONE.default_mappings["user"])


def test_clarizen_one_data_centers_are_the_tutorials_tenant_urls() -> None:
    assert dict(CLARIZEN_ONE.data_centers) == {
        "us-prod": "https://servicesapp2.clarizen.com/scim/v2",
        "eu-prod": "https://serviceseu1.clarizen.com/scim/v2",
        "us-sandbox": "https://servicesapp.clarizentb.com/scim/v2",
        "eu-sandbox": "https://serviceseu.clarizentb.com/scim/v2",
    }


def test_clarizen_one_roles_include_the_ones_the_tutorial_calls_invalid() -> None:
    invalid = {
        "Administrator",
        "Email Reporting user",
        "External user",
        "Financial user",
        "Social user",
        "Superuser",
        "Time & Expense user",
    }
    assert CLARIZEN_ONE.roles[0] == "User"
    assert set(CLARIZEN_ONE.roles) == {"User", *invalid}
    assert set(CLARIZEN_ONE.refused_roles) == invalid
    assert "only the User role" in CLARIZEN_ONE.refused_roles["Superuser"]
    assert DEFAULT_ACCESS not in CLARIZEN_ONE.roles  # every app has it implicitly


def test_clarizen_one_offers_every_attribute_of_the_tutorials_table() -> None:
    offered = CLARIZEN_ONE.target_attributes
    assert offered is not None
    by_key = {target_key(a.name): a.type for a in offered["user"]}
    expected = {target_key(name): kind for name, kind in SEED_USER_TABLE}
    assert by_key == expected
    assert len(offered["user"]) == len(expected) == 38
    assert [(a.name, a.type) for a in offered["group"]] == [
        ("displayName", "String"),
        ("externalId", "String"),
        ("members", "Reference"),
    ]


def test_every_default_target_is_offered_and_the_defaults_validate() -> None:
    for kind in ("user", "group"):
        mappings, warnings = validate_mappings(
            CLARIZEN_ONE.default_mappings[kind], kind, CLARIZEN_ONE
        )
        assert [m.target for m in mappings] == [
            m.target for m in CLARIZEN_ONE.default_mappings[kind]
        ]
        assert warnings == []
        generic, warnings = validate_mappings(
            GENERIC_SCIM.default_mappings[kind], kind, GENERIC_SCIM
        )
        assert generic == GENERIC_SCIM.default_mappings[kind]
        assert warnings == []


def test_generic_scim_maps_no_role_and_accepts_any_target() -> None:
    user_targets = [m.target for m in GENERIC_SCIM.default_mappings["user"]]
    assert user_targets == [row[0] for row in CLARIZEN_USER_DEFAULTS[:-1]]
    assert GENERIC_SCIM.roles == ("User",)
    assert GENERIC_SCIM.data_centers == {}
    assert GENERIC_SCIM.offered_targets("user") is None


def test_gallery_lookup() -> None:
    assert sorted(GALLERY) == ["clarizen-one", "generic-scim"]
    assert gallery_app("clarizen-one") is CLARIZEN_ONE
    with pytest.raises(UnknownGalleryApp, match="the gallery has: clarizen-one, generic-scim"):
        gallery_app("salesforce")
