"""PATCH semantics (RFC 7644 §3.5.2) and the request shapes Microsoft Entra ID sends.

Every RFC example and every Entra ID request the docs show is a data file under
``data/`` (``rfc7644-3.5.2*.json``, ``entra-patch-*.json``) holding the stored
document before, the request, the document after and, for groups, the member
changes the server runs; ``_source`` says where each request comes from.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from scimitar.scim.ast import AttrPath, Compare
from scimitar.scim.errors import (
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from scimitar.scim.group_members import MemberChange, split_member_operations
from scimitar.scim.patch import (
    PATCH_OP_URN,
    PatchOperation,
    apply_patch,
    parse_patch_request,
)
from scimitar.scim.resources import ENTERPRISE_USER_URN, GROUP, GROUP_URN, USER
from scimitar.scim.schema import Attribute, ResourceType, Schema

DATA = Path(__file__).parent / "data"
CASES = sorted([*DATA.glob("rfc7644-3.5.2*.json"), *DATA.glob("entra-patch-*.json")])
TYPES = {"User": USER, "Group": GROUP}
ENT = ENTERPRISE_USER_URN


def request(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


def patch(doc: dict[str, Any], *operations: dict[str, Any], rt: ResourceType = USER) -> Any:
    """Apply ``operations`` to ``doc``, checking ``doc`` is left as it was."""
    before = copy.deepcopy(doc)
    result = apply_patch(rt, doc, parse_patch_request(request(*operations)))
    assert doc == before
    return result


def fails(
    error: type[ScimError],
    doc: dict[str, Any],
    *operations: dict[str, Any],
    rt: ResourceType = USER,
) -> ScimError:
    """Apply ``operations``, expecting ``error`` and ``doc`` left as it was."""
    before = copy.deepcopy(doc)
    with pytest.raises(error) as caught:
        apply_patch(rt, doc, parse_patch_request(request(*operations)))
    assert doc == before
    return caught.value


def split(*operations: dict[str, Any]) -> tuple[list[PatchOperation], list[MemberChange]]:
    return split_member_operations(parse_patch_request(request(*operations)))


def without_members(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "members"}


BARBARA: dict[str, Any] = {
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "active": True,
}


# --- the RFC's examples and Entra ID's requests, from data files ---------------------


def test_every_rfc_example_and_entra_request_is_covered() -> None:
    names = {case.stem for case in CASES}
    assert len([n for n in names if n.startswith("rfc7644-3.5.2")]) == 11
    assert {"entra-patch-remove-member-legacy", "entra-patch-remove-member-flag"} <= names
    for case in CASES:
        source = json.loads(case.read_text())["_source"]
        assert source["url"].startswith("https://")
        assert source["section"]


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_request_produces_expected_document(case: Path) -> None:
    data = json.loads(case.read_text())
    rt = TYPES[data["resource_type"]]
    before = copy.deepcopy(data["before"])
    operations = parse_patch_request(data["request"])
    assert apply_patch(rt, data["before"], operations) == data["expected"]
    assert data["before"] == before


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if '"Group"' in c.read_text()],
    ids=lambda case: case.stem,
)
def test_group_request_splits_into_member_changes(case: Path) -> None:
    """The server's path: members as SQL changes, the rest applied to the document."""
    data = json.loads(case.read_text())
    rest, changes = split_member_operations(parse_patch_request(data["request"]))
    assert [
        {"kind": change.kind, "ids": [list(pair) for pair in change.ids]} for change in changes
    ] == data["expected_member_changes"]
    stored = without_members(data["before"])
    assert apply_patch(GROUP, stored, rest) == without_members(data["expected"])


# --- parsing the PatchOp message ------------------------------------------------------


def test_op_and_member_names_are_case_insensitive() -> None:
    body = {
        "SCHEMAS": [PATCH_OP_URN.upper()],
        "operations": [
            {"OP": "ADD", "Path": "nickName", "VALUE": "Babs"},
            {"op": "Replace", "path": "title", "value": "Tour Guide"},
            {"op": "rEmOvE", "path": "displayName"},
        ],
    }
    assert [(o.op, o.path is not None) for o in parse_patch_request(body)] == [
        ("add", True),
        ("replace", True),
        ("remove", True),
    ]


@pytest.mark.parametrize(
    "body",
    [
        [],
        "add",
        {"Operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []},
        {"schemas": PATCH_OP_URN, "Operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"schemas": [PATCH_OP_URN]},
        {"schemas": [PATCH_OP_URN], "Operations": []},
        {"schemas": [PATCH_OP_URN], "Operations": {"op": "add"}},
        {"schemas": [PATCH_OP_URN], "Operations": ["add"]},
        {"schemas": [PATCH_OP_URN], "Operations": [{"op": "delete", "path": "title"}]},
        {"schemas": [PATCH_OP_URN], "Operations": [{"path": "title", "value": "x"}]},
    ],
    ids=[
        "list body",
        "string body",
        "no schemas",
        "wrong schema",
        "schemas not a list",
        "no Operations",
        "empty Operations",
        "Operations not a list",
        "operation not an object",
        "unknown op",
        "no op",
    ],
)
def test_malformed_message_is_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidSyntax):
        parse_patch_request(body)


def test_too_many_operations_is_invalid_value_naming_the_limit() -> None:
    body = request(*[{"op": "add", "path": "title", "value": str(i)} for i in range(3)])
    assert len(parse_patch_request(body, max_operations=3)) == 3
    with pytest.raises(InvalidValue, match="at most 2"):
        parse_patch_request(body, max_operations=2)


@pytest.mark.parametrize("path", [None, "", "  "])
def test_remove_without_path_is_no_target(path: str | None) -> None:
    operation: dict[str, Any] = {"op": "remove"}
    if path is not None:
        operation["path"] = path
    with pytest.raises(NoTarget, match="remove"):
        parse_patch_request(request(operation))


def test_add_and_replace_need_a_value() -> None:
    for op in ("add", "replace"):
        with pytest.raises(InvalidValue, match="value"):
            parse_patch_request(request({"op": op, "path": "title"}))


def test_path_less_value_must_be_an_object() -> None:
    with pytest.raises(InvalidValue, match="object"):
        parse_patch_request(request({"op": "replace", "value": "Babs"}))


def test_bad_path_is_invalid_path_naming_the_operation() -> None:
    with pytest.raises(InvalidPath, match=r"^operation 2: "):
        parse_patch_request(
            request(
                {"op": "add", "path": "title", "value": "x"},
                {"op": "add", "path": 'emails[type eq "work"', "value": "x"},
            )
        )
    with pytest.raises(InvalidPath):
        parse_patch_request(request({"op": "add", "path": 7, "value": "x"}))


def test_empty_path_means_the_resource() -> None:
    (operation,) = parse_patch_request(request({"op": "add", "path": "", "value": {"title": "x"}}))
    assert operation.path is None


# --- add (RFC 7644 §3.5.2.1) ----------------------------------------------------------


def test_add_sets_a_simple_attribute_and_replaces_an_existing_one() -> None:
    doc = patch(BARBARA, {"op": "add", "path": "title", "value": "Tour Guide"})
    assert doc["title"] == "Tour Guide"
    assert patch(doc, {"op": "add", "path": "title", "value": "Guide"})["title"] == "Guide"


def test_add_appends_to_a_multi_valued_attribute_skipping_values_already_there() -> None:
    other = {"value": "barbara@example.org", "type": "other"}
    doc = patch(
        BARBARA,
        {"op": "add", "path": "emails", "value": [BARBARA["emails"][1], other]},
    )
    assert doc["emails"] == [*BARBARA["emails"], other]


def test_add_merges_a_complex_attribute() -> None:
    doc = patch(BARBARA, {"op": "add", "path": "name", "value": {"middleName": "Jane"}})
    assert doc["name"] == {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"}


def test_add_of_a_value_already_there_changes_nothing() -> None:
    assert patch(BARBARA, {"op": "add", "path": "name.givenName", "value": "Barbara"}) == BARBARA


def test_add_with_filter_and_sub_attribute_creates_the_value_when_none_matches() -> None:
    # Entra ID: emails[type eq "work"].value for a user without a work email.
    doc = {"userName": "bjensen"}
    created = patch(doc, {"op": "add", "path": 'emails[type eq "work"].value', "value": "a@b.c"})
    assert created["emails"] == [{"type": "work", "value": "a@b.c"}]
    again = patch(created, {"op": "add", "path": 'emails[type eq "work"].value', "value": "x@b.c"})
    assert again["emails"] == [{"type": "work", "value": "x@b.c"}]
    whole = patch(
        doc, {"op": "add", "path": 'addresses[type eq "work"]', "value": {"region": "CA"}}
    )
    assert whole["addresses"] == [{"type": "work", "region": "CA"}]


def test_add_with_filter_merges_into_matching_values() -> None:
    doc = patch(
        BARBARA,
        {"op": "add", "path": 'emails[type eq "home"]', "value": {"display": "Home"}},
    )
    assert doc["emails"][1] == {"value": "babs@jensen.org", "type": "home", "display": "Home"}


def test_path_less_add_nests_extension_attributes_under_their_urn() -> None:
    doc = patch(
        BARBARA,
        {"op": "add", "value": {ENT: {"department": "Tour Operations", "costCenter": "4130"}}},
    )
    assert doc[ENT] == {"department": "Tour Operations", "costCenter": "4130"}


# --- replace (RFC 7644 §3.5.2.3) ------------------------------------------------------


def test_replace_of_a_multi_valued_attribute_replaces_every_value() -> None:
    emails = [{"value": "new@example.com", "type": "work"}]
    assert patch(BARBARA, {"op": "replace", "path": "emails", "value": emails})["emails"] == emails


def test_replace_of_a_complex_attribute_keeps_sub_attributes_not_given() -> None:
    doc = patch(BARBARA, {"op": "replace", "path": "name", "value": {"familyName": "Smith"}})
    assert doc["name"] == {"givenName": "Barbara", "familyName": "Smith"}


def test_replace_with_filter_and_sub_attribute_changes_every_match() -> None:
    doc = {**BARBARA, "emails": [*BARBARA["emails"], {"value": "b@example.org", "type": "work"}]}
    out = patch(doc, {"op": "replace", "path": 'emails[type eq "work"].display', "value": "Work"})
    assert [e.get("display") for e in out["emails"]] == ["Work", None, "Work"]


def test_replace_with_filter_no_match_and_no_eq_filter_is_no_target() -> None:
    error = fails(
        NoTarget,
        BARBARA,
        {"op": "replace", "path": 'emails[value co "nowhere"].type', "value": "other"},
    )
    assert "operation 1" in error.detail
    assert "emails" in error.detail


def test_replace_with_filter_keeps_the_filter_terms_when_the_value_omits_them() -> None:
    doc = patch(
        BARBARA,
        {"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "h@b.c"}},
    )
    assert doc["emails"][1] == {"type": "home", "value": "h@b.c"}


def test_replace_with_null_unassigns() -> None:
    assert "active" not in patch(BARBARA, {"op": "replace", "path": "active", "value": None})


def test_path_less_replace_with_extension_object_and_schemas_key() -> None:
    doc = patch(
        {**BARBARA, ENT: {"employeeNumber": "1", "department": "Sales"}},
        {
            "op": "replace",
            "value": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                ENT.upper(): {"department": "Tours"},
            },
        },
    )
    assert doc[ENT] == {"employeeNumber": "1", "department": "Tours"}


def test_attribute_names_match_in_any_case_and_are_stored_canonically() -> None:
    doc = patch(
        BARBARA,
        {"op": "replace", "path": "NAME.GIVENNAME", "value": "Babs"},
        {"op": "replace", "path": 'EMAILS[TYPE eq "home"].VALUE', "value": "h@b.c"},
        {"op": "add", "value": {"NickName": "B", "name": {"HonorificPrefix": "Ms."}}},
        {"op": "add", "path": f"{ENT.lower()}:EMPLOYEENUMBER", "value": "7"},
    )
    assert doc["name"] == {"givenName": "Babs", "familyName": "Jensen", "honorificPrefix": "Ms."}
    assert doc["emails"][1]["value"] == "h@b.c"
    assert doc["nickName"] == "B"
    assert doc[ENT] == {"employeeNumber": "7"}


# --- remove (RFC 7644 §3.5.2.2) -------------------------------------------------------


def test_remove_unassigns_and_removing_what_is_absent_is_no_error() -> None:
    doc = patch(BARBARA, {"op": "remove", "path": "emails"}, {"op": "remove", "path": "title"})
    assert "emails" not in doc
    assert doc["userName"] == "bjensen"


def test_remove_of_a_sub_attribute_of_matching_values() -> None:
    doc = patch(BARBARA, {"op": "remove", "path": 'emails[type eq "work"].primary'})
    assert doc["emails"][0] == {"value": "bjensen@example.com", "type": "work"}


def test_remove_of_the_last_value_unassigns_the_attribute() -> None:
    doc = patch(
        BARBARA, {"op": "remove", "path": 'emails[value ew "example.com" or type eq "home"]'}
    )
    assert "emails" not in doc


def test_remove_of_the_last_extension_attribute_drops_the_extension() -> None:
    doc = patch({**BARBARA, ENT: {"department": "Tours"}}, {"op": "remove", "path": "department"})
    assert ENT not in doc


# --- the extension as a whole: its URN as the path (scim2-tester sends these) -----------

ALIAS = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"  # Entra ID's misspelling
STAFF = {**BARBARA, ENT: {"employeeNumber": "1", "manager": {"value": "m1", "$ref": "../m1"}}}


@pytest.mark.parametrize("path", [ENT, ENT.upper(), ALIAS])
def test_add_on_the_extension_urn_merges_into_the_extension(path: str) -> None:
    doc = patch(STAFF, {"op": "add", "path": path, "value": {"department": "Tours"}})
    assert doc[ENT] == {**STAFF[ENT], "department": "Tours"}
    # The same as the path-less form with the URN as a key.
    assert doc == patch(STAFF, {"op": "add", "value": {ENT: {"department": "Tours"}}})


def test_replace_on_the_extension_urn_replaces_the_given_attributes_only() -> None:
    doc = patch(
        STAFF,
        {"op": "replace", "path": ENT, "value": {"manager": {"value": "m2"}, "division": "D"}},
    )
    # §3.5.2.3: given sub-attributes are replaced, the others left unchanged.
    assert doc[ENT] == {"employeeNumber": "1", "manager": {"value": "m2"}, "division": "D"}
    assert patch({"userName": "u"}, {"op": "replace", "path": ENT, "value": {"division": "D"}}) == {
        "userName": "u",
        ENT: {"division": "D"},
    }


def test_remove_on_the_extension_urn_drops_the_whole_extension() -> None:
    assert patch(STAFF, {"op": "remove", "path": ENT}) == BARBARA
    assert patch(BARBARA, {"op": "remove", "path": ALIAS}) == BARBARA  # absent: no error


@pytest.mark.parametrize(
    ("operation", "error", "message"),
    [
        (
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:x:2.0:User", "value": {}},
            InvalidPath,
            "is not an extension of User resources (theirs: " + ENT,
        ),
        (
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User", "value": {}},
            InvalidPath,
            "is not an extension of User resources",
        ),
        ({"op": "remove", "path": f"{ENT}:"}, InvalidPath, "is a schema URN"),
        # The old Entra ID dot notation names no extension and no attribute path.
        ({"op": "add", "path": f"{ENT}.employeeNumber", "value": "7"}, InvalidPath, "schema URN"),
        ({"op": "add", "path": ENT, "value": "Tours"}, InvalidValue, "must be an object"),
        (
            {"op": "remove", "path": ENT, "value": {"department": "Tours"}},
            InvalidValue,
            "takes no value",
        ),
    ],
    ids=[
        "unknown extension",
        "core schema",
        "trailing colon",
        "dot notation",
        "not an object",
        "remove value",
    ],
)
def test_bad_operations_on_an_extension_urn(
    operation: dict[str, Any], error: type[ScimError], message: str
) -> None:
    assert message in fails(error, STAFF, operation).detail


def test_an_extension_urn_on_a_resource_without_extensions_is_invalid_path() -> None:
    group = {"displayName": "G"}
    operation = {"op": "add", "path": ENT, "value": {"members": [{"value": "u1"}]}}
    rest, changes = split(operation)
    assert changes == []  # the value's "members" is no group membership
    assert rest[0].schema_urn == ENT
    error = fails(InvalidPath, group, operation, rt=GROUP)
    assert "is not an extension of Group resources (they have none)" in error.detail


def test_remove_with_a_value_removes_only_those_values() -> None:
    doc = patch(
        BARBARA, {"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}
    )
    assert doc["emails"] == BARBARA["emails"][:1]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "userName"},
        {"op": "replace", "path": "userName", "value": None},
        {"op": "replace", "value": {"userName": None}},
    ],
    ids=["remove", "replace with null", "path-less replace with null"],
)
def test_removing_a_required_attribute_is_mutability(operation: dict[str, Any]) -> None:
    # RFC 7644 §3.5.2.2: "removed or becomes unassigned and is defined as a required
    # attribute ... "mutability"".
    error = fails(Mutability, BARBARA, operation)
    assert "userName" in error.detail


def test_removing_a_groups_display_name_is_mutability() -> None:
    fails(
        Mutability,
        {"displayName": "Tour Guides"},
        {"op": "remove", "path": "displayName"},
        rt=GROUP,
    )


# --- mutability -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "groups", "value": [{"value": "g1"}]},
        {"op": "replace", "path": "id", "value": "other"},
        {"op": "replace", "path": "meta.created", "value": "2011-05-13T04:42:34Z"},
        {"op": "replace", "value": {"id": "other"}},
        {"op": "remove", "path": "groups"},
        {"op": "replace", "path": "manager.displayName", "value": "John"},
    ],
    ids=[
        "add groups",
        "replace id",
        "replace meta.created",
        "path-less id",
        "remove groups",
        "manager.displayName",
    ],
)
def test_read_only_attributes_cannot_be_written(operation: dict[str, Any]) -> None:
    error = fails(Mutability, BARBARA, operation)
    assert "read-only" in error.detail


IMMUTABLE = ResourceType(
    name="Badge",
    endpoint="/Badges",
    description="A resource with an immutable attribute",
    schema=Schema(
        id="urn:example:params:scim:schemas:Badge",
        name="Badge",
        description="Badge",
        attributes=(
            Attribute("holder", required=True),
            Attribute("serial", mutability="immutable"),
        ),
    ),
)


def test_immutable_attribute_may_be_added_when_unset_but_not_changed() -> None:
    doc = patch({"holder": "b"}, {"op": "add", "path": "serial", "value": "S1"}, rt=IMMUTABLE)
    assert doc == {"holder": "b", "serial": "S1"}
    assert patch(doc, {"op": "replace", "path": "serial", "value": "S1"}, rt=IMMUTABLE) == doc
    fails(Mutability, doc, {"op": "replace", "path": "serial", "value": "S2"}, rt=IMMUTABLE)
    fails(Mutability, doc, {"op": "remove", "path": "serial"}, rt=IMMUTABLE)


def test_removing_a_required_extension_is_mutability() -> None:
    badge_ext = Schema(
        id="urn:ietf:params:scim:schemas:extension:badge:2.0:Badge",
        name="BadgeExtension",
        description="A required extension",
        attributes=(Attribute("colour"),),
    )
    required = ResourceType(
        name="Badge",
        endpoint="/Badges",
        description="A resource with a required extension",
        schema=IMMUTABLE.schema,
        extensions=((badge_ext, True),),
    )
    doc = {"holder": "b", badge_ext.id: {"colour": "red"}}
    error = fails(Mutability, doc, {"op": "remove", "path": badge_ext.id}, rt=required)
    assert "required" in error.detail


def test_member_values_are_immutable_in_place() -> None:
    group = {"displayName": "G", "members": [{"value": "u1"}]}
    for operation in (
        {"op": "replace", "path": 'members[value eq "u1"].value', "value": "u2"},
        {"op": "replace", "path": 'members[value eq "u1"]', "value": {"value": "u2"}},
    ):
        fails(Mutability, group, operation, rt=GROUP)


# --- values: types, primary, Entra ID's shapes ----------------------------------------


def test_boolean_strings_are_coerced() -> None:
    assert patch(BARBARA, {"op": "replace", "path": "active", "value": "False"})["active"] is False
    assert patch(BARBARA, {"op": "replace", "value": {"active": "TRUE"}})["active"] is True


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "active", "value": "maybe"},
        {"op": "replace", "path": "nickName", "value": 5},
        {"op": "add", "path": "name", "value": "Barbara"},
        {"op": "replace", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]},
    ],
    ids=["not a boolean", "not a string", "not an object", "two managers"],
)
def test_values_a_post_would_reject_are_invalid_value(operation: dict[str, Any]) -> None:
    fails(InvalidValue, BARBARA, operation)


def test_setting_primary_clears_it_on_the_other_values() -> None:
    # RFC 7644 §3.5.2: the server "SHALL ... automatically set "primary" to "false" for
    # any other values in the array".
    doc = patch(BARBARA, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})
    assert [e["primary"] for e in doc["emails"]] == [False, True]
    added = patch(
        BARBARA, {"op": "add", "path": "emails", "value": {"value": "n@b.c", "primary": True}}
    )
    assert [e.get("primary") for e in added["emails"]] == [False, None, True]


def test_two_primary_values_in_one_request_are_invalid_value() -> None:
    value = [{"value": "a@b.c", "primary": True}, {"value": "d@e.f", "primary": True}]
    error = fails(InvalidValue, BARBARA, {"op": "replace", "path": "emails", "value": value})
    assert error.detail.startswith("the patched resource: ")


def test_single_app_role_assignment_paths_create_and_edit_the_primary_role() -> None:
    # Entra ID's SingleAppRoleAssignment targets roles[primary eq "True"].value/.display,
    # and Microsoft's tutorial writes roles[primary eq "True".value].
    doc = patch(
        BARBARA,
        {"op": "Add", "path": 'roles[primary eq "True"].value', "value": "User"},
        {"op": "Add", "path": 'roles[primary eq "true".display]', "value": "User"},
    )
    assert doc["roles"] == [{"primary": True, "value": "User", "display": "User"}]
    changed = patch(
        doc, {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Admin"}
    )
    assert changed["roles"] == [{"primary": True, "value": "Admin", "display": "User"}]


def test_roles_sent_as_one_json_encoded_string_are_decoded() -> None:
    value = '[{"value":"User","primary":true},{"value":"Test","displayName":"Test"}]'
    doc = patch(BARBARA, {"op": "add", "path": "roles", "value": value})
    assert doc["roles"] == [
        {"value": "User", "primary": True},
        {"value": "Test", "display": "Test"},
    ]


ENTRA_ROLE = "WindowsAzureActiveDirectoryRole"


def test_a_role_added_again_in_another_form_updates_the_role_it_names() -> None:
    # Entra ID's AppRoleAssignmentsComplex: POST form, then the PATCH form of the same
    # roles (customize-application-attributes, "Provisioning a role to a SCIM app").
    posted = [
        {"primary": False, "type": ENTRA_ROLE, "display": name, "value": name}
        for name in ("Admin", "User")
    ]
    encoded = [
        {"value": json.dumps({"id": str(i), "value": name, "displayName": name})}
        for i, name in enumerate(("Admin", "User"))
    ]
    doc = patch({**BARBARA, "roles": posted}, {"op": "Add", "path": "roles", "value": encoded})
    assert doc["roles"] == posted
    # A role named by its value (case-insensitively, as roles.value is not caseExact)
    # takes the sub-attributes sent; primary then moves to it alone (§3.5.2).
    doc = patch(doc, {"op": "add", "path": "roles", "value": {"value": "user", "primary": True}})
    assert doc["roles"] == [
        posted[0],
        {"primary": True, "type": ENTRA_ROLE, "display": "User", "value": "user"},
    ]


def test_a_role_of_another_type_is_another_role() -> None:
    stored = {**BARBARA, "roles": [{"value": "Admin", "type": ENTRA_ROLE}]}
    other = {"value": "Admin", "type": "local"}
    doc = patch(stored, {"op": "add", "path": "roles", "value": [other, {"value": "Admin"}]})
    assert doc["roles"] == [{"value": "Admin", "type": ENTRA_ROLE}, other]


def test_entitlements_merge_by_value_and_replace_keeps_one_of_each() -> None:
    doc = patch(
        BARBARA,
        {"op": "add", "path": "entitlements", "value": [{"value": "vpn"}]},
        {"op": "add", "path": "entitlements", "value": [{"value": "vpn", "display": "VPN"}]},
    )
    assert doc["entitlements"] == [{"value": "vpn", "display": "VPN"}]
    doc = patch(
        BARBARA,
        {"op": "replace", "path": "roles", "value": [{"value": "A"}, {"value": "A", "type": "t"}]},
    )
    assert doc["roles"] == [{"value": "A", "type": "t"}]


def test_an_email_with_the_same_address_but_another_type_is_another_email() -> None:
    # RFC 7643 §2.4: "type" labels the value's function, so a work and a home email
    # may share an address; only an exact repeat is no change (§3.5.2.1).
    work = BARBARA["emails"][0]
    home = {"value": work["value"], "type": "home"}
    doc = patch(BARBARA, {"op": "add", "path": "emails", "value": [home, work]})
    assert doc["emails"] == [*BARBARA["emails"], home]


@pytest.mark.parametrize(
    "shape",
    ["{id}", {"value": "{id}"}, [{"value": "{id}", "$ref": None}]],
    ids=["bare id", "object", "list of one"],
)
def test_manager_shapes(shape: Any) -> None:
    def manager(manager_id: str) -> Any:
        return json.loads(json.dumps(shape).replace("{id}", manager_id))

    stored = {**BARBARA, ENT: {"manager": {"value": "m1", "$ref": "../Users/m1"}}}
    doc = patch(stored, {"op": "replace", "path": f"{ENT}:manager", "value": manager("m2")})
    # Another manager: the old $ref must not survive beside the new id.
    assert doc[ENT]["manager"] == {"value": "m2"}
    same = patch(stored, {"op": "replace", "path": "manager", "value": manager("m1")})
    assert same[ENT]["manager"] == {"value": "m1", "$ref": "../Users/m1"}


# --- paths that name nothing ----------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "favouriteColour", "value": "red"},
        {"op": "add", "path": "name.nickname", "value": "B"},
        {"op": "add", "path": 'name[givenName eq "B"].familyName', "value": "x"},
        {"op": "add", "path": 'emails[colour eq "red"].value', "value": "x"},
        {"op": "add", "path": 'emails[type eq "work"].colour', "value": "x"},
        {"op": "remove", "path": f"{ENT}:favouriteColour"},
    ],
    ids=[
        "unknown attribute",
        "unknown sub-attribute",
        "filter on single-valued",
        "unknown filter name",
        "unknown element sub-attribute",
        "unknown extension attribute",
    ],
)
def test_path_to_no_attribute_is_invalid_path(operation: dict[str, Any]) -> None:
    fails(InvalidPath, BARBARA, operation)


def test_attributes_of_unserved_schemas_and_unknown_keys_are_ignored_as_post_does() -> None:
    custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
    doc = patch(
        BARBARA,
        {"op": "Add", "path": f"{custom}:tag", "value": "701984"},
        {"op": "Replace", "value": {f"{custom}:tag": "7", custom: {"tag": "7"}, "colour": "red"}},
    )
    assert doc == BARBARA


# --- atomicity ------------------------------------------------------------------------


def test_a_failing_third_operation_leaves_the_document_untouched() -> None:
    doc = copy.deepcopy(BARBARA)
    error = fails(
        Mutability,
        doc,
        {"op": "replace", "path": "name.givenName", "value": "Babs"},
        {"op": "add", "path": "emails", "value": {"value": "n@b.c", "primary": True}},
        {"op": "remove", "path": "userName"},
    )
    assert error.detail.startswith("operation 3: ")
    assert doc == BARBARA


def test_the_result_is_a_new_document_sharing_nothing_with_the_input() -> None:
    doc = copy.deepcopy(BARBARA)
    out = patch(doc, {"op": "replace", "path": "title", "value": "x"})
    out["emails"][0]["value"] = "changed"
    out["name"]["givenName"] = "changed"
    assert doc == BARBARA


# --- group members --------------------------------------------------------------------


def test_member_filters_become_removals_by_id_or_by_filter() -> None:
    _rest, changes = split(
        {"op": "remove", "path": 'members[value eq "u1"]'},
        {"op": "remove", "path": 'members[value eq "u2" or value eq "u3"]'},
        {"op": "remove", "path": 'members[value eq "g1" and type eq "group"]'},
        {"op": "remove", "path": 'members[type eq "Group"]'},
    )
    assert changes[:3] == [
        MemberChange("remove", (("u1", None),)),
        MemberChange("remove", (("u2", None), ("u3", None))),
        MemberChange("remove", (("g1", "Group"),)),
    ]
    assert changes[3].kind == "remove_matching"
    assert changes[3].ids == ()
    assert changes[3].filter == Compare(AttrPath("type"), "eq", "Group")


def test_path_less_member_values_are_split_from_the_other_attributes() -> None:
    rest, changes = split(
        {
            "op": "add",
            "value": {"displayName": "New", "Members": [{"value": "u1", "type": "USER"}]},
        },
        {"op": "replace", "value": {f"{GROUP_URN}:members": [{"value": "u2"}]}},
        {"op": "replace", "path": "externalId", "value": "e1"},
    )
    assert changes == [
        MemberChange("add", (("u1", "User"),)),
        MemberChange("replace_all", (("u2", None),)),
    ]
    assert [(o.op, o.value) for o in rest] == [("add", {"displayName": "New"}), ("replace", "e1")]
    assert apply_patch(GROUP, {"displayName": "Old"}, rest) == {
        "displayName": "New",
        "externalId": "e1",
    }


def test_member_changes_keep_request_order_and_drop_repeats() -> None:
    _rest, changes = split(
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "a"}]},
        {"op": "remove", "path": f"{GROUP_URN}:members"},
        {"op": "replace", "path": "MEMBERS", "value": []},
        {"op": "add", "path": "members", "value": []},
    )
    assert changes == [
        MemberChange("add", (("a", None), ("b", None))),
        MemberChange("remove_all"),
        MemberChange("replace_all"),
    ]


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "add", "path": "members", "value": [{"display": "Babs"}]}, InvalidValue),
        ({"op": "add", "path": "members", "value": [{"value": 42}]}, InvalidValue),
        ({"op": "add", "path": "members", "value": ["u1"]}, InvalidValue),
        (
            {"op": "add", "path": "members", "value": [{"value": "u1", "type": "Robot"}]},
            InvalidValue,
        ),
        ({"op": "replace", "path": "members.value", "value": "u2"}, Mutability),
        ({"op": "add", "path": 'members[value eq "u1"]', "value": {"value": "u1"}}, Mutability),
        ({"op": "remove", "path": 'members[value eq "u1"].display'}, Mutability),
        ({"op": "remove", "path": 'members[colour eq "red"]'}, InvalidPath),
    ],
    ids=[
        "no value",
        "value not a string",
        "bare string",
        "bad type",
        "members.value",
        "add by filter",
        "edit by filter",
        "unknown filter name",
    ],
)
def test_bad_member_operations(operation: dict[str, Any], error: type[ScimError]) -> None:
    with pytest.raises(error):
        split(operation)


def test_operations_not_touching_members_pass_through_unchanged() -> None:
    operations = parse_patch_request(
        request(
            {"op": "replace", "path": "displayName", "value": "G"},
            {"op": "replace", "value": {"externalId": "e"}},
        )
    )
    rest, changes = split_member_operations(operations)
    assert rest == operations
    assert changes == []
