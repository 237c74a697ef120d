"""Fill a SCIM server over its own HTTP API: users and small groups by Bulk, large groups by POST.

The same code seeds every server measured, so all hold the same data. Users go in
through ``POST /Bulk`` (RFC 7644 §3.7), 1,000 operations a request; small groups
too. A large group is one POST with every member inline (100,000 members is a
~5 MB body): growing it by PATCH instead costs scim2-server O(size) a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_OPERATIONS = 1000


class SeedError(RuntimeError):
    """The server refused or failed part of the seed data."""


def user_name(index: int, prefix: str = "bench.user") -> str:
    """Return the userName of seeded user ``index``."""
    return f"{prefix}.{index:06d}@example.com"


def user_document(name: str) -> dict[str, Any]:
    """Return a user as Entra ID would provision it (the shape the create test posts)."""
    local = name.split("@", 1)[0]
    return {
        "schemas": [USER],
        "userName": name,
        "externalId": local,
        "active": True,
        "displayName": f"Bench {local}",
        "name": {"givenName": "Bench", "familyName": local},
        "emails": [{"value": name, "type": "work", "primary": True}],
    }


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bulk_status(operation: dict[str, Any]) -> int:
    status = operation.get("status")
    # RFC 7644 §3.7.3 writes it as a string ("201"); early drafts nested it in an object.
    if isinstance(status, dict):
        status = status.get("code")
    return int(str(status))


@dataclass
class Seeder:
    """Write resources to one server; ``parallel`` Bulk requests run at a time."""

    client: httpx.Client
    parallel: int = 1
    progress: Callable[[str], None] = print

    def bulk_create(self, path: str, documents: Sequence[dict[str, Any]]) -> list[str]:
        """POST every document through Bulk; return the new ids, in order."""
        batches = list(_chunks(documents, BULK_OPERATIONS))
        done = 0
        started = time.monotonic()

        def send(batch: Sequence[dict[str, Any]]) -> list[str]:
            operations = [
                {"method": "POST", "path": path, "bulkId": f"b{i}", "data": document}
                for i, document in enumerate(batch)
            ]
            body = {"schemas": [BULK_REQUEST], "Operations": operations}
            response = self.client.post("/Bulk", json=body)
            if not response.is_success:
                raise SeedError(f"Bulk {path}: HTTP {response.status_code}: {response.text[:500]}")
            by_bulk_id: dict[str, str] = {}
            for result in response.json().get("Operations", []):
                if not 200 <= _bulk_status(result) < 300:
                    raise SeedError(f"Bulk {path}: an operation failed: {result}")
                by_bulk_id[result["bulkId"]] = result["location"].rstrip("/").rsplit("/", 1)[1]
            if len(by_bulk_id) != len(batch):
                raise SeedError(f"Bulk {path}: {len(batch)} sent, {len(by_bulk_id)} answered")
            return [by_bulk_id[f"b{i}"] for i in range(len(batch))]

        ids: list[str] = []
        pool = ThreadPoolExecutor(self.parallel)
        try:
            for batch_ids in pool.map(send, batches):
                ids.extend(batch_ids)
                done += len(batch_ids)
                if len(batches) > 4 and done % (BULK_OPERATIONS * 20) == 0:
                    rate = done / (time.monotonic() - started)
                    self.progress(f"    {path}: {done:,}/{len(documents):,} ({rate:,.0f}/s)")
        finally:
            # On an error or Ctrl-C, drop the batches not yet sent instead of sending them.
            pool.shutdown(wait=False, cancel_futures=True)
        return ids

    def create_users(self, start: int, count: int, prefix: str = "bench.user") -> list[str]:
        """Create users ``start`` .. ``start + count - 1``; return their ids."""
        documents = [user_document(user_name(i, prefix)) for i in range(start, start + count)]
        return self.bulk_create("/Users", documents)

    def create_small_groups(self, members: Sequence[Sequence[str]], prefix: str) -> list[str]:
        """Create one group per member list, members inline, through Bulk."""
        documents = [
            {
                "schemas": [GROUP],
                "displayName": f"{prefix} {i:05d}",
                "members": [{"value": member} for member in group_members],
            }
            for i, group_members in enumerate(members)
        ]
        return self.bulk_create("/Groups", documents)

    def create_large_group(self, name: str, members: Sequence[str]) -> str:
        """Create a group with all its members inline, in one POST; return its id."""
        document = {
            "schemas": [GROUP],
            "displayName": name,
            "members": [{"value": member} for member in members],
        }
        response = self.client.post("/Groups", json=document)
        if response.status_code != 201:
            raise SeedError(f"POST /Groups: HTTP {response.status_code}: {response.text[:500]}")
        group_id: str = response.json()["id"]
        return group_id
