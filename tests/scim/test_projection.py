"""attributes/excludedAttributes parsing and projection (RFC 7644 §3.9, RFC 7643 §2.4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scimitar.scim.ast import AttrPath
from scimitar.scim.errors import InvalidValue
from scimitar.scim.projection import parse_attribute_list, project
from scimitar.scim.resources import (
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_URN,
    GROUP,
    GROUP_URN,
    USER,
    USER_URN,
)
from scimitar.scim.schema import Attribute, ResourceType, Schema
from scimitar.scim.validate import normalize

DATA = Path(__file__).parent / "data"
ALIAS_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"


def _stored(name: str, resource_type: ResourceType = USER) -> dict[str, Any]:
    body = json.loads((DATA / name).read_text(encoding="utf-8"))
    doc = normalize(resource_type, body)
    # What the server adds around the normalised document.
    return {"id": body["id"], **doc, "meta": body["meta"]}


FULL = _stored("rfc7643-8.3-enterprise-user.json")


def _project(resource: dict[str, Any], attributes: str = "", excluded: str = "") -> dict[str, Any]:
    return project(USER, resource, parse_attribute_list(attributes), parse_attribute_list(excluded))


# --- parse_attribute_list ---------------------------------------------------------------


def test_parse_splits_commas_and_tolerates_whitespace() -> None:
    assert parse_attribute_list(" userName , name.givenName,,emails ") == (
        AttrPath("userName"),
        AttrPath("name", "givenName"),
        AttrPath("emails"),
    )


def test_parse_accepts_repeated_parameters_and_nothing() -> None:
    assert parse_attribute_list(["userName", "displayName,title"]) == (
        AttrPath("userName"),
        AttrPath("displayName"),
        AttrPath("title"),
    )
    assert parse_attribute_list(None) == ()
    assert parse_attribute_list("") == ()
    assert parse_attribute_list([]) == ()


def test_parse_urn_prefixed_names() -> None:
    assert parse_attribute_list(f"{ENTERPRISE_USER_URN}:manager.$ref") == (
        AttrPath("manager", "$ref", ENTERPRISE_USER_URN),
    )
    (bare,) = parse_attribute_list(ENTERPRISE_USER_URN)
    assert str(bare) == ENTERPRISE_USER_URN
    (alias,) = parse_attribute_list(ALIAS_URN)
    assert str(alias) == ALIAS_URN


@pytest.mark.parametrize(
    "bad", ['emails[type eq "work"]', "name.givenName.x", "1abc", "user name", "urn:", "a;b"]
)
def test_parse_rejects_malformed_names(bad: str) -> None:
    with pytest.raises(InvalidValue, match="is not an attribute name"):
        parse_attribute_list(bad)


# --- returned: default / never / always ---------------------------------------------------


def test_default_projection_drops_only_never_attributes() -> None:
    body = _project(FULL)
    assert "password" not in body
    assert body["schemas"] == [USER_URN, ENTERPRISE_USER_URN]
    assert body["id"] == FULL["id"]
    assert body["meta"] == FULL["meta"]
    assert body[ENTERPRISE_USER_URN] == FULL[ENTERPRISE_USER_URN]
    assert set(body) == (set(FULL) - {"password"}) | {"schemas"}


def test_schemas_lists_extension_only_when_present() -> None:
    minimal = _stored("rfc7643-8.1-user-minimal.json")
    assert _project(minimal)["schemas"] == [USER_URN]
    assert _project(FULL, attributes="userName")["schemas"] == [USER_URN]
    assert _project(FULL, excluded=ENTERPRISE_USER_URN)["schemas"] == [USER_URN]


def test_default_projection_does_not_modify_the_stored_document() -> None:
    before = json.dumps(FULL, sort_keys=True)
    _project(FULL)
    _project(FULL, attributes="name.givenName", excluded="emails")
    assert json.dumps(FULL, sort_keys=True) == before


def test_attributes_returns_named_plus_always() -> None:
    body = _project(FULL, attributes="userName,displayName")
    assert body == {
        "schemas": [USER_URN],
        "id": FULL["id"],
        "userName": "bjensen@example.com",
        "displayName": "Babs Jensen",
    }


def test_never_attribute_is_not_returned_even_when_named() -> None:
    assert "password" not in _project(FULL, attributes="password,userName")


def test_always_attribute_cannot_be_excluded() -> None:
    body = _project(FULL, excluded="id,userName")
    assert body["id"] == FULL["id"]
    assert "userName" not in body


def test_meta_is_returned_by_default_and_excludable() -> None:
    assert "meta" in _project(FULL)
    assert "meta" not in _project(FULL, excluded="meta")
    assert _project(FULL, attributes="meta.created")["meta"] == {"created": "2010-01-23T04:56:22Z"}


def test_unknown_names_are_ignored() -> None:
    assert _project(FULL, attributes="userName,shoeSize") == _project(FULL, attributes="userName")
    assert _project(FULL, excluded="shoeSize,urn:example:x:y") == _project(FULL)


def test_names_match_case_insensitively() -> None:
    assert _project(FULL, attributes="USERNAME,Name.GIVENNAME") == {
        "schemas": [USER_URN],
        "id": FULL["id"],
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara"},
    }


# --- sub-attributes -----------------------------------------------------------------------


def test_naming_a_sub_attribute_returns_only_it() -> None:
    body = _project(FULL, attributes="name.familyName,emails.value")
    assert body["name"] == {"familyName": "Jensen"}
    assert body["emails"] == [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]


def test_elements_without_the_named_sub_attribute_are_left_out() -> None:
    body = _project(FULL, attributes="emails.primary")
    assert body["emails"] == [{"primary": True}]
    assert "addresses" not in _project(FULL, attributes="addresses.display")


def test_naming_parent_and_sub_returns_whole_parent() -> None:
    body = _project(FULL, attributes="name.givenName,name")
    assert body["name"] == FULL["name"]


def test_excluding_a_sub_attribute() -> None:
    body = _project(FULL, excluded="name.middleName,emails.type")
    assert "middleName" not in body["name"]
    assert body["name"]["givenName"] == "Barbara"
    assert body["emails"] == [
        {"value": "bjensen@example.com", "primary": True},
        {"value": "babs@jensen.org"},
    ]


def test_attributes_and_excluded_together_apply_both() -> None:
    body = _project(FULL, attributes="name", excluded="name.formatted")
    assert set(body["name"]) == {
        "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"
    }  # fmt: skip
    assert "name" not in _project(FULL, attributes="name.givenName", excluded="name")


# --- extensions ---------------------------------------------------------------------------


def test_naming_an_extension_attribute_nests_it_under_the_urn() -> None:
    for name in ("employeeNumber", f"{ENTERPRISE_USER_URN}:employeeNumber"):
        body = _project(FULL, attributes=name)
        assert body[ENTERPRISE_USER_URN] == {"employeeNumber": "701984"}
        assert body["schemas"] == [USER_URN, ENTERPRISE_USER_URN]


def test_naming_an_extension_sub_attribute() -> None:
    body = _project(FULL, attributes=f"{ENTERPRISE_USER_URN}:manager.value")
    assert body[ENTERPRISE_USER_URN] == {
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
    }


@pytest.mark.parametrize("urn", [ENTERPRISE_USER_URN, ENTERPRISE_USER_URN.lower(), ALIAS_URN])
def test_naming_the_extension_urn_returns_the_whole_extension(urn: str) -> None:
    body = _project(FULL, attributes=urn)
    assert body[ENTERPRISE_USER_URN] == FULL[ENTERPRISE_USER_URN]
    assert "userName" not in body


def test_excluding_extension_attributes() -> None:
    body = _project(FULL, excluded=f"{ENTERPRISE_USER_URN}:manager,costCenter")
    assert set(body[ENTERPRISE_USER_URN]) == {
        "employeeNumber", "organization", "division", "department"
    }  # fmt: skip


# --- groups -------------------------------------------------------------------------------


def test_group_excluding_members_as_entra_does() -> None:
    group = _stored("rfc7643-8.4-group.json", GROUP)
    body = project(GROUP, group, (), parse_attribute_list("members"))
    assert body == {
        "schemas": [GROUP_URN],
        "id": group["id"],
        "displayName": "Tour Guides",
        "meta": group["meta"],
    }


# --- returned: request, and never/always sub-attributes (custom schema) -------------------

CUSTOM = ResourceType(
    name="Device",
    endpoint="/Devices",
    description="",
    schema=Schema(
        id="urn:example:device",
        name="Device",
        description="",
        attributes=(
            Attribute("serial", returned="always"),
            Attribute("label"),
            Attribute("secret", returned="request"),
            Attribute(
                "keys",
                type="complex",
                multi_valued=True,
                sub_attributes=(
                    Attribute("value"),
                    Attribute("kid", returned="always"),
                    Attribute("private", returned="never"),
                    Attribute("audit", returned="request"),
                ),
            ),
        ),
    ),
    common=COMMON_ATTRIBUTES,
)
DEVICE = {
    "id": "d1",
    "serial": "S1",
    "label": "L",
    "secret": "s3cret",
    "keys": [{"value": "v", "kid": "k1", "private": "p", "audit": "a"}],
}


def test_request_attributes_only_when_named() -> None:
    assert "secret" not in project(CUSTOM, DEVICE)
    assert project(CUSTOM, DEVICE, parse_attribute_list("secret")) == {
        "schemas": ["urn:example:device"],
        "id": "d1",
        "serial": "S1",
        "secret": "s3cret",
    }


def test_hidden_sub_attributes_follow_returned() -> None:
    assert project(CUSTOM, DEVICE)["keys"] == [{"value": "v", "kid": "k1"}]
    assert project(CUSTOM, DEVICE, parse_attribute_list("keys.value"))["keys"] == [
        {"value": "v", "kid": "k1"}
    ]
    named = project(CUSTOM, DEVICE, parse_attribute_list("keys.audit,keys.private"))
    assert named["keys"] == [{"kid": "k1", "audit": "a"}]
    excluded = project(CUSTOM, DEVICE, (), parse_attribute_list("keys.kid,keys.value"))
    assert excluded["keys"] == [{"kid": "k1"}]
