"""Summarise a py-spy collapsed-stack (``--format raw``) profile into where the time goes.

Each line of the file is ``frame;frame;...;leaf count``, a frame being
``function (path:line)``. Samples whose leaf is a thread or event loop waiting
(``IDLE``) are set aside: py-spy's own idle detection does not work on every
kernel, and only busy samples say where CPU goes. Each *view* then sorts the
busy samples by rules (label, substrings):

- ``stack`` views give a sample to the first rule with a substring anywhere in
  its stack (what the sample was done *for*: a matching GET, a POST, ...);
- ``leaf`` views give it to the innermost frame that matches any rule (what
  kind of code was running: SQLite, HTTP parsing, importlib, ...);
- ``inclusive`` views count, for each rule, the samples with a substring anywhere
  in the stack: named hot spots, which may overlap and need not add up.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Rules = list[tuple[str, tuple[str, ...]]]

IDLE = (
    "Condition.wait (threading.py",
    "Runner.run (asyncio/runners.py",  # uvloop's C loop below: waiting in epoll
    "_worker (concurrent/futures/thread.py",
    "WorkerThread.run (anyio/_backends/_asyncio.py",
    "EpollSelector.select (selectors.py",
    "Thread._wait_for_tstate_lock",
)


@dataclass(frozen=True)
class View:
    heading: str
    rules: Rules
    mode: Literal["stack", "leaf", "inclusive"]


ENGINE_VIEWS = [
    View(
        "engine CPU by purpose",
        [
            (
                "matching GET (objects.match)",
                ("match (scimitar/provisioning/engine/objects",),
            ),
            (
                "create POST (objects.create)",
                ("create (scimitar/provisioning/engine/objects",),
            ),
            (
                "PATCH: updates, manager references, memberships",
                (
                    "update (scimitar/provisioning/engine/objects",
                    "resolve_managers (",
                    "sync_memberships (",
                ),
            ),
            ("mapping the source object (map_object)", ("map_object (",)),
            ("flush: logs, links, escrows to the engine DB", ("flush (scimitar/provisioning",)),
            (
                "load candidates, links, memberships",
                ("_candidates (", "load_links (", "load_memberships (", "Entitlements"),
            ),
            ("plan: scope decisions", ("plan_users (", "plan_groups (")),
            ("finish: cycle record, state, log purge", ("_finish (",)),
            (
                "event loop callbacks (socket reads, timers)",
                ("asyncio/", "anyio/", "httpcore/", "uvloop"),
            ),
        ],
        "stack",
    ),
    View(
        "engine CPU by layer",
        [
            ("failed `import sniffio` in httpcore, per request", ("importlib",)),
            ("socket send/recv syscalls (asyncio transport)", ("asyncio/selector_events",)),
            ("httpx / httpcore / h11 client stack", ("httpx/", "httpcore/", "h11/")),
            ("anyio (semaphore, cancel scopes)", ("anyio/",)),
            ("SQLAlchemy + SQLite (engine DB)", ("sqlalchemy/",)),
            ("expressions", ("scimitar/provisioning/expressions",)),
            (
                "mapping, transform, SCIM bodies",
                ("scimitar/provisioning/engine/transform", "scimitar/provisioning/engine/mapper"),
            ),
            ("provisioning log entries", ("scimitar/provisioning/logs",)),
            ("SCIM client (scim_client.py)", ("scimitar/provisioning/scim_client",)),
            ("engine (other scimitar code)", ("scimitar/",)),
            ("asyncio event loop", ("asyncio/",)),
        ],
        "leaf",
    ),
    View(
        "engine hot spots (inclusive; they overlap)",
        [
            ("httpcore: failed `import sniffio` (current_async_library)", ("importlib",)),
            (
                "httpcore: pool bookkeeping (_assign_requests_to_connections)",
                ("_assign_requests_to_connections",),
            ),
            ("socket send (asyncio transport write)", ("_SelectorSocketTransport.write",)),
            ("mapping: map_object", ("map_object (",)),
            (
                "mapping: hashing the frozen ResourceType for lru_cache keys",
                ("__create_fn__.<locals>.__hash__",),
            ),
            ("cycle bookkeeping: record + flush", ("CycleContext.record", "CycleContext.flush")),
        ],
        "inclusive",
    ),
]

TARGET_VIEWS = [
    View(
        "target CPU by request kind",
        [
            ("POST /Groups: member type lookup (resolve_member_types)", ("resolve_member_types",)),
            ("POST (create user or group)", ("ScimService.create", "ScimEndpoints.create")),
            (
                "GET ?filter= (the engine's matching queries)",
                ("ScimService.query", "ScimEndpoints.list", "ScimEndpoints._search"),
            ),
            ("PATCH", ("ScimService.patch", "ScimEndpoints.patch")),
            ("per-request plumbing outside handlers", ("uvicorn/", "starlette/", "scimitar/")),
            ("thread hand-off and event loop", ("threading.py", "asyncio/", "anyio/")),
        ],
        "stack",
    ),
    View(
        "target CPU by layer",
        [
            (
                "SQLite: execute and fetch",
                (
                    "do_execute",
                    "do_executemany",
                    "fetchone",
                    "fetchall",
                    "SqliteDb.rows",
                    "SqliteDb.run",
                    "SqliteDb.first",
                ),
            ),
            ("SQLite: begin and commit", ("do_commit", "transaction (scimitar/server/store/db")),
            ("SQLAlchemy statement building and compiling", ("sqlalchemy/",)),
            ("API key check", ("scimitar/server/auth",)),
            ("SCIM filter parse / SQL compile", ("scimitar/scim/filter", "sql_filter")),
            ("metrics middleware", ("scimitar/server/metrics",)),
            ("scimitar server code", ("scimitar/",)),
            ("HTTP: uvicorn / httptools / starlette", ("uvicorn/", "httptools", "starlette/")),
            ("thread hand-off (anyio to_thread)", ("threading.py", "anyio/", "concurrent/")),
            ("asyncio event loop", ("asyncio/",)),
        ],
        "leaf",
    ),
]

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(.*) \((.*?):(\d+)\)$")


def _stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        found = _LINE.match(line)
        if found:
            stacks.append((found.group(1).split(";"), int(found.group(2))))
    return stacks


def _function(frame: str) -> str:
    found = _FRAME.match(frame)
    if not found:
        return frame
    name, where, _line = found.groups()
    where = where.split("site-packages/")[-1].split("/src/")[-1]
    return f"{name} ({where})"


def _labels(frames: list[str], view: View) -> list[str]:
    if view.mode == "inclusive":
        joined = ";".join(frames)
        return [name for name, needles in view.rules if any(n in joined for n in needles)]
    return [_label(frames, view)]


def _label(frames: list[str], view: View) -> str:
    if view.mode == "stack":
        joined = ";".join(frames)
        for name, needles in view.rules:
            if any(n in joined for n in needles):
                return name
        return "other"
    for frame in reversed(frames):
        for name, needles in view.rules:
            if any(n in frame for n in needles):
                return name
    return "other"


def summarise(path: Path, title: str, views: list[View], top: int = 10) -> list[str]:
    """Return Markdown lines: busy share, each view's table, self and inclusive top lists."""
    if not path.exists():
        return [f"{title}: no profile at {path}"]
    stacks = _stacks(path)
    total = sum(count for _frames, count in stacks)
    busy = [(frames, n) for frames, n in stacks if not frames[-1].startswith(IDLE)]
    samples = sum(n for _frames, n in busy)
    if not samples:
        return [f"{title}: no busy samples in {path}"]
    lines = [
        f"### {title}: {samples:,} busy samples of {total:,} "
        f"({100 * samples / total:.0f}%; the rest are threads waiting)\n"
    ]
    for view in views:
        counts: Counter[str] = Counter()
        for frames, n in busy:
            for label in _labels(frames, view):
                counts[label] += n
        lines += [f"| {view.heading} | share |", "|---|---:|"]
        lines += [f"| {name} | {100 * n / samples:.1f}% |" for name, n in counts.most_common()]
        lines.append("")
    own: Counter[str] = Counter()
    through: Counter[str] = Counter()
    for frames, n in busy:
        own[_function(frames[-1])] += n
        for function in {_function(f) for f in frames if "scimitar/" in f}:
            through[function] += n
    lines += ["| most self time | share |", "|---|---:|"]
    lines += [f"| `{name}` | {100 * n / samples:.1f}% |" for name, n in own.most_common(top)]
    lines += ["", "| scimitar functions, inclusive | share |", "|---|---:|"]
    lines += [f"| `{name}` | {100 * n / samples:.1f}% |" for name, n in through.most_common(top)]
    return lines
