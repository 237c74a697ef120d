"""Entra's provisioning error codes and what an administrator should do about each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final


class ErrorCode:
    """Entra's provisioning error codes (its "Error codes" table) plus its skip reason."""

    CONFLICT: Final = "Conflict"
    ENTRY_CONFLICT: Final = "EntryConflict"
    TOO_MANY_REQUESTS: Final = "TooManyRequests"
    INTERNAL_SERVER_ERROR: Final = "InternalServerError"
    INSUFFICIENT_RIGHTS: Final = "InsufficientRights"
    METHOD_NOT_ALLOWED: Final = "MethodNotAllowed"
    NOT_PERMITTED: Final = "NotPermitted"
    UNAUTHORIZED: Final = "Unauthorized"
    UNPROCESSABLE_ENTITY: Final = "UnprocessableEntity"
    WEB_EXCEPTION_PROTOCOL_ERROR: Final = "WebExceptionProtocolError"
    INVALID_ANCHOR: Final = "InvalidAnchor"
    NOT_IMPLEMENTED: Final = "NotImplemented"
    MANDATORY_FIELDS_MISSING: Final = "MandatoryFieldsMissing"
    MISSING_VALUES: Final = "MissingValues"
    SCHEMA_ATTRIBUTE_NOT_FOUND: Final = "SchemaAttributeNotFound"
    INTERNAL_ERROR: Final = "InternalError"
    TIMEOUT: Final = "Timeout"
    DUPLICATE_TARGET_ENTRIES: Final = "DuplicateTargetEntries"
    DUPLICATE_SOURCE_ENTRIES: Final = "DuplicateSourceEntries"
    IMPORT_SKIPPED: Final = "ImportSkipped"
    ENTRY_SYNCHRONIZATION_SKIPPED: Final = "EntrySynchronizationSkipped"
    NOT_EFFECTIVELY_ENTITLED: Final = "NotEffectivelyEntitled"
    SCIM_SERVICE_INCOMPATIBLE: Final = "SystemForCrossDomainIdentityManagementServiceIncompatible"
    SCIM_MULTIPLE_ENTRIES_IN_RESPONSE: Final = (
        "SystemForCrossDomainIdentityManagementMultipleEntriesInResponse"
    )
    SCHEMA_PROPERTY_CAN_ONLY_ACCEPT_VALUE: Final = "SchemaPropertyCanOnlyAcceptValue"


_RETRIED = "Nothing to do: the object is retried automatically in the next cycle."
_NOT_AUTHORIZED = (
    "The target accepted the token but refused the operation: give the account behind "
    "the secret token admin permissions, then run `scimitar app test-connection`."
)
_MISSING = "Fill in the source attribute the mappings require, or change the mapping."
_CONFLICT = (
    "Another target object holds the same unique value: correct the value in the "
    "directory or in the app, or make that attribute a matching property so the "
    "existing object is linked instead of created."
)
# What an administrator should do about each code, in the spirit of Entra's table.
RECOMMENDED_ACTIONS: Final[Mapping[str, str]] = {
    ErrorCode.CONFLICT: _CONFLICT,
    ErrorCode.ENTRY_CONFLICT: _CONFLICT,
    ErrorCode.TOO_MANY_REQUESTS: _RETRIED,
    ErrorCode.INTERNAL_SERVER_ERROR: "The target app failed unexpectedly. " + _RETRIED,
    ErrorCode.INSUFFICIENT_RIGHTS: _NOT_AUTHORIZED,
    ErrorCode.METHOD_NOT_ALLOWED: _NOT_AUTHORIZED,
    ErrorCode.NOT_PERMITTED: _NOT_AUTHORIZED,
    ErrorCode.UNAUTHORIZED: "The target rejected the secret token: set a valid one and "
    "run `scimitar app test-connection`.",
    ErrorCode.UNPROCESSABLE_ENTITY: "The target refused the values sent: check the "
    "mappings against what the app accepts.",
    ErrorCode.WEB_EXCEPTION_PROTOCOL_ERROR: _RETRIED,
    ErrorCode.INVALID_ANCHOR: "The target object the engine created or matched is gone: "
    "run `scimitar app restart NAME --full` to match every object again.",
    ErrorCode.NOT_IMPLEMENTED: "The target does not support this operation: check the "
    "app's allowed actions and mappings.",
    ErrorCode.MANDATORY_FIELDS_MISSING: _MISSING,
    ErrorCode.MISSING_VALUES: _MISSING,
    ErrorCode.SCHEMA_ATTRIBUTE_NOT_FOUND: "A mapping targets an attribute the app does not "
    "have: remove or correct that mapping.",
    ErrorCode.INTERNAL_ERROR: "The engine failed unexpectedly. " + _RETRIED,
    ErrorCode.TIMEOUT: "The target took too long to answer. " + _RETRIED,
    ErrorCode.DUPLICATE_TARGET_ENTRIES: "More than one target object has the matching "
    "value: remove the duplicate in the app, or change the matching properties.",
    ErrorCode.DUPLICATE_SOURCE_ENTRIES: "More than one directory object has the matching "
    "value: make it unique, or change the matching properties.",
    ErrorCode.NOT_EFFECTIVELY_ENTITLED: "The object is assigned with the Default Access "
    "role, or is disabled: assign it with another role to provision it.",
    ErrorCode.SCIM_SERVICE_INCOMPATIBLE: "The target's answer is not SCIM 2.0 the engine "
    "can read: check the tenant URL.",
    ErrorCode.SCHEMA_PROPERTY_CAN_ONLY_ACCEPT_VALUE: "A single-valued target attribute was "
    "mapped from a multi-valued source: map a single value.",
}


def recommended_action(error_code: str | None) -> str | None:
    """Return what an administrator should do about ``error_code``, if known."""
    return RECOMMENDED_ACTIONS.get(error_code) if error_code else None
