"""``plain_assignments``: the PATCHes whose result does not depend on the stored document.

For those, the server merges the values into the stored document in one UPDATE
(``server/store/patch_in_place.py``) instead of applying the request in Python. The
claim to hold: whenever ``plain_assignments`` returns values, the stored document
with them merged in is exactly what ``apply_patch`` makes of it; and whenever
``apply_patch`` refuses a request, ``plain_assignments`` returns None, so the error
comes from ``apply_patch`` alone. It is checked on every single operation below,
every pair of them, against several stored documents.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from scimitar.scim.errors import ScimError
from scimitar.scim.patch import PATCH_OP_URN, apply_patch, parse_patch_request
from scimitar.scim.plain_patch import plain_assignments
from scimitar.scim.resources import ENTERPRISE_USER_URN, USER

ENT = ENTERPRISE_USER_URN
DATA = Path(__file__).parent / "data"

STORED: list[dict[str, Any]] = [
    {"userName": "bjensen"},
    {
        "userName": "bjensen",
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": True,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "roles": [{"value": "User", "primary": True}],
        ENT: {"department": "Tour Operations", "manager": {"value": "26118915-6090"}},
    },
    {"userName": "plain", "active": False, ENT: {"employeeNumber": "701984"}},
]

OPERATIONS: list[dict[str, Any]] = [
    # Plain: simple, singular, readWrite attributes (or sub-attributes of name).
    {"op": "Replace", "path": "displayName", "value": "Ryan Leenay"},
    {"op": "replace", "path": "active", "value": False},
    {"op": "Replace", "path": "active", "value": "False"},  # Entra ID without aadOptscim062020
    {"op": "Add", "path": "nickName", "value": "Babs"},
    {"op": "add", "path": "title", "value": ["Manager"]},  # one value in a list
    {"op": "replace", "path": "TITLE", "value": "Director"},  # names match in any case
    {"op": "replace", "path": "externalId", "value": "6c75de36"},
    {"op": "Add", "path": f"{ENT}:department", "value": "Sales"},
    {"op": "replace", "path": f"{ENT}:employeeNumber", "value": "42"},
    {"op": "replace", "path": "employeeNumber", "value": "43"},  # the extension's, bare
    {
        "op": "replace",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
        "value": "4130",
    },
    {"op": "replace", "path": "profileUrl", "value": "https://login.example.com/bjensen"},
    {"op": "Replace", "path": "name.givenName", "value": "Ryan"},
    {"op": "replace", "path": "NAME.familyName", "value": ["Leenay"]},
    # Path-less, as Entra ID sends several attributes with aadOptscim062020.
    {"op": "replace", "value": {"displayName": "Ryan"}},
    {
        "op": "replace",
        "value": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "name.givenName": "Kkom",
            f"{ENT}:employeeNumber": "Aklq",
        },
    },
    {"op": "Add", "value": {ENT: {"department": "Sales"}, "urn:example:custom:2.0:User:x": "7"}},
    # Not plain: they depend on the document, or are refused, or change more than a value.
    {"op": "replace", "path": "userName", "value": "someone"},  # unique
    {"op": "replace", "path": "password", "value": "t1meMa$heen"},  # writeOnly, hashed
    {"op": "replace", "path": "id", "value": "x"},  # readOnly
    {"op": "remove", "path": "title"},
    {"op": "replace", "path": "title", "value": None},
    {"op": "replace", "path": "title", "value": []},
    {"op": "replace", "path": "title", "value": [None]},
    {"op": "replace", "path": "title", "value": ["a", "b"]},
    {"op": "replace", "path": "title", "value": 7},
    {"op": "replace", "path": "active", "value": "maybe"},
    {"op": "replace", "path": "title", "value": "x" * 70_000},
    {"op": "replace", "path": "name.givenName", "value": 7},
    {"op": "replace", "path": "name.givenName", "value": ["a", "b"]},
    {"op": "replace", "path": "name", "value": {"givenName": "Ryan"}},
    {"op": "replace", "path": f"{ENT}:manager.value", "value": "26118915"},
    {"op": "replace", "path": 'emails[type eq "work"].value', "value": "r@example.com"},
    {"op": "add", "path": "emails", "value": [{"value": "r@example.com"}]},
    {"op": "add", "path": "roles", "value": '[{"value": "User"}]'},
    {"op": "replace", "path": f"{ENT}:manager", "value": "26118915"},
    {"op": "replace", "path": "nosuchattribute", "value": "x"},
    {"op": "replace", "path": "urn:example:unknown:2.0:User:badge", "value": "x"},
    {"op": "replace", "path": ENT, "value": {"department": "Sales"}},
    {"op": "replace", "value": {"displayName": None}},
    {"op": "replace", "value": {"emails": [{"value": "r@example.com"}]}},
    {"op": "replace", "value": {"nosuchattribute": "x"}},
]


PLAIN = 17  # the first operations above, the plain ones


def _request(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


def merged_like_postgresql(doc: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """What the UPDATE writes: values replace the document's, extension objects merged."""
    result = dict(doc)
    for key, value in values.items():
        result[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    return result


def _check(doc: dict[str, Any], operations: tuple[dict[str, Any], ...]) -> bool:
    """Check the claim for one request on one document; return whether it was plain."""
    parsed = parse_patch_request(_request(*operations))
    values = plain_assignments(USER, parsed)
    try:
        expected = apply_patch(USER, doc, parsed)
    except ScimError:
        assert values is None, operations
        return False
    if values is None:
        return False
    assert merged_like_postgresql(doc, values) == expected, operations
    return True


@pytest.mark.parametrize("doc", STORED, ids=["minimal", "full", "enterprise"])
def test_plain_values_merged_are_what_apply_patch_makes(doc: dict[str, Any]) -> None:
    singles = [_check(doc, (operation,)) for operation in OPERATIONS]
    assert singles == [index < PLAIN for index in range(len(OPERATIONS))]
    for first, second in itertools.product(range(len(OPERATIONS)), repeat=2):
        plain = _check(doc, (OPERATIONS[first], OPERATIONS[second]))
        # A bad value that the next operation replaces is no error (for either path).
        assert plain or not (first < PLAIN and second < PLAIN)


def test_the_last_of_several_values_for_one_attribute_wins() -> None:
    parsed = parse_patch_request(
        _request(
            {"op": "replace", "path": "title", "value": "first"},
            {"op": "replace", "path": "Title", "value": "second"},
        )
    )
    assert plain_assignments(USER, parsed) == {"title": "second"}


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("entra-patch-disable-user", True),
        ("entra-patch-disable-user-flag", True),
        ("entra-patch-disable-user-legacy", True),
        ("entra-patch-add-single-value-flag", True),
        ("entra-patch-add-single-value-legacy", True),
        ("entra-patch-update-user-single-valued", False),  # userName
        ("entra-patch-update-user-multi-valued", False),  # emails[type eq "work"]
        ("entra-patch-add-manager", False),
        ("entra-patch-replace-attributes-flag", False),
    ],
)
def test_entra_requests(name: str, plain: bool) -> None:
    data = json.loads((DATA / f"{name}.json").read_text())
    parsed = parse_patch_request(data["request"])
    values = plain_assignments(USER, parsed)
    assert (values is not None) == plain
    if values is not None:
        assert merged_like_postgresql(data["before"], values) == data["expected"]
