"""SCIM errors (RFC 7644 §3.12): one class per ``scimType``, each knowing its status.

Handlers raise these; one place (the server's error handler) turns them into the
SCIM error body, so no endpoint needs an ``if`` ladder of status codes.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """A SCIM protocol error with its HTTP status and optional ``scimType``."""

    status: int = 400
    scim_type: str | None = None

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status

    def to_body(self) -> dict[str, Any]:
        """Return the RFC 7644 §3.12 error body (``status`` is a string there)."""
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


class InvalidFilter(ScimError):
    """The filter syntax was invalid or the filter cannot be applied."""

    scim_type = "invalidFilter"


class TooMany(ScimError):
    """The filter would return more results than the server allows."""

    scim_type = "tooMany"


class Uniqueness(ScimError):
    """A value conflicts with a unique attribute of another resource."""

    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    """The request tried to modify an immutable or read-only attribute."""

    scim_type = "mutability"


class InvalidSyntax(ScimError):
    """The request body could not be parsed or violates the schema's structure."""

    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    """A PATCH ``path`` was malformed or does not name a known attribute."""

    scim_type = "invalidPath"


class NoTarget(ScimError):
    """The PATCH path filter matched nothing for an operation that needs a target."""

    scim_type = "noTarget"


class InvalidValue(ScimError):
    """A required value was missing or a value was not compatible with its attribute."""

    scim_type = "invalidValue"


class InvalidVersion(ScimError):
    """The requested SCIM protocol version is not supported."""

    scim_type = "invalidVers"


class Sensitive(ScimError):
    """The request carried information that may not be passed in a URI."""

    status = 403
    scim_type = "sensitive"


class NotFound(ScimError):
    """The resource does not exist (or belongs to another tenant, which is the same)."""

    status = 404


class Unauthorized(ScimError):
    """No bearer key, an unknown one, or a revoked one."""

    status = 401


class Forbidden(ScimError):
    """The key is valid but its account lacks a permission the operation needs."""

    status = 403


class Conflict(ScimError):
    """The request conflicts with the resource's current state (not a uniqueness clash)."""

    status = 409


class PreconditionFailed(ScimError):
    """``If-Match`` named a version that is no longer current."""

    status = 412


class PayloadTooLarge(ScimError):
    """The request body is larger than the configured limit."""

    status = 413


class NotImplementedFeature(ScimError):
    """The request asks for an optional feature this server does not offer."""

    status = 501
