"""The directory's objects: Entra's attribute names and types, and the rows the store returns.

Attribute names are Microsoft Entra ID's (Graph's ``user`` resource as the
provisioning service's attribute list shows them), so that mappings copied from
Entra work unchanged. Files may spell them in any case (``UserPrincipalName``);
they are stored in Entra's spelling. Any other attribute a file brings is an
*extra*: kept as given and usable in mappings by its own name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson


class AttributeType(StrEnum):
    STRING = "string"
    BOOLEAN = "boolean"
    REFERENCE = "reference"  # another user: an objectId, or a userPrincipalName in files


USER_ATTRIBUTES: Mapping[str, AttributeType] = {
    "objectId": AttributeType.STRING,
    "userPrincipalName": AttributeType.STRING,
    "mail": AttributeType.STRING,
    "mailNickname": AttributeType.STRING,
    "displayName": AttributeType.STRING,
    "givenName": AttributeType.STRING,
    "surname": AttributeType.STRING,
    "jobTitle": AttributeType.STRING,
    "department": AttributeType.STRING,
    "employeeId": AttributeType.STRING,
    "manager": AttributeType.REFERENCE,
    "accountEnabled": AttributeType.BOOLEAN,
    "preferredLanguage": AttributeType.STRING,
    "telephoneNumber": AttributeType.STRING,
    "mobile": AttributeType.STRING,
    "facsimileTelephoneNumber": AttributeType.STRING,
    "streetAddress": AttributeType.STRING,
    "city": AttributeType.STRING,
    "state": AttributeType.STRING,
    "postalCode": AttributeType.STRING,
    "country": AttributeType.STRING,
    "physicalDeliveryOfficeName": AttributeType.STRING,
    "userType": AttributeType.STRING,
}

GROUP_ATTRIBUTES: Mapping[str, AttributeType] = {
    "objectId": AttributeType.STRING,
    "displayName": AttributeType.STRING,
    "mailNickname": AttributeType.STRING,
    "description": AttributeType.STRING,
}

# Column sizes in directory/tables.py, and a cap on any one value so that a stray
# blob in a file cannot bloat every row the engine reads.
MAX_OBJECT_ID = 64
MAX_NAME = 512  # userPrincipalName, group displayName
MAX_ROLE = 200
MAX_VALUE_BYTES = 64 * 1024

USER = "user"
GROUP = "group"
PRINCIPAL_TYPES = frozenset({USER, GROUP})

# Spelled as Entra does, or in any other case.
_USER_NAMES = {key: name for name in USER_ATTRIBUTES for key in (name, name.casefold())}
_GROUP_NAMES = {key: name for name in GROUP_ATTRIBUTES for key in (name, name.casefold())}
_IDENTIFIERS = frozenset({"objectId", "userPrincipalName"})
_SHORT = MAX_VALUE_BYTES // 4  # so many code points cannot exceed the limit in UTF-8
_SPACE = re.compile(r"\s")
# Extras are referenced as [name] in mapping expressions: no brackets, quotes or spaces.
_EXTRA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class DirectoryError(ValueError):
    """A directory operation was refused; the message says why."""


class UnknownObject(DirectoryError, LookupError):
    """No user or group has the given name or id."""


class AttributeProblem(DirectoryError):
    """One attribute value is unacceptable; ``field`` names it in Entra's spelling."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user as the directory holds it.

    ``attributes`` has every attribute under Entra's names, extras included, with
    ``objectId``, ``userPrincipalName``, ``accountEnabled`` and ``manager`` (the
    manager's objectId, absent when there is none) always matching the fields.
    """

    object_id: str
    user_principal_name: str
    account_enabled: bool
    manager_id: str | None
    attributes: dict[str, Any]
    deleted_at: datetime | None
    change_seq: int

    @property
    def soft_deleted(self) -> bool:
        """Entra's ``IsSoftDeleted``: deleted, restorable until purged."""
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A group; ``attributes`` holds objectId, displayName, mailNickname, description, extras."""

    object_id: str
    display_name: str
    attributes: dict[str, Any]
    deleted_at: datetime | None
    change_seq: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """An app-role assignment of a user or a group; ``deleted_at`` is set once unassigned."""

    app_id: int
    principal_type: str  # "user" or "group"
    principal_id: str
    role: str
    deleted_at: datetime | None
    change_seq: int


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A user or group that was hard-deleted (or purged) at ``change_seq``."""

    object_type: str  # "user" or "group"
    object_id: str
    change_seq: int


def parse_bool(value: object) -> bool:
    """Read a boolean from JSON or a CSV cell: true/false, 1/0, yes/no in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"expected true or false (or 1/0, yes/no), got {_show(value)}")


def _show(value: object) -> str:
    """Describe a bad value for a message: short, and in JSON's words."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "...'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "a list" if isinstance(value, list) else "an object"


def _check_text(field: str, value: str) -> None:
    # len(str) counts code points; a UTF-8 byte count needs the encode only when close.
    if len(value) * 4 > MAX_VALUE_BYTES:
        size = len(value.encode())
        if size > MAX_VALUE_BYTES:
            raise AttributeProblem(field, f"value is {size} bytes; the limit is {MAX_VALUE_BYTES}")
    # PostgreSQL cannot store U+0000 in text or JSONB.
    if "\x00" in value:
        raise AttributeProblem(field, "contains a NUL character")


def check_attribute_name(name: str) -> str:
    """Return an extra attribute's name if mapping expressions can refer to it as [name]."""
    if not _EXTRA_NAME.fullmatch(name):
        raise AttributeProblem(
            name or "(empty name)",
            "an attribute name starts with a letter or _ and holds letters, digits, _ . -",
        )
    return name


def _extra_value(field: str, value: object) -> object:
    if isinstance(value, str):
        _check_text(field, value)
    elif isinstance(value, list | dict):
        # Structured extras are kept as JSON; check them as they will be stored.
        encoded = orjson.dumps(value)
        if len(encoded) > MAX_VALUE_BYTES:
            raise AttributeProblem(
                field, f"value is {len(encoded)} bytes; the limit is {MAX_VALUE_BYTES}"
            )
        if b"\\u0000" in encoded:
            raise AttributeProblem(field, "contains a NUL character")
    return value


def check_upn(upn: str, field: str = "userPrincipalName") -> str:
    """Return ``upn`` if it has Entra's ``alias@domain`` shape, else raise AttributeProblem."""
    alias, at, domain = upn.rpartition("@")
    if not at or not alias or not domain or _SPACE.search(upn):
        raise AttributeProblem(field, f"{_show(upn)} is not of the form alias@domain")
    if len(upn) > MAX_NAME:
        raise AttributeProblem(field, f"longer than {MAX_NAME} characters")
    return upn


def check_object_id(object_id: str, field: str = "objectId") -> str:
    """Return ``object_id`` if it fits the directory's key column, else raise AttributeProblem."""
    if not object_id or len(object_id) > MAX_OBJECT_ID or _SPACE.search(object_id):
        raise AttributeProblem(
            field, f"{_show(object_id)} must be 1 to {MAX_OBJECT_ID} characters without spaces"
        )
    return object_id


def _typed(field: str, kind: AttributeType, value: object) -> object:
    if value is None or value == "":
        return None  # absent, null and an empty CSV cell all mean "no value"
    if kind is AttributeType.BOOLEAN:
        try:
            return parse_bool(value)
        except ValueError as exc:
            raise AttributeProblem(field, str(exc)) from None
    if not isinstance(value, str):
        raise AttributeProblem(field, f"expected a string, got {_show(value)}")
    _check_text(field, value)
    if field == "objectId":
        check_object_id(value)
    elif field == "userPrincipalName":
        check_upn(value)
    return value


def normalise_user(raw: Mapping[str, object]) -> dict[str, object]:
    """Return ``raw`` with Entra's spelling and types; a ``None`` value means "clear it".

    ``manager`` stays as given (an objectId or a userPrincipalName): the store
    resolves it. Raises AttributeProblem naming the first bad attribute.
    """
    return _normalise(raw, USER_ATTRIBUTES, _USER_NAMES)


def normalise_group(raw: Mapping[str, object]) -> dict[str, object]:
    """Return a group's attributes with Entra's spelling (``members`` is not an attribute)."""
    changes = _normalise(raw, GROUP_ATTRIBUTES, _GROUP_NAMES)
    name = changes.get("displayName")
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise AttributeProblem("displayName", f"longer than {MAX_NAME} characters")
    return changes


def _normalise(
    raw: Mapping[str, object],
    known: Mapping[str, AttributeType],
    spelling: Mapping[str, str],
) -> dict[str, object]:
    changes: dict[str, object] = {}
    for given, value in raw.items():
        name = spelling.get(given) or spelling.get(given.casefold())
        if name is None:
            changes[check_attribute_name(given)] = _extra_value(given, value)
        elif name in changes:
            raise AttributeProblem(name, f"given twice (as {given!r} too)")
        elif (
            # The common case, checked inline: imports run this for every attribute.
            value.__class__ is str
            and known[name] is AttributeType.STRING
            and name not in _IDENTIFIERS
            and len(value) < _SHORT
            and "\x00" not in value
        ):
            changes[name] = value or None
        else:
            changes[name] = _typed(name, known[name], value)
    return changes


def merge(current: Mapping[str, Any] | None, changes: Mapping[str, object]) -> dict[str, Any]:
    """Apply ``changes`` to a stored document: a key left out keeps its value, None clears it."""
    merged = dict(current) if current else {}
    for name, value in changes.items():
        if value is None or value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def user_document(
    current: Mapping[str, Any] | None, changes: Mapping[str, object], object_id: str
) -> dict[str, Any]:
    """Return the stored document of a user after ``changes`` (``manager`` already resolved).

    objectId, userPrincipalName and accountEnabled cannot be cleared: an empty
    value leaves them as they were, and a new user is enabled unless told otherwise.
    """
    document = merge(
        current, {k: v for k, v in changes.items() if v is not None or k not in _FIXED_USER}
    )
    document["objectId"] = object_id
    document.setdefault("accountEnabled", True)
    if "userPrincipalName" not in document:
        raise AttributeProblem("userPrincipalName", "required")
    if document.get("manager") == object_id:
        raise AttributeProblem("manager", "a user cannot be their own manager")
    return document


def group_document(
    current: Mapping[str, Any] | None, changes: Mapping[str, object], object_id: str
) -> dict[str, Any]:
    """Return the stored document of a group after ``changes``; displayName cannot be cleared."""
    document = merge(
        current, {k: v for k, v in changes.items() if v is not None or k not in _FIXED_GROUP}
    )
    document["objectId"] = object_id
    if "displayName" not in document:
        raise AttributeProblem("displayName", "required")
    return document


_FIXED_USER = frozenset({"objectId", "userPrincipalName", "accountEnabled"})
_FIXED_GROUP = frozenset({"objectId", "displayName"})
