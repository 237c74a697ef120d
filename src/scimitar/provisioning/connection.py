"""Test Connection: Entra's probe of a tenant URL and secret token, with actionable failures.

Entra's "Test Connection" button sends ``GET /Users?filter=userName eq "<random guid>"``
and expects ``200`` with an empty ListResponse. This module sends the same query
through the engine's own ``ScimClient`` (no retries: a person is waiting) and turns
every way it can fail into a message that names what to change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import anyio

from scimitar.provisioning.scim_client import ScimClient, eq_filter
from scimitar.provisioning.target_errors import (
    INCOMPATIBLE,
    AuthError,
    NotFoundError,
    TargetError,
    TlsError,
    TransientError,
    UnreachableError,
    status_text,
)

# The permissions Clarizen One's tutorial asks for ("a user account in Clarizen One
# with Integration User and Lite Admin permissions"); other apps name theirs alike.
_ADMIN_HINT = (
    "ensure the account behind the API key has admin permissions "
    "(in Clarizen One: Integration User and Lite Admin), then try again"
)
_SCIM_SUFFIX = "/scim/v2"


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    """The outcome of Test Connection: ``message`` is for the person who clicked it."""

    ok: bool
    message: str
    status: int | None


# The "test_" names are Entra's ("Test Connection"), not pytest's: PT028 does not apply.
async def test_connection(
    tenant_url: str,
    token: str,
    *,
    timeout: float = 10,  # noqa: PT028
) -> ConnectionResult:
    """Probe ``tenant_url`` as Entra's Test Connection does; never raise for a bad target."""
    problem = _check_inputs(tenant_url, token)
    if problem is not None:
        return ConnectionResult(False, problem, None)
    base = tenant_url.strip().rstrip("/")
    probe = eq_filter("userName", str(uuid.uuid4()))
    async with ScimClient(base, token, concurrency=1, timeout=timeout, max_retries=0) as client:
        try:
            found = await client.find("Users", probe)
        except TargetError as error:
            return ConnectionResult(False, _explain(error, base, timeout), error.status)
    if found:
        return ConnectionResult(
            False,
            f"{base} answered a query for a userName that cannot exist with "
            f"{len(found)} user(s): it ignores SCIM filters, and provisioning matches "
            "users with them (RFC 7644 §3.4.2.2). Ask the app's vendor to support "
            '"userName eq" filtering.',
            200,
        )
    return ConnectionResult(
        True,
        f"Connected to {base}: the secret token was accepted and the SCIM query "
        'GET /Users?filter=userName eq "…" answered as expected.',
        200,
    )


def test_connection_sync(
    tenant_url: str,
    token: str,
    *,
    timeout: float = 10,  # noqa: PT028
) -> ConnectionResult:
    """Run ``test_connection`` to completion, for callers without an event loop (the CLI)."""
    result: ConnectionResult = anyio.run(
        partial(test_connection, tenant_url, token, timeout=timeout)
    )
    return result


# Nor may pytest collect them when a test module imports them.
test_connection.__test__ = False  # type: ignore[attr-defined]
test_connection_sync.__test__ = False  # type: ignore[attr-defined]


def _check_inputs(tenant_url: str, token: str) -> str | None:
    parts = urlsplit(tenant_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            f"The tenant URL {tenant_url!r} is not an http(s) URL: enter the app's SCIM "
            "endpoint, e.g. https://servicesapp2.clarizen.com/scim/v2"
        )
    if parts.query or parts.fragment:
        return (
            f"The tenant URL {tenant_url!r} has a query or fragment: enter the SCIM base "
            "URL alone, ending in /scim/v2"
        )
    if not token.strip():
        return "The secret token is empty: generate an API key in the app and paste it in"
    return None


def _explain(error: TargetError, base: str, timeout: float) -> str:
    """Say what went wrong and what the person should change."""
    said = f" The target said: {error.detail}"
    if isinstance(error, TlsError):
        advice = (
            "If it is self-signed, expired or issued for another host name, fix the "
            "certificate on the server or use the host name it was issued for."
            if "certificate" in error.detail
            else "Check the tenant URL's scheme (https://) and port."
        )
        return f"{error.detail[:1].upper()}{error.detail[1:]}. {advice}"
    if isinstance(error, UnreachableError):
        return (
            f"Cannot reach the tenant URL: {error.detail}. Check its host name and port, "
            "and that the app's SCIM service is up and reachable from this machine "
            "(proxy, firewall)."
        )
    if error.error_code == "Timeout" and error.status is None:
        return (
            f"{base} did not answer within {timeout:g} s: check the tenant URL and the "
            "network path to it, or try again later."
        )
    if isinstance(error, AuthError) and error.status == 401:
        return (
            "The secret token was rejected (401 Unauthorized): it is wrong, expired or "
            "revoked. Generate a new API key in the app and enter it as the secret token." + said
        )
    if isinstance(error, AuthError):
        return (
            "The secret token was accepted, but its account may not provision users "
            f"(403 Forbidden): {_ADMIN_HINT}." + said
        )
    if isinstance(error, NotFoundError):
        hint = (
            ""
            if urlsplit(base).path.rstrip("/").endswith(_SCIM_SUFFIX)
            else f" ({base} does not end in {_SCIM_SUFFIX})"
        )
        return (
            f"{base}/Users does not exist (404 Not Found): the tenant URL is wrong{hint}. "
            "Use the SCIM base URL of your app's data center, which ends in /scim/v2."
        )
    if error.error_code == INCOMPATIBLE:
        return f"{base}/Users {error.detail}."
    if error.status == 429 and isinstance(error, TransientError):
        wait = f" in {error.retry_after:g} s" if error.retry_after is not None else " later"
        return f"{base} is throttling requests (429 Too Many Requests): try again{wait}."
    if error.status is None:
        return f"Talking to {base} failed: {error.detail}. Try again later."
    if error.status >= 500:
        advice = "The app's SCIM service is failing: try again later, or contact its vendor."
    else:
        advice = "Check the tenant URL, and that the app supports SCIM 2.0 user filters."
    return f"{base}/Users answered {status_text(error.status)}: {error.detail}. {advice}"
