"""The RFC 7643 §8.7.1 schemas as served, and name resolution against them."""

from __future__ import annotations

import pytest

from scimitar.scim.ast import AttrPath
from scimitar.scim.resources import (
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_SCHEMA,
    ENTERPRISE_USER_URN,
    GROUP,
    GROUP_SCHEMA,
    RESOURCE_TYPES,
    SCHEMAS,
    URN_ALIASES,
    USER,
    USER_SCHEMA,
)
from scimitar.scim.schema import Attribute, Schema, UnknownAttribute, resolve


def _attr(schema_attr: Attribute | None) -> Attribute:
    assert schema_attr is not None
    return schema_attr


def test_user_schema_lists_every_rfc_attribute_in_order() -> None:
    names = [a.name for a in USER_SCHEMA.attributes]
    assert names == [
        "userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
        "preferredLanguage", "locale", "timezone", "active", "password", "emails",
        "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles",
        "x509Certificates",
    ]  # fmt: skip


def test_user_name_is_required_case_insensitive_and_unique_per_server() -> None:
    user_name = _attr(USER_SCHEMA.attribute("username"))
    assert (user_name.required, user_name.case_exact, user_name.uniqueness) == (
        True,
        False,
        "server",
    )


def test_password_is_write_only_and_never_returned() -> None:
    password = _attr(USER_SCHEMA.attribute("password"))
    assert (password.mutability, password.returned) == ("writeOnly", "never")


def test_groups_and_its_sub_attributes_are_read_only() -> None:
    groups = _attr(USER_SCHEMA.attribute("groups"))
    assert groups.mutability == "readOnly"
    assert {s.mutability for s in groups.sub_attributes} == {"readOnly"}
    assert _attr(groups.sub_attribute("type")).canonical_values == ("direct", "indirect")


def test_email_and_phone_types_carry_rfc_canonical_values() -> None:
    emails = _attr(USER_SCHEMA.attribute("emails"))
    phones = _attr(USER_SCHEMA.attribute("phoneNumbers"))
    assert _attr(emails.sub_attribute("type")).canonical_values == ("work", "home", "other")
    assert "pager" in _attr(phones.sub_attribute("type")).canonical_values
    assert _attr(emails.sub_attribute("primary")).type == "boolean"


def test_photos_value_and_profile_url_are_external_references() -> None:
    photos = _attr(USER_SCHEMA.attribute("photos"))
    assert _attr(photos.sub_attribute("value")).reference_types == ("external",)
    assert _attr(USER_SCHEMA.attribute("profileUrl")).reference_types == ("external",)


def test_x509_certificate_values_are_binary() -> None:
    certificates = _attr(USER_SCHEMA.attribute("x509Certificates"))
    assert _attr(certificates.sub_attribute("value")).type == "binary"


def test_group_members_sub_attributes() -> None:
    display_name = _attr(GROUP_SCHEMA.attribute("displayName"))
    assert display_name.required
    members = _attr(GROUP_SCHEMA.attribute("members"))
    assert members.multi_valued
    assert members.mutability == "readWrite"
    subs = {s.name: s for s in members.sub_attributes}
    assert subs["value"].mutability == "immutable"
    assert subs["$ref"].reference_types == ("User", "Group")
    assert subs["type"].canonical_values == ("User", "Group")
    assert subs["display"].mutability == "readOnly"


def test_enterprise_manager_is_complex_with_read_only_display_name() -> None:
    manager = _attr(ENTERPRISE_USER_SCHEMA.attribute("manager"))
    assert manager.type == "complex"
    assert not manager.multi_valued
    assert [s.name for s in manager.sub_attributes] == ["value", "$ref", "displayName"]
    assert _attr(manager.sub_attribute("displayname")).mutability == "readOnly"
    assert [a.name for a in ENTERPRISE_USER_SCHEMA.attributes] == [
        "employeeNumber", "costCenter", "organization", "division", "department", "manager",
    ]  # fmt: skip


def test_common_attributes_characteristics() -> None:
    common = {a.name: a for a in COMMON_ATTRIBUTES}
    assert (common["id"].returned, common["id"].mutability) == ("always", "readOnly")
    assert common["externalId"].case_exact
    assert common["externalId"].mutability == "readWrite"
    meta = common["meta"]
    assert meta.mutability == "readOnly"
    assert _attr(meta.sub_attribute("lastModified")).type == "dateTime"
    assert _attr(meta.sub_attribute("location")).type == "reference"


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_schemas_endpoint_does_not_list_common_attributes(schema: Schema) -> None:
    rep = schema.to_representation("https://scim.example/scim/v2")
    names = {a["name"] for a in rep["attributes"]}
    assert not names & {"id", "externalId", "meta"}
    assert all(a["description"] for a in rep["attributes"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (AttrPath("ID"), "id"),
        (AttrPath("externalid"), "externalId"),
        (AttrPath("meta", "LastModified"), "lastModified"),
        (AttrPath("id", urn="urn:ietf:params:scim:schemas:core:2.0:User"), "id"),
    ],
)
def test_resolve_finds_common_attributes(path: AttrPath, expected: str) -> None:
    resolved = resolve(USER, path)
    assert resolved.leaf.name == expected
    assert not resolved.in_extension


def test_resolve_finds_common_attributes_for_groups() -> None:
    assert resolve(GROUP, AttrPath("externalId")).attribute.case_exact


def test_common_attributes_are_not_part_of_the_extension() -> None:
    with pytest.raises(UnknownAttribute):
        resolve(USER, AttrPath("id", urn=ENTERPRISE_USER_URN))


def test_resolve_finds_enterprise_attributes_without_urn() -> None:
    resolved = resolve(USER, AttrPath("manager", "value"))
    assert resolved.in_extension
    assert resolved.schema is ENTERPRISE_USER_SCHEMA


def test_resource_types_representation() -> None:
    assert [rt.name for rt in RESOURCE_TYPES] == ["User", "Group"]
    rep = USER.to_representation("https://scim.example/scim/v2")
    assert rep["endpoint"] == "/Users"
    assert rep["schemaExtensions"] == [{"schema": ENTERPRISE_USER_URN, "required": False}]
    assert GROUP.to_representation()["endpoint"] == "/Groups"


def test_misspelled_enterprise_urn_is_an_alias() -> None:
    alias = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"
    assert URN_ALIASES[alias.lower()] == ENTERPRISE_USER_URN
    assert all(key == key.lower() for key in URN_ALIASES)
