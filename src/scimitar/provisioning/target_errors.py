"""What a failed request to a SCIM target means, as one exception that names the recovery.

``ScimClient`` raises these; every HTTP status and transport failure is mapped to
them here, in one place (``error_for_response``, ``error_for_transport``):

- ``TransientError``: retry later (429, 5xx, network failures, timeouts). The client
  has already retried what it safely could; the engine escrows the object.
- ``NotFoundError`` (404): the object is gone; drop the link and re-create or skip.
- ``ConflictError`` (409): the value is taken; look the object up and link it.
- ``AuthError`` (401/403) and ``TlsError``: every request will fail the same way;
  stop the cycle (``stops_cycle``) and quarantine the job.
- ``RequestError``: this request is wrong for this target (other 4xx, a non-SCIM
  answer); fix the data or the mappings, retrying will not help.

``error_code`` carries Microsoft Entra's provisioning-log code where one exists
("Known issues and error codes" of Entra's provisioning logs): ``Conflict``,
``TooManyRequests``, ``InternalServerError``, ``Unauthorized``, ``InsufficientRights``,
``Timeout``, ``WebExceptionProtocolError``, ``UnprocessableEntity``, ``NotImplemented``,
``SystemForCrossDomainIdentityManagementServiceIncompatible``. Entra's codes are
mostly HTTP reason phrases, so any other status gets its phrase (``BadRequest``).
"""

from __future__ import annotations

import email.utils
import re
import socket
import ssl
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Final

import httpx

__all__ = [
    "INCOMPATIBLE",
    "PROTOCOL_ERROR",
    "AuthError",
    "ConflictError",
    "NotFoundError",
    "RequestError",
    "TargetError",
    "TlsError",
    "TransientError",
    "UnreachableError",
    "error_for_response",
    "error_for_transport",
    "parse_retry_after",
    "status_text",
]

# Entra's code for an answer it cannot parse as SCIM.
INCOMPATIBLE: Final = "SystemForCrossDomainIdentityManagementServiceIncompatible"
# Entra's code for a failure to talk HTTP to the target at all.
PROTOCOL_ERROR: Final = "WebExceptionProtocolError"
# Statuses that say the target declined the work: safe to repeat even a POST.
_DECLINED = frozenset({429, 503})
_ENTRA_CODES = {401: "Unauthorized", 403: "InsufficientRights", 408: "Timeout"}


class TargetError(Exception):
    """A request to a SCIM target failed; the subclass says what to do about it."""

    retryable: bool = False
    stops_cycle: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        error_code: str,
        detail: str,
        scim_type: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.detail = detail
        self.scim_type = scim_type
        self.method = method
        self.path = path


class TransientError(TargetError):
    """Retry later: the target is busy, failing or unreachable right now."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        may_have_applied: bool = False,
        **fields: Any,
    ) -> None:
        super().__init__(message, **fields)
        # Seconds the target asked us to wait (``Retry-After``), if it said.
        self.retry_after = retry_after
        # True when a write may have taken effect although no answer came back.
        self.may_have_applied = may_have_applied


class UnreachableError(TransientError):
    """No connection could be made: the host name does not resolve or nothing listens."""

    def __init__(self, message: str, *, host: str, port: int, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.host = host
        self.port = port


class NotFoundError(TargetError):
    """404: the resource (or the endpoint) does not exist."""


class ConflictError(TargetError):
    """409: a unique value is already taken on the target; look it up and link."""


class AuthError(TargetError):
    """401/403: the key is refused or lacks permissions; stop the cycle."""

    stops_cycle = True


class TlsError(TargetError):
    """The TLS handshake failed (an untrusted certificate, say); stop the cycle."""

    stops_cycle = True

    def __init__(self, message: str, *, host: str, port: int, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.host = host
        self.port = port


class RequestError(TargetError):
    """This request cannot succeed as sent: another 4xx, or an answer that is not SCIM."""


# -- statuses ------------------------------------------------------------------------


def _phrase_code(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"Http{status}"
    return re.sub(r"[^A-Za-z0-9]", "", phrase.title())


def status_text(status: int) -> str:
    """Return ``404 Not Found`` for 404: the code and its reason phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` value asks for (RFC 9110 §10.2.3), or None.

    It is either a number of seconds or an HTTP date; a date in the past means 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


# -- mapping -------------------------------------------------------------------------


def error_for_response(
    response: httpx.Response, method: str, shown: str, *, detail: str, scim_type: str | None
) -> TargetError:
    """Map one non-2xx answer to the exception that names the recovery.

    ``shown`` is the request path as messages name it; ``detail`` and ``scim_type``
    come from the answer's body, already redacted by the caller.
    """
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        detail = f"redirected to {location or 'nowhere'}; use the final URL as the base URL"
    code = _ENTRA_CODES.get(status) or _phrase_code(status)
    fields: dict[str, Any] = {
        "status": status,
        "error_code": code,
        "detail": detail,
        "scim_type": scim_type,
        "method": method,
        "path": shown,
    }
    message = f"{method} {shown} answered {status_text(status)}: {detail}"
    if status in (401, 403):
        return AuthError(message, **fields)
    if status == 404:
        return NotFoundError(message, **fields)
    if status == 409:
        return ConflictError(message, **fields)
    if status == 408 or status == 429 or (status >= 500 and status != 501):
        return TransientError(
            message,
            retry_after=parse_retry_after(response.headers.get("retry-after"))
            if status in _DECLINED
            else None,
            may_have_applied=status not in _DECLINED,
            **fields,
        )
    return RequestError(message, **fields)


def error_for_transport(
    exc: httpx.TransportError, method: str, shown: str, *, host: str, port: int, timeout: float
) -> TargetError:
    """Map a failure below HTTP (DNS, refused, TLS, timeout) to its exception."""
    where = f"{host}:{port}"
    fields: dict[str, Any] = {"status": None, "method": method, "path": shown}
    chain = _chain(exc)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = f"the server's certificate is not trusted ({cause.verify_message})"
            return _tls(host, port, method, shown, detail, fields)
    for cause in chain:
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or str(cause)
            detail = f"the handshake broke off ({reason})"
            if "WRONG_VERSION_NUMBER" in reason.upper():
                detail += ": the server does not speak TLS on this port (try http://)"
            return _tls(host, port, method, shown, detail, fields)
    if isinstance(exc, httpx.TimeoutException):
        connecting = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        phase = "connecting" if connecting else "waiting for an answer"
        detail = f"{where} did not answer within {timeout:g} s ({phase})"
        return TransientError(
            f"{method} {shown}: {detail}",
            error_code="Timeout",
            detail=detail,
            may_have_applied=not connecting,
            **fields,
        )
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(c, socket.gaierror) for c in chain):
            detail = f"the host name {host!r} does not resolve (DNS)"
        elif any(isinstance(c, ConnectionRefusedError) for c in chain):
            detail = f"{where} refused the connection (nothing listens there)"
        else:
            detail = f"cannot connect to {where}: {exc}"
        return UnreachableError(
            f"{method} {shown}: {detail}",
            host=host,
            port=port,
            error_code=PROTOCOL_ERROR,
            detail=detail,
            **fields,
        )
    detail = f"the connection to {where} failed mid-request: {str(exc) or type(exc).__name__}"
    return TransientError(
        f"{method} {shown}: {detail}",
        error_code=PROTOCOL_ERROR,
        detail=detail,
        may_have_applied=True,
        **fields,
    )


def _tls(
    host: str, port: int, method: str, shown: str, detail: str, fields: dict[str, Any]
) -> TlsError:
    detail = f"the TLS handshake with {host}:{port} failed: {detail}"
    return TlsError(
        f"{method} {shown}: {detail}",
        host=host,
        port=port,
        error_code=PROTOCOL_ERROR,
        detail=detail,
        **fields,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
