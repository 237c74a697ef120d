"""The engine's SCIM 2.0 client: bounded concurrency, counted requests, honest retries.

The engine reaches targets only through this module, over HTTP (it never imports
``scimitar.server``). Every HTTP outcome becomes a result or one exception that
says what the caller should do (``TransientError``, ``NotFoundError``, ...), mapped
in one place, ``target_errors.py``; they are importable from here as well.

Retries. Idempotent requests (GET, PUT, PATCH, DELETE) are retried on every transient
outcome, with exponential backoff and jitter, or after the target's ``Retry-After``.
The engine's PATCHes replace values or add and remove members, which SCIM defines
by value, so repeating one changes nothing. A POST is retried only when the target
cannot have acted on it: the connection was never made, or the target answered 429
or 503 (it declined the work). A POST that timed out, lost its connection or got
another 5xx may have created the object; it is not repeated (a blind repeat could
create a duplicate) but raised with ``may_have_applied`` set: the engine escrows it,
and its next attempt starts with the matching query, which finds and links the
object if it was created after all.
"""

from __future__ import annotations

import logging
import random
import re
import ssl
import time
from collections import Counter
from functools import lru_cache
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import quote, urlencode, urlsplit

import anyio
import httpx
import orjson

from scimitar import __version__
from scimitar.provisioning.target_errors import (
    INCOMPATIBLE,
    PROTOCOL_ERROR,
    AuthError,
    ConflictError,
    NotFoundError,
    RequestError,
    TargetError,
    TlsError,
    TransientError,
    UnreachableError,
    error_for_response,
    error_for_transport,
    parse_retry_after,
    status_text,
)
from scimitar.scim.ast import And, AttrPath, Compare, CompValue, ValuePath
from scimitar.scim.errors import ScimError
from scimitar.scim.filter import render_filter
from scimitar.scim.path import parse_path

__all__ = [
    "INCOMPATIBLE",
    "PROTOCOL_ERROR",
    "AuthError",
    "ConflictError",
    "NotFoundError",
    "RequestError",
    "Resource",
    "ScimClient",
    "TargetError",
    "TlsError",
    "TransientError",
    "UnreachableError",
    "eq_filter",
    "parse_retry_after",
    "status_text",
]

log = logging.getLogger(__name__)

Resource = Literal["Users", "Groups"]

PATCH_OP_URN: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

_IDEMPOTENT = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_EXCERPT = 200
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


# -- filters -------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _eq_parts(attribute: str) -> tuple[AttrPath, ValuePath | None]:
    try:
        path = parse_path(attribute)
    except ScimError as exc:
        raise ValueError(f"cannot filter on {attribute!r}: {exc.detail}") from None
    if path.value_filter is None:
        return path.attr, None
    if path.element_sub_attr is None:
        raise ValueError(
            f"cannot filter on {attribute!r}: name the sub-attribute to compare, "
            'e.g. emails[type eq "work"].value'
        )
    return AttrPath(path.element_sub_attr), ValuePath(path.attr, path.value_filter)


def eq_filter(attribute: str, value: CompValue) -> str:
    """Return the SCIM filter ``attribute eq value``, the value escaped as JSON.

    Quotes, backslashes and control characters in ``value`` are escaped as RFC 7644
    §3.4.2.2 requires (its values are JSON literals). A value path such as
    ``emails[type eq "work"].value`` becomes ``emails[type eq "work" and value eq
    "..."]``, the RFC's form for "an element with both".
    """
    compared, within = _eq_parts(attribute)
    test = Compare(compared, "eq", value)
    if within is None:
        return render_filter(test)
    return render_filter(ValuePath(within.path, And(within.filter, test)))


# -- helpers -------------------------------------------------------------------------


def _excerpt(text: str) -> str:
    title = _TITLE.search(text)
    if title:
        text = f"an HTML page titled {_SPACE.sub(' ', title.group(1)).strip()!r}"
    else:
        text = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


def _shown(url: str) -> str:
    return "/" + url.partition("?")[0]


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.partition(";")[0].strip().lower()


def _is_json_type(media_type: str) -> bool:
    # RFC 7644 §3.1: application/scim+json; plain application/json is common and fine.
    return media_type in ("application/scim+json", "application/json") or media_type.endswith(
        "+json"
    )


# -- the client ----------------------------------------------------------------------


class ScimClient:
    """An async SCIM 2.0 client for one target (``base_url`` ends in ``/scim/v2``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        concurrency: int = 8,
        timeout: float = 30,
        max_retries: int = 4,
        user_agent: str = f"scimitar/{__version__}",
        max_retry_after: float = 60,
        backoff_base: float = 0.5,
        backoff_cap: float = 30,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._token = token
        self.requests_sent = 0
        self.requests_by_method: Counter[str] = Counter()
        self.retries = 0
        self._semaphore = anyio.Semaphore(concurrency)
        # While the target has asked for a pause (Retry-After), no request of this
        # client starts before this monotonic time: one throttled request slows all.
        self._resume_at = 0.0
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/scim+json, application/json",
                "User-Agent": user_agent,
            },
            timeout=httpx.Timeout(timeout),
            # HTTP/1.1 keep-alive, one pooled connection per request in flight.
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,
            verify=verify,
        )

    def __repr__(self) -> str:
        return f"ScimClient({self.base_url!r}, concurrency={self.concurrency})"

    async def __aenter__(self) -> ScimClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    # -- SCIM operations -------------------------------------------------------------

    async def find(
        self, resource: Resource, filter: str, attributes: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Return the resources matching ``filter`` (the first page, which matching needs).

        Groups are asked for without members (``excludedAttributes=members``), as
        Entra does: a large group's members would make every lookup expensive.
        """
        params = {"filter": filter}
        if attributes:
            params["attributes"] = ",".join(attributes)
        elif resource == "Groups":
            params["excludedAttributes"] = "members"
        answer = await self._request("GET", f"{resource}?{urlencode(params, quote_via=quote)}")
        return self._list_resources(answer, resource)

    async def get(
        self, resource: Resource, id: str, *, excluded_attributes: list[str] | None = None
    ) -> dict[str, Any]:
        """Return one resource by its target ``id``."""
        path = self._item(resource, id)
        if excluded_attributes:
            path += "?" + urlencode(
                {"excludedAttributes": ",".join(excluded_attributes)}, quote_via=quote
            )
        return self._resource(await self._request("GET", path), "GET", path)

    async def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new resource and return the target's representation of it."""
        created = self._resource(await self._request("POST", resource, body), "POST", resource)
        if not isinstance(created.get("id"), str):
            raise self._incompatible(
                "POST", _shown(resource), "answered 201 but the created resource has no 'id'"
            )
        return created

    async def replace(
        self, resource: Resource, id: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """PUT a whole resource; return its new representation (None on 204)."""
        path = self._item(resource, id)
        answer = await self._request("PUT", path, body)
        return None if answer is None else self._resource(answer, "PUT", path)

    async def patch(
        self, resource: Resource, id: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Send a PatchOp (RFC 7644 §3.5.2); return the resource, or None on 204."""
        path = self._item(resource, id)
        body = {"schemas": [PATCH_OP_URN], "Operations": operations}
        answer = await self._request("PATCH", path, body)
        return None if answer is None else self._resource(answer, "PATCH", path)

    async def delete(self, resource: Resource, id: str) -> None:
        """DELETE a resource."""
        path = self._item(resource, id)
        await self._request("DELETE", path)

    # -- the one request path --------------------------------------------------------

    @staticmethod
    def _item(resource: Resource, id: str) -> str:
        return f"{resource}/{quote(id, safe='')}"

    async def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """Send one SCIM request with retries; return the parsed JSON body or None.

        ``url`` is relative to the base URL. Messages name it without its query:
        filter values may be personal data.
        """
        shown = _shown(url)
        content = None if body is None else orjson.dumps(body)
        headers = None if body is None else {"Content-Type": "application/scim+json"}
        attempt = 0
        while True:
            delay = self._resume_at - time.monotonic()
            if delay > 0:
                await anyio.sleep(delay)
            try:
                async with self._semaphore:
                    response = await self._send(method, url, content, headers)
            except httpx.TransportError as exc:
                error: TargetError = error_for_transport(
                    exc, method, shown, host=self.host, port=self.port, timeout=self.timeout
                )
            else:
                if response.is_success:
                    return self._json(response, method, shown)
                detail, scim_type = self._error_detail(response)
                error = error_for_response(
                    response, method, shown, detail=detail, scim_type=scim_type
                )
            wait = self._retry_delay(error, method, attempt)
            if wait is None:
                raise error
            attempt += 1
            self.retries += 1
            log.info(
                "%s %s: %s; retry %d of %d in %.1f s",
                method,
                shown,
                error.error_code,
                attempt,
                self.max_retries,
                wait,
            )
            await anyio.sleep(wait)

    async def _send(
        self, method: str, url: str, content: bytes | None, headers: dict[str, str] | None
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, url, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            # No connection, so nothing was sent: not counted.
            raise
        except httpx.TransportError:
            self._count(method)
            raise
        self._count(method)
        return response

    def _count(self, method: str) -> None:
        self.requests_sent += 1
        self.requests_by_method[method] += 1

    def _retry_delay(self, error: TargetError, method: str, attempt: int) -> float | None:
        """Return how long to wait before retrying, or None to give up and raise."""
        if not isinstance(error, TransientError) or attempt >= self.max_retries:
            return None
        if method not in _IDEMPOTENT and error.may_have_applied:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                # Longer than a cycle should stall: hand it to the engine to escrow.
                return None
            self._resume_at = max(self._resume_at, time.monotonic() + error.retry_after)
            return error.retry_after
        # Exponential backoff with "equal jitter": at least half the step, so retries
        # never hammer, and spread, so concurrent ones do not return in lockstep.
        step = min(self.backoff_cap, self.backoff_base * (1 << attempt))
        return step / 2 + random.uniform(0, step / 2)

    # -- outcomes ----------------------------------------------------------------------

    def _json(self, response: httpx.Response, method: str, shown: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        media_type = _media_type(response)
        if media_type and not _is_json_type(media_type):
            raise self._incompatible(
                method,
                shown,
                f"answered {status_text(response.status_code)} with {media_type}, not SCIM "
                f"JSON ({_excerpt(response.text)}): this URL does not look like a SCIM endpoint",
                status=response.status_code,
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise self._incompatible(
                method,
                shown,
                f"answered {status_text(response.status_code)} with a body that is not "
                f"valid JSON ({self._redact(_excerpt(response.text))})",
                status=response.status_code,
            ) from None

    def _resource(self, answer: Any, method: str, url: str) -> dict[str, Any]:
        if not isinstance(answer, dict):
            what = "no body" if answer is None else f"a JSON {type(answer).__name__}"
            raise self._incompatible(method, _shown(url), f"answered {what}, not a resource")
        return answer

    def _list_resources(self, answer: Any, resource: Resource) -> list[dict[str, Any]]:
        # RFC 7644 §3.4.2: "Resources" may be left out when totalResults is 0.
        if isinstance(answer, dict):
            resources = answer.get("Resources", [] if answer.get("totalResults") == 0 else None)
            if isinstance(resources, list) and all(isinstance(r, dict) for r in resources):
                return resources
        raise self._incompatible(
            "GET",
            _shown(resource),
            "answered 200 but not with a SCIM ListResponse (RFC 7644 §3.4.2): "
            "this URL does not look like a SCIM endpoint",
        )

    def _incompatible(
        self, method: str, shown: str, detail: str, *, status: int | None = 200
    ) -> RequestError:
        return RequestError(
            f"{method} {shown}: {detail}",
            status=status,
            error_code=INCOMPATIBLE,
            detail=detail,
            method=method,
            path=shown,
        )

    def _redact(self, text: str) -> str:
        # A misbehaving server may echo headers back; the key never leaves this object.
        # (A key too short to be a real one would only garble ordinary words.)
        return text.replace(self._token, "[redacted]") if len(self._token) >= 8 else text

    def _error_detail(self, response: httpx.Response) -> tuple[str, str | None]:
        text = response.text
        if _is_json_type(_media_type(response)) or text.lstrip().startswith("{"):
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("detail"), str):
                scim_type = body.get("scimType")
                return self._redact(body["detail"]), (
                    scim_type if isinstance(scim_type, str) else None
                )
        return self._redact(_excerpt(text)) if text.strip() else "no detail given", None
