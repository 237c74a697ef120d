"""Import users and groups from a JSON or CSV file into the directory: all of it, or nothing.

JSON is ``{"users": [...], "groups": [...]}``; a group's ``members`` are users'
userPrincipalNames (or objectIds) and ``{"group": "displayName"}`` entries, so
groups may nest. CSV holds users only, one per row, the header naming attributes.

Users are matched by objectId, else userPrincipalName (any case); groups by
objectId, else displayName. An attribute an entry leaves out keeps its value; a
``null`` (or an empty CSV cell) clears it. A group entry without ``members``
leaves its members alone. With ``replace`` the file is the whole directory:
users it no longer holds are soft-deleted, groups it no longer holds removed.

The whole file is checked before anything is written, and written in one
transaction stamped with one change number; an object the file leaves as it
was keeps its old number, so a re-import is not mistaken for a change.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import orjson
from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update

from scimitar.db.engine import write_transaction
from scimitar.directory.json_lines import json_line
from scimitar.directory.members import write_membership_changes
from scimitar.directory.model import (
    GROUP,
    USER,
    USER_ATTRIBUTES,
    AttributeProblem,
    DirectoryError,
    check_attribute_name,
    group_document,
    normalise_group,
    normalise_user,
    user_document,
)
from scimitar.directory.rows import chunks, members_of, next_seq, utcnow
from scimitar.directory.store import hard_delete_groups
from scimitar.directory.tables import directory_groups, directory_users

MAX_SHOWN = 20  # problems listed in the message; the exception carries them all
_u = directory_users.c
_g = directory_groups.c
_USER_SPELLING = {name.casefold(): name for name in USER_ATTRIBUTES}

Origin = tuple[str | int, ...] | int  # a JSON path, or a CSV line number


class DirectoryImportError(DirectoryError):
    """The file was rejected whole; ``problems`` name each line and field, nothing was written."""

    def __init__(self, name: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = [f"  {problem}" for problem in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            shown.append(f"  ... and {len(self.problems) - MAX_SHOWN} more")
        count = f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}"
        super().__init__("\n".join([f"{name}: rejected ({count}), nothing imported:", *shown]))


@dataclass(frozen=True, slots=True)
class Counts:
    """What an import did to one kind of object (users: ``deleted`` means soft-deleted)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    deleted: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    users: Counts
    groups: Counts
    members_added: int = 0
    members_removed: int = 0
    change_seq: int | None = None  # None when the file changed nothing

    def lines(self) -> list[str]:
        """Describe the import for a person, one line per kind of object."""
        u, g = self.users, self.groups
        return [
            f"users: {u.created} created, {u.updated} updated, {u.restored} restored, "
            f"{u.unchanged} unchanged, {u.deleted} soft-deleted",
            f"groups: {g.created} created, {g.updated} updated, {g.unchanged} unchanged, "
            f"{g.deleted} deleted",
            f"memberships: {self.members_added} added, {self.members_removed} removed",
        ]


@dataclass(slots=True)
class _Entry:
    origin: Origin
    changes: dict[str, object]
    key: str  # casefolded userPrincipalName or displayName
    members: list[tuple[Origin, object]] | None = None  # groups only; None: leave alone
    target: str = ""  # the objectId it creates or updates, set when planning


@dataclass(slots=True)
class _Source:
    """The file being imported, and the problems found in it so far."""

    name: str
    text: str = ""
    is_json: bool = False
    found: list[tuple[Origin, str | None, str]] = field(default_factory=list)

    def problem(self, origin: Origin, attribute: str | None, message: str) -> None:
        self.found.append((origin, attribute, message))

    def fail(self, origin: Origin, attribute: str | None, message: str) -> NoReturn:
        self.problem(origin, attribute, message)
        self.check()
        raise AssertionError("check() raises when a problem was found")

    def check(self) -> None:
        if self.found:
            raise DirectoryImportError(
                self.name,
                # Locating a JSON problem re-scans the text: only for those shown.
                [self._describe(*item, i < MAX_SHOWN) for i, item in enumerate(self.found)],
            )

    def _describe(self, origin: Origin, attribute: str | None, message: str, locate: bool) -> str:
        if isinstance(origin, int):
            return f"line {origin}{f', {attribute}' if attribute else ''}: {message}"
        path = (*origin, attribute) if attribute else origin
        line = f" (line {json_line(self.text, path)})" if locate else ""
        return f"{_where(path)}{line}: {message}"


def import_file(engine: Engine, path: Path, *, replace: bool = False) -> ImportReport:
    """Import a ``.json`` or ``.csv`` file (other names: sniffed from the first character)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DirectoryImportError(path.name, [f"cannot read the file: {exc.strerror}"]) from exc
    return import_bytes(engine, data, name=path.name, replace=replace)


def import_bytes(engine: Engine, data: bytes, *, name: str, replace: bool = False) -> ImportReport:
    """Import a file's content; ``name`` (its file name) picks JSON or CSV and labels errors."""
    source = _Source(name)
    text = _decode(source, data)
    source.text = text
    suffix = Path(name).suffix.casefold()
    source.is_json = suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("{", "["))
    users, groups = _parse_json(source) if source.is_json else (_parse_csv(source), [])
    _check_duplicates(source, users, "userPrincipalName")
    _check_duplicates(source, groups, "displayName")
    source.check()
    with write_transaction(engine) as conn:
        return _Plan(conn, source, replace).run(users, groups)


def _decode(source: _Source, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        source.fail(
            line,
            None,
            f"byte 0x{data[exc.start]:02x} at column {column} is not UTF-8; save the file as UTF-8",
        )


# -- reading the file -----------------------------------------------------------------


def _parse_json(source: _Source) -> tuple[list[_Entry], list[_Entry]]:
    try:
        document = orjson.loads(source.text)
    except orjson.JSONDecodeError as exc:
        source.fail(exc.lineno, None, f"not valid JSON at column {exc.colno}: {exc.msg}")
    if not isinstance(document, dict):
        source.fail(1, None, 'expected an object: {"users": [...], "groups": [...]}')
    for key in document:
        if key not in ("users", "groups"):
            source.problem((key,), None, 'unknown key; the file holds "users" and "groups"')
    lists: dict[str, list[Any]] = {}
    for key in ("users", "groups"):
        value = document.get(key, [])
        if not isinstance(value, list):
            source.problem((key,), None, "expected a list")
            value = []
        lists[key] = value
    users = [
        entry
        for index, raw in enumerate(lists["users"])
        if (entry := _user_entry(source, ("users", index), raw)) is not None
    ]
    groups = [
        entry
        for index, raw in enumerate(lists["groups"])
        if (entry := _group_entry(source, ("groups", index), raw)) is not None
    ]
    return users, groups


def _parse_csv(source: _Source) -> list[_Entry]:
    reader = csv.reader(io.StringIO(source.text, newline=""), strict=True)
    header: list[str] | None = None
    entries: list[_Entry] = []
    line = 1
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                line = reader.line_num + 1  # blank line, or Excel's trailing ",,,"
                continue
            if header is None:
                header = _csv_header(source, line, record)
                source.check()  # a bad header would fail every row: say it once
            elif len(record) != len(header):
                source.problem(
                    line, None, f"{len(record)} fields, but the header has {len(header)}"
                )
            else:
                entry = _user_entry(source, line, dict(zip(header, record, strict=True)))
                if entry is not None:
                    entries.append(entry)
            line = reader.line_num + 1
    except csv.Error as exc:
        source.problem(line, None, f"not valid CSV: {exc}")
    if header is None and not source.found:
        source.problem(1, None, "the file is empty; the first line names the attributes")
    return entries


def _csv_header(source: _Source, line: int, record: list[str]) -> list[str]:
    names: list[str] = []
    for number, cell in enumerate(record, start=1):
        name = _USER_SPELLING.get(cell.strip().casefold(), cell.strip())
        if not name:
            source.problem(line, None, f"column {number} has no name")
        elif name in names:
            source.problem(line, name, f"column {number} repeats this attribute")
        elif name not in USER_ATTRIBUTES:
            try:
                check_attribute_name(name)
            except AttributeProblem as exc:
                source.problem(line, name, f"column {number}: {exc.message}")
        names.append(name or f"column {number}")
    if "userPrincipalName" not in names:
        source.problem(line, None, "the header has no userPrincipalName column")
    return names


def _user_entry(source: _Source, origin: Origin, raw: object) -> _Entry | None:
    if not isinstance(raw, dict):
        source.problem(origin, None, "expected an object with a user's attributes")
        return None
    try:
        changes = normalise_user(raw)
    except AttributeProblem as exc:
        source.problem(origin, exc.field, exc.message)
        return None
    upn = changes.get("userPrincipalName")
    if not isinstance(upn, str):
        source.problem(origin, "userPrincipalName", "missing; every user needs one")
        return None
    return _Entry(origin, changes, upn.casefold())


def _group_entry(source: _Source, origin: tuple[str | int, ...], raw: object) -> _Entry | None:
    if not isinstance(raw, dict):
        source.problem(origin, None, "expected an object with a group's attributes")
        return None
    members_key = next((key for key in raw if key.casefold() == "members"), None)
    attributes = {key: value for key, value in raw.items() if key != members_key}
    try:
        changes = normalise_group(attributes)
    except AttributeProblem as exc:
        source.problem(origin, exc.field, exc.message)
        return None
    name = changes.get("displayName")
    if not isinstance(name, str):
        source.problem(origin, "displayName", "missing; every group needs one")
        return None
    members: list[tuple[Origin, object]] | None = None
    if members_key is not None:
        listed = raw[members_key]
        if isinstance(listed, list):
            members = [((*origin, members_key, i), item) for i, item in enumerate(listed)]
        elif listed is not None:
            source.problem(origin, members_key, "expected a list")
            return None
        else:
            members = []
    return _Entry(origin, changes, name.casefold(), members)


def _check_duplicates(source: _Source, entries: list[_Entry], name_attribute: str) -> None:
    seen_keys: dict[str, Origin] = {}
    seen_ids: dict[str, Origin] = {}
    for entry in entries:
        first = seen_keys.setdefault(entry.key, entry.origin)
        if first != entry.origin:
            source.problem(entry.origin, name_attribute, f"repeats {_where(first)}")
        object_id = entry.changes.get("objectId")
        if isinstance(object_id, str):
            first = seen_ids.setdefault(object_id, entry.origin)
            if first != entry.origin:
                source.problem(entry.origin, "objectId", f"repeats {_where(first)}")


def _where(origin: Origin) -> str:
    if isinstance(origin, int):
        return f"line {origin}"
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in origin)[1:]


# -- planning and writing -------------------------------------------------------------


class _Plan:
    """Match a parsed file against the directory, check references, then write."""

    def __init__(self, conn: Connection, source: _Source, replace: bool) -> None:
        self.conn, self.source, self.replace = conn, source, replace
        self.seq: int | None = None
        self.now = utcnow()
        self.user_ids: set[str] = set()  # the users the file holds, once matched

    def change_seq(self) -> int:
        if self.seq is None:
            self.seq = next_seq(self.conn)
        return self.seq

    def run(self, users: list[_Entry], groups: list[_Entry]) -> ImportReport:
        conn, source = self.conn, self.source
        old_users = {
            oid: (key, document, deleted)
            for oid, key, document, deleted in conn.execute(
                select(_u.object_id, _u.upn_key, _u.attributes, _u.deleted_at)
            ).all()
        }
        old_groups = {
            oid: (key, document)
            for oid, key, document in conn.execute(
                select(_g.object_id, _g.name_key, _g.attributes)
            ).all()
        }
        self.user_ids = user_ids = self._match(users, {k: v[0] for k, v in old_users.items()}, USER)
        group_ids = self._match(groups, {k: v[0] for k, v in old_groups.items()}, GROUP)
        user_refs = {**self._refs(old_users, user_ids), **{e.key: e.target for e in users}}
        group_refs = {**self._refs(old_groups, group_ids), **{e.key: e.target for e in groups}}
        for entry in users:
            manager = entry.changes.get("manager")
            if isinstance(manager, str):
                found = user_refs.get(manager.casefold()) or user_refs.get(manager)
                if found is None:
                    source.problem(entry.origin, "manager", self._unknown("user", manager))
                elif found == entry.target:
                    source.problem(entry.origin, "manager", "a user cannot be their own manager")
                entry.changes["manager"] = found
        memberships = {
            entry.target: self._members(entry, user_refs, group_refs)
            for entry in groups
            if entry.members is not None
        }
        source.check()

        user_counts, users_written = self._write_users(users, old_users)
        gone_groups = [oid for oid in old_groups if oid not in group_ids] if self.replace else []
        if gone_groups:
            hard_delete_groups(conn, gone_groups, self.change_seq(), self.now)
        group_counts, groups_written = self._write_groups(groups, old_groups, len(gone_groups))
        added, removed = self._write_members(memberships, users_written | groups_written)
        return ImportReport(user_counts, group_counts, added, removed, self.seq)

    def _match(self, entries: list[_Entry], old_keys: dict[str, str], kind: str) -> set[str]:
        """Set each entry's target objectId; check no name is left held by another object."""
        by_key = {key: oid for oid, key in old_keys.items()}
        for entry in entries:
            given = entry.changes.get("objectId")
            if isinstance(given, str):
                entry.target = given
            else:
                entry.target = by_key.get(entry.key) or str(uuid.uuid4())
        targets: dict[str, _Entry] = {}
        for entry in entries:
            twin = targets.setdefault(entry.target, entry)
            if twin is not entry:
                self.source.problem(
                    entry.origin, None, f"is the same {kind} as {_where(twin.origin)}"
                )
        name = "userPrincipalName" if kind == USER else "displayName"
        for entry in entries:
            holder = by_key.get(entry.key)
            # A holder this file renames frees the name; with --replace a group the
            # file drops is removed first. A soft-deleted user keeps its UPN.
            if (
                holder is not None
                and holder != entry.target
                and holder not in targets
                and not (self.replace and kind == GROUP)
            ):
                self.source.problem(
                    entry.origin,
                    name,
                    f"already belongs to another {kind} (objectId {holder}) "
                    "that this file does not hold",
                )
        return set(targets)

    def _refs(self, old: dict[str, Any], file_ids: set[str]) -> dict[str, str]:
        """Map names and objectIds a reference may use to objectIds (file entries added later)."""
        if self.replace:  # the file is the whole directory: only its own objects count
            return {oid: oid for oid in file_ids}
        refs = {value[0]: oid for oid, value in old.items()}
        refs.update({oid: oid for oid in old})
        refs.update({oid: oid for oid in file_ids})
        return refs

    def _unknown(self, kind: str, name: str) -> str:
        where = "this file" if self.replace else "this file or the directory"
        return f"no {kind} {name!r} in {where}"

    def _members(
        self, entry: _Entry, user_refs: dict[str, str], group_refs: dict[str, str]
    ) -> dict[str, str]:
        found: dict[str, str] = {}
        for origin, item in entry.members or []:
            if isinstance(item, str):
                kind, name = USER, item
            elif isinstance(item, dict) and len(item) == 1 and next(iter(item)) in (USER, GROUP):
                kind, name = next(iter(item.items()))
            else:
                self.source.problem(
                    origin, None, 'expected a userPrincipalName or {"group": "displayName"}'
                )
                continue
            refs = user_refs if kind == USER else group_refs
            target = refs.get(name.casefold()) or refs.get(name) if isinstance(name, str) else None
            if target is None:
                self.source.problem(origin, None, self._unknown(kind, str(name)))
            elif kind == GROUP and target == entry.target:
                self.source.problem(origin, None, "a group cannot be a member of itself")
            else:
                found[target] = kind
        return found

    def _write_users(
        self, entries: list[_Entry], old: dict[str, tuple[str, Any, Any]]
    ) -> tuple[Counts, set[str]]:
        new: list[dict[str, Any]] = []
        changed: list[tuple[dict[str, Any], str]] = []
        restored = 0
        for entry in entries:
            key, current, deleted = old.get(entry.target, (None, None, None))
            document = user_document(current, entry.changes, entry.target)
            if current is not None and document == current and deleted is None:
                continue
            row = {
                "object_id": entry.target,
                "user_principal_name": document["userPrincipalName"],
                "upn_key": entry.key,
                "account_enabled": document["accountEnabled"],
                "manager_id": document.get("manager"),
                "attributes": document,
                "deleted_at": None,
                "change_seq": self.change_seq(),
                "modified": self.now,
            }
            if key is None:
                new.append({**row, "created": self.now})
            else:
                changed.append((row, key))
                restored += deleted is not None
        written = self._save(directory_users, "upn_key", new, changed)
        gone: list[str] = []
        if self.replace:
            gone = [oid for oid, v in old.items() if oid not in self.user_ids and v[2] is None]
            for batch in chunks(gone):
                self.conn.execute(
                    update(directory_users)
                    .where(_u.object_id.in_(batch))
                    .values(deleted_at=self.now, change_seq=self.change_seq(), modified=self.now)
                )
        unchanged = len(entries) - len(new) - len(changed)
        counts = Counts(len(new), len(changed) - restored, unchanged, restored, len(gone))
        return counts, written | set(gone)

    def _write_groups(
        self, entries: list[_Entry], old: dict[str, tuple[str, Any]], deleted: int
    ) -> tuple[Counts, set[str]]:
        new: list[dict[str, Any]] = []
        changed: list[tuple[dict[str, Any], str]] = []
        for entry in entries:
            key, current = old.get(entry.target, (None, None))
            document = group_document(current, entry.changes, entry.target)
            if current is not None and document == current:
                continue
            row = {
                "object_id": entry.target,
                "display_name": document["displayName"],
                "name_key": entry.key,
                "attributes": document,
                "deleted_at": None,
                "change_seq": self.change_seq(),
                "modified": self.now,
            }
            if key is None:
                new.append({**row, "created": self.now})
            else:
                changed.append((row, key))
        written = self._save(directory_groups, "name_key", new, changed)
        unchanged = len(entries) - len(new) - len(changed)
        return Counts(len(new), len(changed), unchanged, 0, deleted), written

    def _save(
        self,
        table: Table,
        key: str,
        new: list[dict[str, Any]],
        changed: list[tuple[dict[str, Any], str]],
    ) -> set[str]:
        """Insert and update rows, one executemany each; return the objectIds written.

        A renamed object first moves to a placeholder key (control character, then
        its objectId) so that two objects swapping names never collide on the
        unique key half-way.
        """
        where = table.c.object_id == bindparam("b_object_id")
        renames = [
            {"b_object_id": row["object_id"], "b_key": f"\x01{row['object_id']}"}
            for row, old_key in changed
            if old_key != row[key]
        ]
        if renames:
            self.conn.execute(update(table).where(where).values({key: bindparam("b_key")}), renames)
        if changed:
            columns: dict[str, Any] = {
                name: bindparam(f"b_{name}") for name in changed[0][0] if name != "object_id"
            }
            self.conn.execute(
                update(table).where(where).values(columns),
                [{f"b_{name}": value for name, value in row.items()} for row, _ in changed],
            )
        if new:
            self.conn.execute(insert(table), new)
        return {row["object_id"] for row in new} | {row["object_id"] for row, _ in changed}

    def _write_members(
        self, memberships: dict[str, dict[str, str]], stamped: set[str]
    ) -> tuple[int, int]:
        if not memberships:
            return 0, 0
        current = members_of(self.conn, memberships)
        changes: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
        for group_id, wanted in memberships.items():
            have = {mid: kind for kind, mid in current[group_id]}
            added = [(kind, mid) for mid, kind in wanted.items() if have.get(mid) != kind]
            removed = [(kind, mid) for mid, kind in have.items() if wanted.get(mid) != kind]
            if added or removed:
                changes[group_id] = (added, removed)
        if not changes:
            return 0, 0
        write_membership_changes(self.conn, changes, self.change_seq(), stamped)
        return (
            sum(len(added) for added, _ in changes.values()),
            sum(len(removed) for _, removed in changes.values()),
        )
