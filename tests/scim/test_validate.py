"""normalize() and check_mutability(): RFC payloads, Entra ID quirks and every rejection."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from scimitar.scim.errors import InvalidSyntax, InvalidValue, Mutability
from scimitar.scim.mutability import check_mutability
from scimitar.scim.resources import ENTERPRISE_USER_URN, GROUP, USER, USER_URN
from scimitar.scim.schema import Attribute, ResourceType, Schema
from scimitar.scim.validate import (
    MAX_STRING_LENGTH,
    MAX_VALUES,
    format_datetime,
    normalize,
    normalize_datetime,
)

DATA = Path(__file__).parent / "data"
ALIAS_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return loaded


def _user(**extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": "bjensen", **extra}


# --- RFC 7643 §8 examples --------------------------------------------------------------


def test_rfc_minimal_user_keeps_user_name_and_drops_id_meta_schemas() -> None:
    assert normalize(USER, _load("rfc7643-8.1-user-minimal.json")) == {
        "userName": "bjensen@example.com"
    }


def test_rfc_full_user_is_accepted_without_read_only_groups() -> None:
    doc = normalize(USER, _load("rfc7643-8.2-user-full.json"))
    assert "groups" not in doc
    assert doc["externalId"] == "701984"
    assert doc["name"]["honorificSuffix"] == "III"
    assert doc["emails"][0] == {"value": "bjensen@example.com", "type": "work", "primary": True}
    assert doc["password"] == "t1meMa$heen"  # writeOnly: stored, never returned
    assert doc["x509Certificates"][0]["value"].startswith("MIIDQzCCAqygAwIBAgICEAAw")


def test_rfc_enterprise_user_nests_extension_and_drops_read_only_manager_name() -> None:
    doc = normalize(USER, _load("rfc7643-8.3-enterprise-user.json"))
    extension = doc[ENTERPRISE_USER_URN]
    assert extension["employeeNumber"] == "701984"
    assert extension["manager"] == {
        "value": "26118915-6090-4610-87e4-49d8ca9f808d",
        "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
    }


def test_rfc_group_keeps_members_without_read_only_display() -> None:
    doc = normalize(GROUP, _load("rfc7643-8.4-group.json"))
    assert doc["displayName"] == "Tour Guides"
    assert [m["value"] for m in doc["members"]] == [
        "2819c223-7f76-453a-919d-413861904646",
        "902c246b-6245-4190-8e05-00816be7344a",
    ]
    assert all("display" not in m for m in doc["members"])


# --- names ----------------------------------------------------------------------------


def test_attribute_names_match_in_any_case() -> None:
    doc = normalize(
        USER,
        {"USERNAME": "a", "Name": {"GivenName": "Babs"}, "EMAILS": [{"VALUE": "a@x.org"}]},
    )
    assert doc == {"userName": "a", "name": {"givenName": "Babs"}, "emails": [{"value": "a@x.org"}]}


def test_extension_attributes_given_as_urn_prefixed_top_level_keys() -> None:
    doc = normalize(
        USER,
        _user(
            **{
                f"{ENTERPRISE_USER_URN}:employeeNumber": "7",
                f"{ENTERPRISE_USER_URN.upper()}:Manager": {"value": "m1"},
            }
        ),
    )
    assert doc[ENTERPRISE_USER_URN] == {"employeeNumber": "7", "manager": {"value": "m1"}}


def test_extension_attribute_in_old_entra_dot_notation() -> None:
    doc = normalize(USER, _user(**{f"{ENTERPRISE_USER_URN}.department": "Sales"}))
    assert doc[ENTERPRISE_USER_URN] == {"department": "Sales"}


def test_extension_attributes_without_urn_resolve_to_the_extension() -> None:
    doc = normalize(USER, _user(Department="Sales", **{"manager.value": "m1"}))
    assert doc[ENTERPRISE_USER_URN] == {"department": "Sales", "manager": {"value": "m1"}}


def test_misspelled_enterprise_urn_maps_to_canonical_urn() -> None:
    doc = normalize(
        USER,
        _user(**{ALIAS_URN: {"costCenter": "4130"}, f"{ALIAS_URN}:division": "Parks"}),
    )
    assert doc[ENTERPRISE_USER_URN] == {"costCenter": "4130", "division": "Parks"}


def test_dotted_sub_attribute_keys_and_core_urn_prefix() -> None:
    doc = normalize(
        USER,
        _user(**{"name.givenName": "Babs", f"{USER_URN}:name.familyName": "Jensen"}),
    )
    assert doc["name"] == {"givenName": "Babs", "familyName": "Jensen"}


def test_unknown_attributes_and_schema_uris_are_ignored() -> None:
    # Entra ID's group creation request (use-scim-to-provision-users-and-groups, Create Group).
    body = {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
        "favouriteColour": "blue",
        "urn:example:custom:2.0:Group:tag": "x",
    }
    assert normalize(GROUP, body) == {
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
    }


# --- readOnly, null and empty values ---------------------------------------------------


def test_read_only_values_are_dropped_silently() -> None:
    doc = normalize(
        USER,
        _user(
            id="client-chosen",
            meta={"created": "2010-01-23T04:56:22Z"},
            groups=[{"value": "g1"}],
            **{ENTERPRISE_USER_URN: {"manager": {"value": "m", "displayName": "Boss"}}},
        ),
    )
    assert doc == {"userName": "bjensen", ENTERPRISE_USER_URN: {"manager": {"value": "m"}}}


def test_nulls_and_empty_lists_mean_unassigned() -> None:
    doc = normalize(
        USER,
        _user(
            displayName=None,
            emails=[],
            roles=[None],
            name={"givenName": None, "familyName": "Jensen"},
            addresses=[{"type": None}],
            nickName=[],
            **{ENTERPRISE_USER_URN: {"department": None}},
        ),
    )
    assert doc == {"userName": "bjensen", "name": {"familyName": "Jensen"}}


# --- type coercion ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("False", False),
        ("true", True),
        ("false", False),
    ],
)
def test_booleans_accept_entra_strings(raw: object, expected: bool) -> None:
    # Entra ID sends "active": "False" (application-provisioning-config-problem-scim-compatibility).
    assert normalize(USER, _user(active=raw))["active"] is expected


def test_primary_given_as_string_counts_as_boolean() -> None:
    doc = normalize(USER, _user(emails=[{"value": "a@x.org", "primary": "True"}]))
    assert doc["emails"] == [{"value": "a@x.org", "primary": True}]


def test_single_value_for_multi_valued_attribute_is_wrapped() -> None:
    doc = normalize(USER, _user(emails={"value": "a@x.org", "type": "work"}))
    assert doc["emails"] == [{"value": "a@x.org", "type": "work"}]


def test_one_element_list_for_single_valued_attribute_is_unwrapped() -> None:
    assert normalize(USER, _user(displayName=["Babs"]))["displayName"] == "Babs"


def test_manager_given_as_bare_id_string() -> None:
    # Entra ID sends manager as a plain string (apache/directory-scimple#1242).
    doc = normalize(USER, _user(**{ENTERPRISE_USER_URN: {"manager": "26118915"}}))
    assert doc[ENTERPRISE_USER_URN]["manager"] == {"value": "26118915"}


def test_member_type_is_normalised_to_rfc_case_but_others_kept() -> None:
    doc = normalize(
        GROUP,
        {
            "displayName": "g",
            "members": [{"value": "1", "type": "user"}, {"value": "2", "type": "GROUP"}],
        },
    )
    assert [m["type"] for m in doc["members"]] == ["User", "Group"]
    emails = normalize(USER, _user(emails=[{"value": "a@x.org", "type": "Custom"}]))["emails"]
    assert emails[0]["type"] == "Custom"  # canonical values are a SHOULD, not enforced


def test_date_times_are_normalised_to_utc() -> None:
    assert normalize_datetime("2011-05-13T04:42:34Z") == "2011-05-13T04:42:34.000000Z"
    assert normalize_datetime("2011-05-13T06:42:34.5+02:00") == "2011-05-13T04:42:34.500000Z"
    # .NET clients send seven fractional digits.
    assert normalize_datetime("2018-03-27T19:59:26.0000000Z") == "2018-03-27T19:59:26.000000Z"
    assert normalize_datetime("2011-05-13T04:42:34") == "2011-05-13T04:42:34.000000Z"


def test_normalised_date_times_order_as_strings() -> None:
    earlier = normalize_datetime("2011-05-13T04:42:34Z")
    later = normalize_datetime("2011-05-13T04:42:34.25Z")
    other_zone = normalize_datetime("2011-05-13T05:42:33+01:00")
    assert other_zone < earlier < later


def test_format_datetime_treats_naive_as_utc() -> None:
    naive = datetime(2020, 1, 2, 3, 4, 5, 6)
    assert format_datetime(naive) == "2020-01-02T03:04:05.000006Z"
    aware = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert format_datetime(aware) == "2020-01-02T08:04:05.000000Z"
    assert format_datetime(datetime(2020, 1, 2, tzinfo=UTC)).endswith("T00:00:00.000000Z")


# A resource type exercising the types the User and Group schemas do not use.
TYPED = ResourceType(
    name="Typed",
    endpoint="/Typed",
    description="",
    schema=Schema(
        id="urn:example:typed",
        name="Typed",
        description="",
        attributes=(
            Attribute("label", required=True),
            Attribute("count", type="integer"),
            Attribute("ratio", type="decimal"),
            Attribute("when", type="dateTime"),
            Attribute("blob", type="binary"),
            Attribute("link", type="reference"),
            Attribute("flag", type="boolean"),
            Attribute("serial", mutability="immutable"),
            Attribute(
                "badge",
                type="complex",
                sub_attributes=(
                    Attribute("code", mutability="immutable", case_exact=True),
                    Attribute("note"),
                ),
            ),
        ),
    ),
)


def test_numbers_date_times_binary_and_references_are_coerced() -> None:
    doc = normalize(
        TYPED,
        {
            "label": "x",
            "count": "42",
            "ratio": 2,
            "when": "2011-05-13T04:42:34Z",
            "blob": "aGVs\nbG8=",
            "link": "https://example.com/a",
        },
    )
    assert doc == {
        "label": "x",
        "count": 42,
        "ratio": 2.0,
        "when": "2011-05-13T04:42:34.000000Z",
        "blob": "aGVs\nbG8=",
        "link": "https://example.com/a",
    }
    assert normalize(TYPED, {"label": "x", "count": 3.0, "ratio": "-0.5"}) == {
        "label": "x",
        "count": 3,
        "ratio": -0.5,
    }


@pytest.mark.parametrize(
    ("attribute", "raw", "message"),
    [
        ("label", 5, "label must be a string, not the number 5"),
        ("label", {"a": 1}, "label must be a string, not a JSON object"),
        ("count", "twelve", 'count must be an integer, not the string "twelve"'),
        ("count", 1.5, "count must be an integer, not the number 1.5"),
        ("count", True, "count must be an integer, not the boolean true"),
        ("ratio", "1,5", "ratio must be a number"),
        ("when", "2011-05-13", "when must be a dateTime"),
        ("when", "yesterday", "when must be a dateTime"),
        ("when", 1305261754, "when must be a dateTime"),
        ("blob", "not base64!", "blob must be a base64-encoded string"),
        ("link", ["a", "b"], "link is single-valued but 2 values were given"),
        ("flag", "yes", "flag must be a boolean (true or false)"),
        ("flag", 1, "flag must be a boolean (true or false), not the number 1"),
        ("badge", "x", "badge must be a JSON object"),
    ],
)
def test_type_errors_name_the_attribute_and_expected_type(
    attribute: str, raw: object, message: str
) -> None:
    with pytest.raises(InvalidValue, match=re.escape(message)):
        normalize(TYPED, {"label": "x", attribute: raw})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_user(emails=[{"value": 5}]), "emails.value must be a string"),
        (
            _user(emails=[["a@x.org"]]),
            "emails must be a flat list whose values are each a JSON object",
        ),
        (_user(name="Babs Jensen"), "name must be a JSON object with sub-attributes formatted"),
        (_user(active={"value": True}), "active must be a boolean"),
        (
            _user(**{ENTERPRISE_USER_URN: {"employeeNumber": 7}}),
            f"{ENTERPRISE_USER_URN}:employeeNumber must be a string",
        ),
        (_user(**{ENTERPRISE_USER_URN: "x"}), f"{ENTERPRISE_USER_URN} must be a JSON object"),
    ],
)
def test_type_errors_in_user_documents(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(message)):
        normalize(USER, body)


# --- roles JSON-encoded by Entra ID -------------------------------------------------------


def test_roles_json_array_in_value_string_is_decoded() -> None:
    encoded = json.dumps([{"value": "User", "displayName": "User"}, {"value": "Reader"}])
    doc = normalize(
        USER,
        _user(
            roles=[{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": encoded}]
        ),
    )
    assert doc["roles"] == [
        {"value": "User", "display": "User", "type": "WindowsAzureActiveDirectoryRole"},
        {"value": "Reader", "type": "WindowsAzureActiveDirectoryRole"},
    ]


def test_roles_json_object_string_is_decoded_and_keeps_wrapper_primary() -> None:
    doc = normalize(USER, _user(roles=[{"primary": "True", "value": '{"value": "User"}'}]))
    assert doc["roles"] == [{"value": "User", "primary": True}]


def test_roles_whole_attribute_as_json_string() -> None:
    doc = normalize(USER, _user(roles='[{"value":"Admin","primary":true}]'))
    assert doc["roles"] == [{"value": "Admin", "primary": True}]


def test_roles_plain_strings_stay_values() -> None:
    doc = normalize(USER, _user(roles=["User", {"value": "[not json"}]))
    assert doc["roles"] == [{"value": "User"}, {"value": "[not json"}]


# --- primary, required, bounds ----------------------------------------------------------


def test_two_primary_values_are_rejected() -> None:
    body = _user(
        emails=[{"value": "a@x.org", "primary": True}, {"value": "b@x.org", "primary": "true"}]
    )
    with pytest.raises(InvalidValue, match="emails has 2 values marked primary"):
        normalize(USER, body)


def test_one_primary_among_many_is_fine() -> None:
    body = _user(phoneNumbers=[{"value": "1", "primary": True}, {"value": "2", "primary": False}])
    assert len(normalize(USER, body)["phoneNumbers"]) == 2


@pytest.mark.parametrize("user_name", [None, "", "   ", []])
def test_user_name_is_required_and_non_empty(user_name: object) -> None:
    with pytest.raises(InvalidValue, match="userName is required: every User needs"):
        normalize(USER, {"userName": user_name, "displayName": "Babs"})


def test_group_display_name_is_required() -> None:
    with pytest.raises(InvalidValue, match="displayName is required: every Group needs"):
        normalize(GROUP, {"members": [{"value": "1"}]})


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidSyntax, match="must be a JSON object"):
        normalize(USER, [{"userName": "a"}])  # type: ignore[arg-type]


def test_overlong_strings_are_rejected() -> None:
    with pytest.raises(InvalidValue, match=f"displayName is {MAX_STRING_LENGTH + 1} characters"):
        normalize(USER, _user(displayName="x" * (MAX_STRING_LENGTH + 1)))


def test_overlong_lists_are_rejected_except_members() -> None:
    many = [{"value": f"u{i}@x.org"} for i in range(MAX_VALUES + 1)]
    with pytest.raises(InvalidValue, match=f"emails has {MAX_VALUES + 1} values"):
        normalize(USER, _user(emails=many))
    members = [{"value": f"u{i}"} for i in range(MAX_VALUES * 5)]
    assert len(normalize(GROUP, {"displayName": "big", "members": members})["members"]) == 5000


# --- strict schemas -----------------------------------------------------------------------


def test_strict_schemas_requires_the_core_schema_and_known_uris() -> None:
    assert normalize(USER, _user(), strict_schemas=True) == {"userName": "bjensen"}
    with pytest.raises(InvalidValue, match=re.escape(f"must include {USER_URN}")):
        normalize(USER, {"schemas": [ENTERPRISE_USER_URN], "userName": "a"}, strict_schemas=True)
    with pytest.raises(InvalidValue, match="unknown schema"):
        normalize(USER, _user(schemas=[USER_URN, "urn:example:nope"]), strict_schemas=True)
    with pytest.raises(InvalidValue, match="list of schema URIs"):
        normalize(USER, {"userName": "a"}, strict_schemas=True)


def test_strict_schemas_accepts_the_alias_urn() -> None:
    body = _user(schemas=[USER_URN, ALIAS_URN])
    assert normalize(USER, body, strict_schemas=True) == {"userName": "bjensen"}


# --- check_mutability ---------------------------------------------------------------------


def test_immutable_attribute_may_not_change_or_disappear() -> None:
    old = normalize(TYPED, {"label": "x", "serial": "ABC"})
    check_mutability(
        TYPED, old, normalize(TYPED, {"label": "y", "serial": "abc"})
    )  # caseExact false
    with pytest.raises(Mutability, match="serial is immutable"):
        check_mutability(TYPED, old, normalize(TYPED, {"label": "x", "serial": "XYZ"}))
    with pytest.raises(Mutability, match="serial is immutable"):
        check_mutability(TYPED, old, normalize(TYPED, {"label": "x"}))


def test_immutable_sub_attribute_of_single_complex() -> None:
    old = normalize(TYPED, {"label": "x", "badge": {"code": "A1", "note": "n"}})
    check_mutability(TYPED, old, normalize(TYPED, {"label": "x", "badge": {"code": "A1"}}))
    with pytest.raises(Mutability, match=re.escape("badge.code is immutable")):
        check_mutability(TYPED, old, normalize(TYPED, {"label": "x", "badge": {"code": "a1"}}))


def test_immutable_value_may_be_set_when_unset() -> None:
    old = normalize(TYPED, {"label": "x"})
    check_mutability(TYPED, old, normalize(TYPED, {"label": "x", "serial": "new"}))


def test_group_members_may_be_replaced_by_put() -> None:
    # members.value is immutable per element, but elements are added and removed freely.
    old = normalize(GROUP, {"displayName": "g", "members": [{"value": "1"}]})
    new = normalize(GROUP, {"displayName": "g", "members": [{"value": "2"}]})
    check_mutability(GROUP, old, new)
    assert new["members"] == [{"value": "2"}]
