"""The SCIM endpoints (RFC 7644 §3): Users, Groups, search and discovery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache, partial
from typing import Any

from scimitar.scim import discovery
from scimitar.scim.errors import InvalidFilter, InvalidValue, NotFound
from scimitar.scim.schema import UnknownAttribute
from scimitar.server.asgi import Handler, Request, Response, Route
from scimitar.server.http import (
    list_query,
    projection,
    read_json,
    read_object,
    scim_response,
    wanted,
)
from scimitar.server.representation import etag, render
from scimitar.server.service import ScimService
from scimitar.server.store.resources import GROUPS, USERS, Kind
from scimitar.settings import Settings

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SCIM_PREFIX = "/scim/v2"


def scim_base(request: Request) -> str:
    """Return the absolute SCIM base URL (``…/scim/v2``) of this request."""
    scope = request.scope
    host = request.headers.get("host")
    if host is None:  # HTTP/1.0 without Host: the address the server listens on
        server = scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    # root_path: the prefix a proxy serves scimitar under, if any.
    return _base(scope["scheme"], host, scope.get("root_path", ""))


@lru_cache(maxsize=64)
def _base(scheme: str, host: str, root_path: str) -> str:
    # Building the URL for every request showed up in profiles; the answer only
    # depends on these three values.
    return f"{scheme}://{host}{root_path.rstrip('/')}{SCIM_PREFIX}"


class ScimEndpoints:
    """Request handlers bound to one service and its settings."""

    def __init__(self, service: ScimService, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    # -- Users and Groups ---------------------------------------------------------------

    async def list(self, request: Request, kind: Kind) -> Response:
        return await self._search(request, kind, request.query_params)

    async def search(self, request: Request, kind: Kind | None) -> Response:
        body = read_object(await read_json(request, self.settings.max_body_bytes), "SearchRequest")
        schemas = body.get("schemas")
        if schemas is not None and SEARCH_REQUEST not in (
            schemas if isinstance(schemas, list) else []
        ):
            raise InvalidValue(f"a search body's schemas must contain {SEARCH_REQUEST!r}")
        for key in ("attributes", "excludedAttributes"):  # lists in a body, strings in a URL
            if isinstance(body.get(key), list):
                body[key] = ",".join(str(item) for item in body[key])
        return await self._search(request, kind, body)

    async def _search(
        self, request: Request, kind: Kind | None, params: dict[str, Any]
    ) -> Response:
        query = list_query(params, self.settings.max_results)
        attributes, excluded = projection(params)
        need = wanted(attributes, excluded)
        authorization = request.headers.get("authorization")
        base = scim_base(request)
        if kind is None:
            total, found = self.service.search_all(
                authorization,
                query,
                need,
                (InvalidFilter, UnknownAttribute),
            )
            rendered = [render(k.resource_type, r, base, attributes, excluded) for k, r in found]
        else:
            page = self.service.query(authorization, kind, query, need)
            total = page.total
            rendered = [
                render(kind.resource_type, r, base, attributes, excluded) for r in page.resources
            ]
        return scim_response(discovery.list_response(rendered, total, query.start_index))

    async def get(self, request: Request, kind: Kind) -> Response:
        params = request.query_params
        attributes, excluded = projection(params)
        resource = self.service.get(
            request.headers.get("authorization"),
            kind,
            request.path_params["id"],
            wanted(attributes, excluded),
        )
        tag = etag(resource.version)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and (if_none_match.strip() == "*" or tag in _tags(if_none_match)):
            return Response(status=304, headers={"ETag": tag})
        body = render(kind.resource_type, resource, scim_base(request), attributes, excluded)
        return scim_response(body, headers={"ETag": tag})

    async def create(self, request: Request, kind: Kind) -> Response:
        body = read_object(await read_json(request, self.settings.max_body_bytes), "resource")
        attributes, excluded = projection(request.query_params)
        resource = await self.service.create(
            request.headers.get("authorization"),
            kind,
            body,
            wanted(attributes, excluded),
        )
        rendered = render(kind.resource_type, resource, scim_base(request), attributes, excluded)
        location = f"{scim_base(request)}{kind.resource_type.endpoint}/{resource.id}"
        return scim_response(rendered, 201, {"Location": location, "ETag": etag(resource.version)})

    async def replace(self, request: Request, kind: Kind) -> Response:
        body = read_object(await read_json(request, self.settings.max_body_bytes), "resource")
        attributes, excluded = projection(request.query_params)
        resource = self.service.replace(
            request.headers.get("authorization"),
            kind,
            request.path_params["id"],
            body,
            request.headers.get("if-match"),
            wanted(attributes, excluded),
        )
        rendered = render(kind.resource_type, resource, scim_base(request), attributes, excluded)
        return scim_response(rendered, headers={"ETag": etag(resource.version)})

    async def patch(self, request: Request, kind: Kind) -> Response:
        body = await read_json(request, self.settings.max_body_bytes)
        params = request.query_params
        attributes, excluded = projection(params)
        # Groups answer 204 (Entra: a 100,000-member group must not be echoed back)
        # unless the client asked for attributes; users answer 200 with the resource.
        asked = "attributes" in params or "excludedAttributes" in params
        need = wanted(attributes, excluded) if kind is USERS or asked else None
        resource = await self.service.patch(
            request.headers.get("authorization"),
            kind,
            request.path_params["id"],
            body,
            request.headers.get("if-match"),
            need,
        )
        if resource is None:
            return Response(status=204)
        rendered = render(kind.resource_type, resource, scim_base(request), attributes, excluded)
        return scim_response(rendered, headers={"ETag": etag(resource.version)})

    async def delete(self, request: Request, kind: Kind) -> Response:
        self.service.delete(
            request.headers.get("authorization"),
            kind,
            request.path_params["id"],
            request.headers.get("if-match"),
        )
        return Response(status=204)

    # -- discovery (RFC 7644 §4) --------------------------------------------------------

    async def service_provider_config(self, request: Request) -> Response:
        return scim_response(
            discovery.service_provider_config(
                base_url=scim_base(request),
                max_operations=self.settings.max_bulk_operations,
                max_payload_size=self.settings.max_body_bytes,
                max_results=self.settings.max_results,
            )
        )

    async def schemas(self, request: Request) -> Response:
        listing = discovery.schemas_list_response(scim_base(request))
        return self._one_or_all(request, listing, "Schema")

    async def resource_types(self, request: Request) -> Response:
        listing = discovery.resource_types_list_response(scim_base(request))
        return self._one_or_all(request, listing, "ResourceType")

    def _one_or_all(self, request: Request, listing: dict[str, Any], what: str) -> Response:
        wanted_id = request.path_params.get("id")
        if wanted_id is None:
            return scim_response(listing)
        for item in listing["Resources"]:
            if item["id"] == wanted_id:
                return scim_response(item)
        raise NotFound(f"{what} {wanted_id!r} not found")


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",")]


def scim_routes(endpoints: ScimEndpoints, bulk: Handler) -> list[Route]:
    """Return the routes under ``/scim/v2``."""
    routes: list[Route] = []
    for kind in (USERS, GROUPS):
        path = f"{SCIM_PREFIX}{kind.resource_type.endpoint}"
        item = {
            "GET": endpoints.get,
            "PUT": endpoints.replace,
            "PATCH": endpoints.patch,
            "DELETE": endpoints.delete,
        }
        routes += [
            Route(f"{path}/.search", {"POST": _bind(endpoints.search, kind)}),
            Route(f"{path}/{{id}}", {m: _bind(h, kind) for m, h in item.items()}),
            Route(
                path, {"GET": _bind(endpoints.list, kind), "POST": _bind(endpoints.create, kind)}
            ),
        ]
    return [
        *routes,
        Route(f"{SCIM_PREFIX}/ServiceProviderConfig", {"GET": endpoints.service_provider_config}),
        Route(f"{SCIM_PREFIX}/Schemas", {"GET": endpoints.schemas}),
        Route(f"{SCIM_PREFIX}/Schemas/{{id:path}}", {"GET": endpoints.schemas}),
        Route(f"{SCIM_PREFIX}/ResourceTypes", {"GET": endpoints.resource_types}),
        Route(f"{SCIM_PREFIX}/ResourceTypes/{{id}}", {"GET": endpoints.resource_types}),
        Route(f"{SCIM_PREFIX}/.search", {"POST": _bind(endpoints.search, None)}),
        Route(f"{SCIM_PREFIX}/Bulk", {"POST": bulk}),
    ]


def _bind(handler: Callable[..., Awaitable[Response]], kind: Kind | None) -> Handler:
    # A partial, not a wrapping coroutine: one frame fewer on every request.
    return partial(handler, kind=kind)
