"""``POST /Bulk`` (RFC 7644 §3.7): many operations, each its own transaction.

Operations may refer to resources created earlier in the same request as
``bulkId:<id>``; an operation whose reference is not yet created waits until it
is (§3.7.1 lets clients send them in any order), and one whose reference failed
or never exists fails with 409, as the RFC's example does (§3.7.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scimitar.scim.errors import Conflict, InvalidSyntax, InvalidValue, PayloadTooLarge, ScimError
from scimitar.server.auth import Principal
from scimitar.server.representation import etag
from scimitar.server.service import (
    Wanted,
    create_in,
    creates_in_one_write,
    delete_in,
    patch_in,
    replace_in,
)
from scimitar.server.store import resources
from scimitar.server.store.connections import WorkerConnection
from scimitar.server.store.resources import KINDS, Kind

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_BULK_REF = re.compile(r"bulkId:([^\s\"/]+)")
_NO_DERIVED = Wanted(members=False, groups=False)


@dataclass(slots=True)
class Operation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any
    refs: set[str] = field(default_factory=set)


def parse_request(body: Any, max_operations: int) -> tuple[list[Operation], int | None]:
    """Validate a BulkRequest; return its operations and ``failOnErrors``."""
    if not isinstance(body, dict):
        raise InvalidSyntax("a Bulk request must be a JSON object")
    if BULK_REQUEST not in (body.get("schemas") or []):
        raise InvalidSyntax(f"a Bulk request's schemas must contain {BULK_REQUEST!r}")
    raw_ops = body.get("Operations")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise InvalidSyntax("a Bulk request needs a non-empty 'Operations' list")
    if len(raw_ops) > max_operations:
        raise PayloadTooLarge(
            f"this Bulk request has {len(raw_ops)} operations; the maximum is {max_operations}"
        )
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (
        not isinstance(fail_on_errors, int)
        or isinstance(fail_on_errors, bool)
        or fail_on_errors < 1
    ):
        raise InvalidValue("failOnErrors must be a whole number of at least 1")
    operations = []
    seen_ids: set[str] = set()
    for index, raw in enumerate(raw_ops):
        if not isinstance(raw, dict):
            raise InvalidSyntax(f"Bulk operation {index} must be a JSON object")
        method = str(raw.get("method", "")).upper()
        path = raw.get("path")
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            raise InvalidSyntax(
                f"Bulk operation {index}: method must be POST, PUT, PATCH or DELETE"
            )
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidSyntax(
                f"Bulk operation {index}: path must be like '/Users' or '/Users/<id>'"
            )
        bulk_id = raw.get("bulkId")
        if method == "POST":
            if not isinstance(bulk_id, str) or not bulk_id:
                raise InvalidSyntax(f"Bulk operation {index}: POST needs a bulkId (RFC 7644 §3.7)")
            if bulk_id in seen_ids:
                raise InvalidSyntax(f"Bulk operation {index}: bulkId {bulk_id!r} is used twice")
            seen_ids.add(bulk_id)
        if method != "DELETE" and "data" not in raw:
            raise InvalidSyntax(f"Bulk operation {index}: {method} needs 'data'")
        op = Operation(
            index,
            method,
            path,
            bulk_id if isinstance(bulk_id, str) else None,
            raw.get("version") if isinstance(raw.get("version"), str) else None,
            raw.get("data"),
        )
        op.refs = set(_BULK_REF.findall(path)) | _references(op.data)
        operations.append(op)
    return operations, fail_on_errors


def _references(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_BULK_REF.findall(value)) if value.startswith("bulkId:") else set()
    if isinstance(value, dict):
        return set().union(*(_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    return set()


def _substitute(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("bulkId:"):
        return created.get(value[len("bulkId:") :], value)
    if isinstance(value, dict):
        return {k: _substitute(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, created) for v in value]
    return value


class BulkRunner:
    """Run one Bulk request for an authenticated principal."""

    def __init__(
        self,
        connection: WorkerConnection,
        principal: Principal,
        location_base: str,
    ) -> None:
        self.connection = connection
        self.principal = principal
        self.base = location_base
        self.created: dict[str, str] = {}  # bulkId -> resource id
        self.failed: set[str] = set()

    def run(self, operations: list[Operation], fail_on_errors: int | None) -> dict[str, Any]:
        results: dict[int, dict[str, Any]] = {}
        pending = list(operations)
        errors = 0
        while pending and (fail_on_errors is None or errors < fail_on_errors):
            ready = next((op for op in pending if self._resolvable(op)), None)
            if ready is None:  # every remaining operation waits on another: a cycle
                ready = pending[0]
            pending.remove(ready)
            result = self._run_one(ready)
            results[ready.index] = result
            if int(result["status"]) >= 400:
                errors += 1
                if ready.bulk_id:
                    self.failed.add(ready.bulk_id)
        return {
            "schemas": [BULK_RESPONSE],
            "Operations": [results[i] for i in sorted(results)],
        }

    def _resolvable(self, op: Operation) -> bool:
        pending_refs = {ref for ref in op.refs if ref not in self.created}
        return not pending_refs or bool(pending_refs & self.failed)

    def _run_one(self, op: Operation) -> dict[str, Any]:
        result: dict[str, Any] = {"method": op.method}
        if op.bulk_id:
            result["bulkId"] = op.bulk_id
        try:
            missing = sorted(ref for ref in op.refs if ref not in self.created)
            if missing:
                raise Conflict(
                    f"bulkId {missing[0]!r} refers to no resource created by this request"
                )
            status, location, version = self._execute(op)
        except ScimError as error:
            result["status"] = str(error.status)
            result["response"] = error.to_body()
            return result
        result["status"] = str(status)
        if location:
            result["location"] = location
        if version:
            result["version"] = version
        return result

    def _execute(self, op: Operation) -> tuple[int, str | None, str | None]:
        path = _substitute(op.path, self.created)
        data = _substitute(op.data, self.created)
        kind, resource_id = self._target(path, op.method)
        single_write = op.method == "POST" and creates_in_one_write(kind)
        with self.connection.transaction(write=True, single_write=single_write) as db:
            if op.method == "POST":
                resource = create_in(db, self.principal, kind, _object(data), _NO_DERIVED)
                assert op.bulk_id is not None
                self.created[op.bulk_id] = resource.id
                return 201, self._location(kind, resource.id), etag(resource.version)
            assert resource_id is not None
            if op.method == "PUT":
                resource = replace_in(
                    db, self.principal, kind, resource_id, _object(data), op.version, _NO_DERIVED
                )
                return 200, self._location(kind, resource_id), etag(resource.version)
            if op.method == "PATCH":
                patch_in(db, self.principal, kind, resource_id, data, op.version, None)
                current = resources.fetch(db, kind, self.principal.tenant_id, resource_id)
                return 200, self._location(kind, resource_id), etag(current.version)
            delete_in(db, self.principal, kind, resource_id, op.version)
            return 204, self._location(kind, resource_id), None

    def _target(self, path: str, method: str) -> tuple[Kind, str | None]:
        parts = path.strip("/").split("/")
        kind = KINDS.get(parts[0][:-1]) if parts and parts[0].endswith("s") else None
        if kind is None or len(parts) > 2:
            raise InvalidValue(f"unknown Bulk path {path!r}; use /Users, /Groups or /<type>/<id>")
        if method == "POST" and len(parts) != 1:
            raise InvalidValue(f"POST goes to {kind.resource_type.endpoint}, not {path!r}")
        if method != "POST" and len(parts) != 2:
            raise InvalidValue(f"{method} needs a resource id in the path, not {path!r}")
        return kind, parts[1] if len(parts) == 2 else None

    def _location(self, kind: Kind, resource_id: str) -> str:
        return f"{self.base}{kind.resource_type.endpoint}/{resource_id}"


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidSyntax("Bulk operation data must be a JSON object")
    return value
