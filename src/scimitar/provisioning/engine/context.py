"""What one cycle carries: the app, its client, counts, and the writes it owes.

Results are buffered and written in batches (``flush``): a cycle over 100,000
objects must not commit 100,000 times. A crash between a target write and the
next flush loses nothing that matters: the next cycle matches the object again
by its matching attribute and links it.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from random import Random

from sqlalchemy import Engine

from scimitar.db.engine import write_transaction
from scimitar.provisioning.apps import App, AppSettings
from scimitar.provisioning.engine import state
from scimitar.provisioning.engine.scope import Entitlements
from scimitar.provisioning.engine.state import Link
from scimitar.provisioning.logs import LogEntry, LogWriter
from scimitar.provisioning.scim_client import ScimClient

FLUSH_EVERY = 500
COUNTED = (
    "create",
    "update",
    "disable",
    "delete",
    "stagedDelete",
    "skipped",
    "failure",
    "unchanged",
)


@dataclass(slots=True)
class Progress:
    """A running cycle's position, for progress bars: objects done of those in scope."""

    done: int
    total: int
    counts: dict[str, int]


@dataclass
class CycleContext:
    engine: Engine
    app: App
    settings: AppSettings
    client: ScimClient
    cycle_type: str
    dry_run: bool
    now: datetime
    entitlements: Entitlements
    user_links: dict[str, Link]
    group_links: dict[str, Link]
    on_progress: Callable[[Progress], None] | None = None
    # Keep every entry in ``planned`` too (on-demand provisioning prints them).
    keep_entries: bool = False
    cycle_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    random: Random = field(default_factory=Random)
    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0
    done: int = 0
    failures: list[LogEntry] = field(default_factory=list)
    # A dry run's entries are its plan: printed, never stored.
    planned: list[LogEntry] = field(default_factory=list)
    # How each object was counted, so a later phase (references) can recount it.
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)
    # Group -> member source ids the engine has written to the target.
    written_members: dict[str, set[str]] = field(default_factory=dict)
    # Deletions the accidental-deletion threshold held back this cycle.
    held_back: list[tuple[str, str, str]] = field(default_factory=list)
    _writer: LogWriter | None = None
    _links: dict[tuple[str, str], Link] = field(default_factory=dict)
    _dropped: list[tuple[str, str]] = field(default_factory=list)
    _escrow: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _settled: set[tuple[str, str]] = field(default_factory=set)
    _memberships: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    _pending: int = 0
    # (object type, target id) -> the source object linked to it, for matching.
    _owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for links in (self.user_links, self.group_links):
            for link in links.values():
                self._owners[(link.object_type, link.target_id)] = link.source_id

    @property
    def job_id(self) -> str:
        return f"scim.{self.app.gallery}.{self.app.id}"

    def links(self, object_type: str) -> dict[str, Link]:
        return self.user_links if object_type == "user" else self.group_links

    # -- outcomes -------------------------------------------------------------------------

    def record(
        self,
        entry: LogEntry | None,
        *,
        counted: str | None,
        key: tuple[str, str],
        progress: bool = True,
    ) -> None:
        """Count one object's outcome, keep its log entry, advance the progress bar."""
        if counted:
            previous = self.outcomes.get(key)
            if previous is not None:  # counted already this cycle: move it, don't add
                self.counts[previous] -= 1
            self.counts[counted] += 1
            self.outcomes[key] = counted
        if entry is not None:
            if self.dry_run or self.keep_entries:
                self.planned.append(entry)
            if not self.dry_run:
                if self._writer is None:
                    self._writer = LogWriter(self.app.id)
                self._writer.add(entry)
            if entry.status == "failure":
                self.failures.append(entry)
            self._pending += 1
        if progress:
            self.done += 1
            if self.on_progress is not None:
                self.on_progress(Progress(self.done, self.total, dict(self.counts)))
        if self._pending >= FLUSH_EVERY:
            self.flush()

    def owner(self, object_type: str, target_id: str) -> str | None:
        """Return the source object linked to a target object, if any."""
        return self._owners.get((object_type, target_id))

    def linked(self, link: Link) -> None:
        self._disown(self.links(link.object_type).get(link.source_id))
        self.links(link.object_type)[link.source_id] = link
        self._owners[(link.object_type, link.target_id)] = link.source_id
        self._links[(link.object_type, link.source_id)] = link
        self._pending += 1

    def unlinked(self, object_type: str, source_id: str) -> None:
        self._disown(self.links(object_type).pop(source_id, None))
        self._links.pop((object_type, source_id), None)
        self._dropped.append((object_type, source_id))

    def _disown(self, link: Link | None) -> None:
        if link is not None and self.owner(link.object_type, link.target_id) == link.source_id:
            del self._owners[(link.object_type, link.target_id)]

    def failed(self, object_type: str, source_id: str, error_code: str | None) -> None:
        self._escrow[(object_type, source_id)] = error_code

    def settled(self, object_type: str, source_id: str) -> None:
        self._settled.add((object_type, source_id))

    def memberships(self, group_id: str, added: list[str], removed: list[str]) -> None:
        current = self.written_members.setdefault(group_id, set())
        current.update(added)
        current.difference_update(removed)
        self._memberships.append((group_id, added, removed))

    def flush(self) -> None:
        """Write buffered logs, links, memberships and escrows (nothing in a dry run)."""
        app_id = self.app.id
        if self.dry_run:
            self._pending = 0
            return
        with write_transaction(self.engine) as conn:
            if self._writer is not None:
                self._writer.flush(conn)
            state.save_links(conn, app_id, self._links.values())
            for object_type in ("user", "group"):
                gone = [s for t, s in self._dropped if t == object_type]
                if gone:
                    state.drop_links(conn, app_id, object_type, gone)
            for group_id, added, removed in self._memberships:
                state.record_memberships(conn, app_id, group_id, added, removed)
            for (object_type, source_id), code in self._escrow.items():
                state.escrow(conn, app_id, object_type, source_id, code)
            state.clear_escrows(conn, app_id, self._settled - set(self._escrow))
            state.save_state(
                conn,
                app_id,
                progress={
                    "cycleId": self.cycle_id,
                    "done": self.done,
                    "total": self.total,
                    "counts": dict(self.counts),
                },
            )
        self._links.clear()
        self._dropped.clear()
        self._memberships.clear()
        self._escrow.clear()
        self._settled.clear()
        self._pending = 0


class Stopwatch:
    """Milliseconds since creation, for ``durationInMilliseconds``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def ms(self) -> int:
        return int((time.perf_counter() - self.start) * 1000)
