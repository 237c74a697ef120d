"""Provisioning logs: one entry per object and action per cycle, in Graph's shape.

Entries follow Microsoft Graph's ``provisioningObjectSummary`` so that scripts
written against Entra's provisioning logs read ours unchanged. ``to_graph()``
gives Graph's names (``provisioningAction``, ``provisioningStatusInfo``,
``provisioningSteps``) and, beside them, the flat names of the beta API and of
our issue (``action``, ``status``, ``errorCode``, ``reason``, ``steps``), always
equal to their Graph twins.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, Row, delete, func, insert, or_, select

from scimitar.provisioning.error_codes import RECOMMENDED_ACTIONS as RECOMMENDED_ACTIONS
from scimitar.provisioning.error_codes import ErrorCode as ErrorCode
from scimitar.provisioning.error_codes import recommended_action as recommended_action
from scimitar.provisioning.tables import provisioning_logs

ACTIONS: Final = frozenset({"create", "update", "delete", "disable", "stagedDelete", "other"})
STATUSES: Final = frozenset({"success", "failure", "skipped", "warning"})
OBJECT_TYPES: Final = frozenset({"user", "group"})
# Graph's provisioningStepType, in the order a cycle goes through them.
STEP_TYPES: Final = ("import", "scoping", "matching", "processing", "referenceResolution", "export")
REDACTED: Final = "[REDACTED]"
UPN_DETAIL: Final = "userPrincipalName"  # key of the UPN in sourceIdentity.details
DEFAULT_RETENTION_DAYS: Final = 30  # Entra keeps provisioning logs 30 days
DEFAULT_BATCH_SIZE: Final = 1000


# Words that make a property name look like it holds a secret. "key" must be a whole
# word ("apiKey", "private_key"), or "keyboardLayout" and "monkey" would be hidden too.
_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "token", "secret", "key", "apikey"})
_SECRET_PARTS = ("password", "passwd", "secret", "token")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Tell whether a property called ``name`` probably holds a secret."""
    lowered = name.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD.findall(name))


def _as_text(value: Any) -> str | None:
    # Graph's modifiedProperty values are strings; other values travel as JSON.
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _redact_details(details: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if is_secret_name(k) else v) for k, v in details.items()}


def _utc(moment: datetime) -> datetime:
    # SQLite hands DateTime(timezone=True) back naive; every stored moment is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_timestamp(moment: datetime, timespec: str = "microseconds") -> str:
    """Return ``moment`` as ISO 8601 in UTC with a ``Z``, as Graph writes activityDateTime."""
    text = _utc(moment).isoformat(timespec=timespec)
    return text.removesuffix("+00:00") + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or an offset; none means UTC) into UTC."""
    return _utc(datetime.fromisoformat(text))


_uuid_lock = threading.Lock()
_uuid_last = [0, 0]  # last millisecond used, counter within it


def new_log_id() -> str:
    """Return a new version-7 (time-ordered) UUID.

    Graph's ids are GUIDs; time order breaks ties between entries stamped in the same
    millisecond in the order they were logged. The 12-bit ``rand_a`` field is a
    counter within the millisecond (RFC 9562 §6.2, method 1).
    """
    with _uuid_lock:
        now_ms = time.time_ns() // 1_000_000
        last_ms, counter = _uuid_last
        if now_ms <= last_ms:
            now_ms, counter = last_ms, counter + 1
            if counter > 0xFFF:
                now_ms, counter = now_ms + 1, 0
        else:
            counter = 0
        _uuid_last[:] = [now_ms, counter]
    rand_b = int.from_bytes(os.urandom(8)) & 0x3FFF_FFFF_FFFF_FFFF
    value = (now_ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


@dataclass(frozen=True, slots=True)
class ProvisionedIdentity:
    """Graph's provisionedIdentity: the source or target object of an entry."""

    id: str
    display_name: str = ""
    identity_type: str = "user"
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def user_principal_name(self) -> str | None:
        upn = self.details.get(UPN_DETAIL)
        return upn if isinstance(upn, str) else None

    def label(self) -> str:
        """Return the most telling name: UPN, else display name, else id."""
        return self.user_principal_name or self.display_name or self.id

    def to_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "identityType": self.identity_type,
            "details": dict(self.details),
        }

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> ProvisionedIdentity:
        return cls(
            id=str(data.get("id") or ""),
            display_name=str(data.get("displayName") or ""),
            identity_type=str(data.get("identityType") or ""),
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class ProvisioningStep:
    """Graph's provisioningStep; ``provisioning_step_type`` is one of ``STEP_TYPES``.

    ``name`` is free text in Graph (Entra writes "EntryImportAdd" and the like); it
    defaults to the step type.
    """

    provisioning_step_type: str
    status: str
    description: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if self.provisioning_step_type not in STEP_TYPES:
            raise ValueError(f"unknown provisioning step type {self.provisioning_step_type!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown step status {self.status!r}")
        if not self.name:
            object.__setattr__(self, "name", self.provisioning_step_type)
        object.__setattr__(self, "details", _redact_details(self.details))

    def to_graph(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provisioningStepType": self.provisioning_step_type,
            "status": self.status,
            "description": self.description,
            "details": dict(self.details),
        }

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> ProvisioningStep:
        return cls(
            provisioning_step_type=data["provisioningStepType"],
            status=data["status"],
            description=data.get("description") or "",
            details=data.get("details") or {},
            name=data.get("name") or "",
        )


@dataclass(frozen=True, slots=True)
class ModifiedProperty:
    """Graph's modifiedProperty (``displayName``, ``oldValue``, ``newValue``).

    The issue calls the first field "name"; Graph calls it ``displayName`` and so do
    we. Values of a property whose name looks like a secret become ``[REDACTED]``.
    """

    display_name: str
    old_value: str | None = None
    new_value: str | None = None

    def __post_init__(self) -> None:
        if is_secret_name(self.display_name):
            if self.old_value is not None:
                object.__setattr__(self, "old_value", REDACTED)
            if self.new_value is not None:
                object.__setattr__(self, "new_value", REDACTED)

    @classmethod
    def of(cls, display_name: str, old: Any, new: Any) -> ModifiedProperty:
        """Build one from any values: strings stay, others become JSON text."""
        return cls(display_name, _as_text(old), _as_text(new))

    def to_graph(self) -> dict[str, Any]:
        return {
            "displayName": self.display_name,
            "oldValue": self.old_value,
            "newValue": self.new_value,
        }

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> ModifiedProperty:
        return cls(data["displayName"], data.get("oldValue"), data.get("newValue"))


def modified_properties(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ModifiedProperty]:
    """Return the properties whose value differs between ``old`` and ``new``, by name."""
    names = sorted(old.keys() | new.keys())
    return [
        ModifiedProperty.of(name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name)
    ]


@dataclass(slots=True)
class LogEntry:
    """One provisioning event: Graph's provisioningObjectSummary, in snake_case."""

    cycle_id: str
    job_id: str
    object_type: str
    action: str
    status: str
    source_identity: ProvisionedIdentity
    target_identity: ProvisionedIdentity | None = None
    error_code: str | None = None
    reason: str | None = None
    provisioning_steps: list[ProvisioningStep] = field(default_factory=list)
    modified_properties: list[ModifiedProperty] = field(default_factory=list)
    duration_in_milliseconds: int = 0
    activity_date_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    change_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    id: str = field(default_factory=new_log_id)

    def __post_init__(self) -> None:
        # Checked here, once, so a wrong value fails in the engine and not in a report.
        if self.action not in ACTIONS:
            raise ValueError(f"unknown provisioning action {self.action!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown provisioning status {self.status!r}")
        if self.object_type not in OBJECT_TYPES:
            raise ValueError(f"unknown object type {self.object_type!r}")
        self.activity_date_time = _utc(self.activity_date_time)

    @property
    def steps(self) -> list[ProvisioningStep]:
        """The issue's name for Graph's ``provisioningSteps``."""
        return self.provisioning_steps

    def to_graph(self) -> dict[str, Any]:
        """Return the entry as Graph's JSON, with the flat aliases beside Graph's names."""
        steps = [step.to_graph() for step in self.provisioning_steps]
        error = None
        if self.error_code is not None or self.reason is not None:
            error = {
                "errorCode": self.error_code,
                "reason": self.reason,
                "additionalDetails": None,
                "recommendedAction": recommended_action(self.error_code),
            }
        return {
            "id": self.id,
            "activityDateTime": format_timestamp(self.activity_date_time),
            "cycleId": self.cycle_id,
            "changeId": self.change_id,
            "jobId": self.job_id,
            "durationInMilliseconds": self.duration_in_milliseconds,
            "objectType": self.object_type,
            "provisioningAction": self.action,
            "action": self.action,
            "provisioningStatusInfo": {"status": self.status, "errorInformation": error},
            "status": self.status,
            "errorCode": self.error_code,
            "reason": self.reason,
            "sourceIdentity": self.source_identity.to_graph(),
            "targetIdentity": self.target_identity.to_graph() if self.target_identity else None,
            "provisioningSteps": steps,
            "steps": steps,
            "modifiedProperties": [prop.to_graph() for prop in self.modified_properties],
        }

    def _to_row(self, app_id: int) -> dict[str, Any]:
        target = self.target_identity
        return {
            "id": self.id,
            "app_id": app_id,
            "cycle_id": self.cycle_id,
            "change_id": self.change_id,
            "job_id": self.job_id,
            "activity_date_time": self.activity_date_time,
            "duration_ms": self.duration_in_milliseconds,
            "object_type": self.object_type,
            "action": self.action,
            "status": self.status,
            "error_code": self.error_code,
            "reason": self.reason,
            "source_identity": self.source_identity.to_graph(),
            "target_identity": target.to_graph() if target is not None else None,
            "steps": [step.to_graph() for step in self.provisioning_steps],
            "modified_properties": [prop.to_graph() for prop in self.modified_properties],
        }

    @classmethod
    def _from_row(cls, row: Row[Any]) -> LogEntry:
        target = row.target_identity
        return cls(
            id=row.id,
            cycle_id=row.cycle_id,
            change_id=row.change_id,
            job_id=row.job_id,
            activity_date_time=row.activity_date_time,
            duration_in_milliseconds=row.duration_ms,
            object_type=row.object_type,
            action=row.action,
            status=row.status,
            error_code=row.error_code,
            reason=row.reason,
            source_identity=ProvisionedIdentity.from_graph(row.source_identity),
            target_identity=ProvisionedIdentity.from_graph(target) if target else None,
            provisioning_steps=[ProvisioningStep.from_graph(s) for s in row.steps],
            modified_properties=[ModifiedProperty.from_graph(p) for p in row.modified_properties],
        )


class LogWriter:
    """Buffer one app's log entries and write them in batches.

    A first cycle over 100,000 objects logs 100,000 entries or more: one INSERT
    (executemany) per batch instead of one statement and commit per entry.
    ``add`` is safe to call from several threads.
    """

    def __init__(self, app_id: int, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.app_id = app_id
        self.batch_size = batch_size
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.written = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, entry: LogEntry) -> bool:
        """Buffer ``entry``; return True once a full batch waits to be flushed."""
        row = entry._to_row(self.app_id)
        with self._lock:
            self._pending.append(row)
            return len(self._pending) >= self.batch_size

    def flush(self, conn: Connection) -> int:
        """Insert every buffered entry on ``conn`` (the caller commits); return how many."""
        with self._lock:
            rows, self._pending = self._pending, []
        for start in range(0, len(rows), self.batch_size):
            conn.execute(insert(provisioning_logs), rows[start : start + self.batch_size])
        self.written += len(rows)
        return len(rows)


def query_logs(
    engine: Engine | Connection,
    app_id: int,
    *,
    status: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    user: str | None = None,
    cycle_id: str | None = None,
    limit: int | None = None,
) -> list[LogEntry]:
    """Return ``app_id``'s entries matching every filter given, oldest first.

    ``user`` matches, ignoring case, the source identity's id, UPN or display name, or
    the target identity's id. With ``limit``, the latest ``limit`` entries are kept.
    """
    logs = provisioning_logs.c
    conditions = [logs.app_id == app_id]
    if status is not None:
        conditions.append(logs.status == status)
    if action is not None:
        conditions.append(logs.action == action)
    if since is not None:
        conditions.append(logs.activity_date_time >= _utc(since))
    if cycle_id is not None:
        conditions.append(logs.cycle_id == cycle_id)
    if user is not None:
        needle = user.strip().lower()
        source, target = logs.source_identity, logs.target_identity
        conditions.append(
            or_(
                *(
                    func.lower(path.as_string()) == needle
                    for path in (
                        source["id"],
                        source[("details", UPN_DETAIL)],
                        source["displayName"],
                        target["id"],
                    )
                )
            )
        )
    newest_first = limit is not None
    order = (logs.activity_date_time, logs.id)
    statement = select(provisioning_logs).where(*conditions)
    if newest_first:
        statement = statement.order_by(*(column.desc() for column in order)).limit(limit)
    else:
        statement = statement.order_by(*order)
    if isinstance(engine, Connection):
        rows = engine.execute(statement).all()
    else:
        with engine.connect() as conn:
            rows = conn.execute(statement).all()
    entries = [LogEntry._from_row(row) for row in rows]
    if newest_first:
        entries.reverse()
    return entries


def purge_old_logs(
    conn: Connection, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS
) -> int:
    """Delete entries older than ``retention_days`` before ``now``; return how many."""
    if retention_days < 0:
        raise ValueError("retention_days cannot be negative")
    cutoff = _utc(now) - timedelta(days=retention_days)
    result = conn.execute(
        delete(provisioning_logs).where(provisioning_logs.c.activity_date_time < cutoff)
    )
    return result.rowcount


_WHITESPACE = re.compile(r"\s+")
_TABLE_HEADER = ("TIME", "ACTION", "STATUS", "TYPE", "SOURCE", "TARGET", "ERROR")
_TABLE_CAPS = (None, None, None, None, 40, 40, 100)  # widest a column may grow


def _cell(text: str, cap: int | None) -> str:
    # One line per entry: a reason carrying newlines would break the columns.
    text = _WHITESPACE.sub(" ", text).strip()
    if cap is not None and len(text) > cap:
        return text[: cap - 1] + "…"
    return text


def _table_row(entry: LogEntry) -> tuple[str, ...]:
    target = entry.target_identity
    error = ": ".join(part for part in (entry.error_code, entry.reason) if part)
    return (
        format_timestamp(entry.activity_date_time, "seconds"),
        entry.action,
        entry.status,
        entry.object_type,
        entry.source_identity.label(),
        (target.display_name or target.id) if target else "",
        error,
    )


def format_table(entries: Sequence[LogEntry]) -> str:
    """Return aligned columns for a terminal: time, action, status, type, source, target, error."""
    rows = [
        tuple(_cell(value, cap) for value, cap in zip(_table_row(e), _TABLE_CAPS, strict=True))
        for e in entries
    ]
    widths = [max(len(row[i]) for row in [_TABLE_HEADER, *rows]) for i in range(len(_TABLE_HEADER))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in [_TABLE_HEADER, *rows]
    ]
    return "\n".join(lines)


def format_json(entries: Sequence[LogEntry]) -> str:
    """Return a JSON array of Graph-shaped entries."""
    return orjson.dumps(
        [entry.to_graph() for entry in entries], option=orjson.OPT_INDENT_2
    ).decode()


_CSV_NESTED = ("sourceIdentity", "targetIdentity", "provisioningSteps", "modifiedProperties")
_CSV_IDS = ("id", "activityDateTime", "cycleId", "changeId", "jobId", "durationInMilliseconds")
CSV_COLUMNS: Final = (
    *_CSV_IDS,
    "objectType",
    "action",
    "status",
    "errorCode",
    "reason",
    *_CSV_NESTED,
)


def format_csv(entries: Sequence[LogEntry]) -> str:
    """Return RFC 4180 CSV: a header, then one row per entry, nested fields as JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        graph = entry.to_graph()
        writer.writerow(
            [
                orjson.dumps(graph[name]).decode()
                if name in _CSV_NESTED and graph[name] is not None
                else ("" if graph[name] is None else graph[name])
                for name in CSV_COLUMNS
            ]
        )
    return out.getvalue()
