"""HTTP plumbing shared by the SCIM endpoints: bodies, query parameters, responses."""

from __future__ import annotations

from typing import Any

import orjson

from scimitar.scim.ast import AttrPath
from scimitar.scim.errors import InvalidSyntax, InvalidValue, PayloadTooLarge, ScimError
from scimitar.scim.filter import parse_filter
from scimitar.scim.path import parse_path
from scimitar.scim.projection import parse_attribute_list
from scimitar.server.asgi import Request, Response
from scimitar.server.service import ListQuery, Wanted

SCIM_MEDIA_TYPE = "application/scim+json"


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise ``body`` with orjson as ``application/scim+json``."""
    return Response(orjson.dumps(body), status, headers, media_type=SCIM_MEDIA_TYPE)


def error_response(error: ScimError) -> Response:
    return scim_response(error.to_body(), error.status)


async def read_json(request: Request, limit: int) -> Any:
    """Read and parse the JSON body, refusing more than ``limit`` bytes with 413.

    The declared length is checked first so an oversized upload is refused before
    it is read; the streamed size is checked too, for chunked bodies and liars.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise InvalidSyntax("the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidSyntax(f"the request body is not valid JSON: {error}") from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than this server's limit of {limit} bytes; "
        "split the request (for Bulk, send fewer operations)"
    )


def read_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidSyntax(f"the {what} must be a JSON object, not {type(value).__name__}")
    return value


def _int_param(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise InvalidValue(f"{name} must be a whole number, not {raw!r}")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise InvalidValue(f"{name} must be a whole number, not {raw!r}") from None


def list_query(params: dict[str, Any], max_results: int) -> ListQuery:
    """Build a list query from GET parameters or a SearchRequest body (RFC 7644 §3.4.2-3)."""
    raw_filter = params.get("filter")
    if raw_filter is not None and not isinstance(raw_filter, str):
        raise InvalidValue("filter must be a string")
    raw_sort = params.get("sortBy")
    if raw_sort is not None and not isinstance(raw_sort, str):
        raise InvalidValue("sortBy must be a string")
    sort_order = str(params.get("sortOrder") or "ascending").lower()
    if sort_order not in ("ascending", "descending"):
        raise InvalidValue(f"sortOrder must be 'ascending' or 'descending', not {sort_order!r}")
    sort_by = None
    if raw_sort:
        path = parse_path(raw_sort)
        if path.value_filter is not None:
            raise InvalidValue(f"sortBy must be an attribute name, not {raw_sort!r}")
        sort_by = path.attr
    # RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count means 0; the
    # server may return fewer than asked, so a large count is capped, not refused.
    start_index = max(1, _int_param(params.get("startIndex"), "startIndex", 1))
    count = min(max(0, _int_param(params.get("count"), "count", max_results)), max_results)
    return ListQuery(
        filter=parse_filter(raw_filter) if raw_filter and raw_filter.strip() else None,
        sort_by=sort_by,
        descending=sort_order == "descending",
        start_index=start_index,
        count=count,
    )


def projection(params: dict[str, Any]) -> tuple[tuple[AttrPath, ...], tuple[AttrPath, ...]]:
    """Return the parsed ``attributes`` and ``excludedAttributes`` parameters."""
    return (
        parse_attribute_list(params.get("attributes")),
        parse_attribute_list(params.get("excludedAttributes")),
    )


def _named(paths: tuple[AttrPath, ...], name: str) -> bool:
    # Only core schemas have `members` and `groups`, so any URN prefix means the core one.
    return any(path.attr.lower() == name for path in paths)


def wanted(attributes: tuple[AttrPath, ...], excluded: tuple[AttrPath, ...]) -> Wanted:
    """Decide whether members/groups must be loaded for this projection."""

    def needed(name: str) -> bool:
        if attributes:
            return _named(attributes, name)
        return not _named(excluded, name)

    return Wanted(members=needed("members"), groups=needed("groups"))
