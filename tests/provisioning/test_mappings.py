"""Attribute mappings: validation against the gallery, precedence editing, export/import."""

from __future__ import annotations

import json

import pytest

from scimitar.provisioning.app_settings import AppSettings
from scimitar.provisioning.apps import App
from scimitar.provisioning.gallery import CLARIZEN_ONE, GENERIC_SCIM
from scimitar.provisioning.mappings import (
    EXPORT_FORMAT,
    Mapping,
    MappingError,
    canonical_source,
    canonical_target,
    export_mappings,
    find_mapping,
    import_mappings,
    remove_mapping,
    restore_defaults,
    set_mapping,
    validate_mapping,
    validate_mappings,
)
from scimitar.provisioning.scoping import parse_filter

USER_DEFAULTS = CLARIZEN_ONE.default_mappings["user"]


def test_the_seeds_role_alias_is_the_rfc_path() -> None:
    assert canonical_target('roles[primary eq "True".value]') == 'roles[primary eq "True"].value'
    assert canonical_target(' emails[type  eq "work"].value ') == 'emails[type eq "work"].value'


def test_a_target_is_accepted_in_any_spelling_and_stored_as_offered() -> None:
    mapping, warnings = validate_mapping(
        Mapping('ROLES[primary eq "True".type]', "constant", "WindowsAzureActiveDirectoryRole"),
        "user",
        CLARIZEN_ONE,
    )
    assert mapping.target == 'roles[primary eq "True"].type'
    assert warnings == []


def test_known_sources_take_entras_spelling_and_unknown_ones_warn() -> None:
    mapping, warnings = validate_mapping(
        Mapping("title", "direct", "JOBTITLE"), "user", CLARIZEN_ONE
    )
    assert mapping.source == "jobTitle"
    assert warnings == []
    mapping, warnings = validate_mapping(
        Mapping("nickName", "direct", "extension_acme_nick"), "user", CLARIZEN_ONE
    )
    assert mapping.source == "extension_acme_nick"
    assert len(warnings) == 1
    assert "not a standard user attribute" in warnings[0]
    assert canonical_source("group", "DisplayName") == ("displayName", True)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (Mapping("titel", "direct", "jobTitle"), "did you mean 'title'"),
        (Mapping("costCenter", "direct", "department"), "does not offer the user attribute"),
        (Mapping("emails[type eq]", "direct", "mail"), "is not a SCIM attribute path"),
        (Mapping("title", "direct", "job title"), "is not an attribute name"),
        (Mapping("title", "constant", ""), "constant for title is empty"),
        (Mapping("title", "constant", "X", matching_precedence=2), "cannot match objects"),
        (Mapping("title", "constant", "X", default_value="Y"), "drop the default"),
        (Mapping("title", "direct", "jobTitle", matching_precedence=0), "must be 1 or more"),
    ],
)
def test_invalid_user_mappings_say_why(mapping: Mapping, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        validate_mapping(mapping, "user", CLARIZEN_ONE)


def test_an_expression_error_points_at_its_position() -> None:
    with pytest.raises(MappingError) as error:
        validate_mapping(
            Mapping("title", "expression", 'Join(" ", [givenName]'), "user", CLARIZEN_ONE
        )
    text = str(error.value)
    assert text.startswith("expression for title:")
    assert "^" in text or "position" in text


def test_generic_scim_takes_any_valid_path_but_not_server_assigned_ones() -> None:
    custom = "urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge"
    mapping, _ = validate_mapping(Mapping(custom, "direct", "employeeId"), "user", GENERIC_SCIM)
    assert mapping.target == custom
    with pytest.raises(MappingError, match="assigned by the target application"):
        validate_mapping(Mapping("id", "direct", "objectId"), "user", GENERIC_SCIM)
    with pytest.raises(MappingError, match="not a SCIM attribute path"):
        validate_mapping(Mapping("name..givenName", "direct", "givenName"), "user", GENERIC_SCIM)


def test_members_take_the_directorys_members_only() -> None:
    with pytest.raises(MappingError, match="map members <- members"):
        validate_mapping(Mapping("members", "direct", "objectId"), "group", CLARIZEN_ONE)
    with pytest.raises(MappingError, match="map members <- members"):
        validate_mapping(Mapping("externalId", "direct", "members"), "group", CLARIZEN_ONE)
    with pytest.raises(MappingError, match="map members <- members"):
        validate_mapping(Mapping("members", "constant", "none"), "group", CLARIZEN_ONE)


def test_a_mapping_list_needs_unique_targets() -> None:
    twice = (*USER_DEFAULTS, Mapping('ROLES[primary eq "True".value]', "constant", "User"))
    with pytest.raises(MappingError, match="mapped twice"):
        validate_mappings(twice, "user", CLARIZEN_ONE)


def test_matching_precedences_run_from_one_without_gaps() -> None:
    gap = (
        *USER_DEFAULTS[:-1],
        Mapping("externalId", "direct", "mailNickname", matching_precedence=3),
    )
    with pytest.raises(MappingError, match="have 1, 3"):
        validate_mappings(
            [m for m in gap if m.target != "externalId"] + [gap[-1]], "user", CLARIZEN_ONE
        )


def test_a_mapping_list_needs_a_matching_attribute_and_its_required_target() -> None:
    unmatched = [Mapping("userName", "direct", "userPrincipalName")]
    with pytest.raises(MappingError, match="no user mapping is a matching attribute"):
        validate_mappings(unmatched, "user", CLARIZEN_ONE)
    no_name = [m for m in USER_DEFAULTS if m.target != "userName"]
    with pytest.raises(MappingError, match="userName is required"):
        validate_mappings(no_name, "user", CLARIZEN_ONE)
    no_group_name = CLARIZEN_ONE.default_mappings["group"][1:]
    with pytest.raises(MappingError, match="displayName is required"):
        validate_mappings(no_group_name, "group", CLARIZEN_ONE)


def test_setting_a_precedence_inserts_and_renumbers() -> None:
    mail = Mapping('emails[type eq "work"].value', "direct", "mail", matching_precedence=1)
    updated = set_mapping(USER_DEFAULTS, mail)
    assert len(updated) == len(USER_DEFAULTS)  # replaced in place, not appended
    matching = sorted((m.matching_precedence, m.target) for m in updated if m.matching_precedence)
    assert matching == [(1, 'emails[type eq "work"].value'), (2, "userName")]
    validate_mappings(updated, "user", CLARIZEN_ONE)
    # Removing the first matching mapping moves the next one up.
    removed = remove_mapping(updated, 'EMAILS[type eq "work"].value')
    assert find_mapping(removed, 'emails[type eq "work"].value') is None
    assert find_mapping(removed, "userName") == USER_DEFAULTS[0]


def test_a_large_precedence_becomes_the_last_place() -> None:
    external = Mapping("externalId", "direct", "mailNickname", matching_precedence=9)
    updated = set_mapping(USER_DEFAULTS, external)
    assert find_mapping(updated, "externalId") == Mapping(
        "externalId", "direct", "mailNickname", matching_precedence=2
    )


def test_removing_an_unmapped_target_is_an_error() -> None:
    with pytest.raises(MappingError, match="no mapping has the target 'nickName'"):
        remove_mapping(USER_DEFAULTS, "nickName")


def test_restore_defaults_returns_the_gallery_mappings() -> None:
    assert restore_defaults(CLARIZEN_ONE) == {
        "user": USER_DEFAULTS,
        "group": CLARIZEN_ONE.default_mappings["group"],
    }


def _app(settings: AppSettings) -> App:
    return App(1, "Clarizen", "clarizen-one", "https://x.test/scim/v2", None, "off", settings, 1)


def test_export_and_import_round_trip_with_scoping_filters() -> None:
    sales = parse_filter(["department EQUALS Sales"])
    settings = AppSettings.for_gallery(CLARIZEN_ONE)
    custom = set_mapping(settings.mappings["user"], Mapping("title", "constant", "Staff"))
    app = _app(
        AppSettings(
            roles=settings.roles,
            mappings={"user": custom, "group": settings.mappings["group"]},
            scoping_filters={"user": (sales,), "group": ()},
        )
    )
    exported = export_mappings(app)
    document = import_mappings(json.loads(json.dumps(exported)))
    assert exported["format"] == EXPORT_FORMAT
    assert document.gallery == "clarizen-one"
    assert document.mappings == {"user": custom, "group": settings.mappings["group"]}
    assert document.scoping_filters == {"user": (sales,), "group": ()}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a mappings file"),
        ({"format": EXPORT_FORMAT, "version": 2}, "version 2 is not supported"),
        ({"format": EXPORT_FORMAT, "version": 1}, 'neither a "user" nor a "group"'),
        ({"format": EXPORT_FORMAT, "version": 1, "user": []}, '"user" must be'),
        (
            {"format": EXPORT_FORMAT, "version": 1, "user": {"mappings": [{"target": "title"}]}},
            "needs a text target and source",
        ),
        (
            {
                "format": EXPORT_FORMAT,
                "version": 1,
                "user": {"mappings": [], "scopingFilters": [{"clauses": []}]},
            },
            "user scoping filter: a scoping filter needs at least one clause",
        ),
    ],
)
def test_import_refuses_what_is_not_a_mappings_file(data: object, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        import_mappings(data)
