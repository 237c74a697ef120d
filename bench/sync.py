"""Benchmark the provisioning engine: initial cycle, 1% change, no change.

    .venv/bin/python bench/sync.py                  # 10,000 users, 100 groups (1-2 minutes)
    .venv/bin/python bench/sync.py --quick          # 1,000 users, 10 groups (~15 seconds)
    .venv/bin/python bench/sync.py --users 20000 --groups 200
    .venv/bin/python bench/sync.py --profile DIR    # py-spy both initial cycles, both sides
    .venv/bin/python bench/sync.py --quick --rtt 20       # a distant target: 20 ms per request

The organisation (``sync_org.py``) is imported into an engine-side SQLite
database with ``scimitar.directory.importer.import_file``; every group is assigned
to a Clarizen One app with the role User. The target is a real ``scimitar serve``
process with its own SQLite database. Phases:

1. initial cycle, at the engine's own request concurrency;
2. 1% change: 1% of users get a new jobTitle, 1% of memberships move between
   project teams (a second import of the whole file), then an incremental cycle;
3. no change: an incremental cycle with nothing to do;
4. the in-run baseline: the initial cycle again, on a fresh target and a copy of
   the engine database taken before phase 1, with the client's concurrency forced
   to 1. It shows what request concurrency buys on the same machine in the same run.

The concurrency is forced (and requests are timed by kind) by replacing the
``ScimClient`` name in ``scimitar.provisioning.engine.cycle`` with a subclass
(``MeteredClient``): a benchmark-only monkeypatch; nothing in ``src`` changes.

The external reference is Microsoft's documented estimate for an initial cycle
of "Sync assigned users and groups only": 0.01 to 0.08 minutes per assigned
user, group and group member.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
import orjson
from sqlalchemy import Engine

import scimitar
from scimitar.db.engine import make_engine, write_transaction
from scimitar.db.migrate import upgrade
from scimitar.directory import store as directory
from scimitar.directory.importer import import_file
from scimitar.provisioning import apps
from scimitar.provisioning.engine import cycle
from scimitar.provisioning.engine.cycle import Summary, run_cycle
from scimitar.provisioning.scim_client import ScimClient
from scimitar.server.tenants import create_key, create_tenant
from sync_org import Organisation, change, organisation
from sync_profile import ENGINE_VIEWS, TARGET_VIEWS, summarise
from sync_target import Meter, PySpy, Target

APP = "Clarizen One (bench)"
TENANT = "bench"
ROLE = "User"
# Microsoft's documented initial-cycle estimate, minutes per assigned user, group
# and group member ("How long will it take to provision users?").
ENTRA_MINUTES_PER_OBJECT = (0.01, 0.08)
ENTRA_SOURCE = (
    "https://learn.microsoft.com/entra/identity/app-provisioning/"
    "application-provisioning-when-will-provisioning-finish-specific-user"
)


# -- the metered client ----------------------------------------------------------------


class MeteredClient(ScimClient):
    """The engine's client, counting and timing each request by method and resource."""

    forced_concurrency: int | None = None
    # Simulated network round trip, seconds: see ``--rtt``.
    rtt: float = 0.0
    last: MeteredClient | None = None

    def __init__(self, base_url: str, token: str, **options: Any) -> None:
        if MeteredClient.forced_concurrency is not None:
            options["concurrency"] = MeteredClient.forced_concurrency
        super().__init__(base_url, token, **options)
        self.seconds: dict[str, float] = {}
        self.sent: Counter[str] = Counter()
        MeteredClient.last = self

    async def _send(self, method: str, url: str, content: bytes | None, headers: Any) -> Any:
        kind = f"{method} {url.partition('?')[0].partition('/')[0]}"
        began = time.perf_counter()
        try:
            if MeteredClient.rtt:
                # Inside the client's semaphore: the wait holds a concurrency slot, as
                # a request in flight to a distant target does, and costs no CPU.
                await anyio.sleep(MeteredClient.rtt)
            return await super()._send(method, url, content, headers)
        finally:
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - began
            self.sent[kind] += 1


@contextmanager
def concurrency(forced: int | None) -> Iterator[None]:
    """Make the engine build ``MeteredClient``s, with ``forced`` concurrency if given."""
    names = vars(cycle)  # the module's globals: run_cycle looks ScimClient up here
    original = names["ScimClient"]
    names["ScimClient"] = MeteredClient
    MeteredClient.forced_concurrency = forced
    try:
        yield
    finally:
        names["ScimClient"] = original
        MeteredClient.forced_concurrency = None


@dataclass
class Phase:
    """One measured cycle: its summary, wall time, both sides' meters and requests."""

    name: str
    concurrency: int
    wall: float
    summary: Summary
    engine: Meter
    target: Meter
    sent: Counter[str]
    seconds: dict[str, float]
    retries: int

    @property
    def objects(self) -> int:
        """Users and groups the cycle looked at: the sum of the summary's counts."""
        return sum(self.summary.counts.values())

    @property
    def requests(self) -> int:
        return self.summary.requests


def run_phase(
    key: str,
    name: str,
    engine: Engine,
    database_url: str,
    target: Target,
    *,
    forced: int | None = None,
    profile: Path | None = None,
) -> Phase:
    """Run one cycle of the app, measuring wall time, CPU and peak RSS of both sides."""
    meters = Meter(os.getpid()), Meter(target.pid)
    spies = []
    if profile is not None:
        spies = [
            PySpy(os.getpid(), profile / f"engine-{key}.txt"),
            PySpy(target.pid, profile / f"target-{key}.txt"),
        ]
    try:
        with concurrency(forced):
            for meter in meters:
                meter.start()
            began = time.perf_counter()
            summary = run_cycle(engine, database_url, APP)
            wall = time.perf_counter() - began
            for meter in meters:
                meter.stop()
    finally:
        for spy in spies:
            spy.stop()
    client = MeteredClient.last
    assert client is not None
    return Phase(
        name,
        client.concurrency,
        wall,
        summary,
        meters[0],
        meters[1],
        Counter(client.sent),
        dict(client.seconds),
        client.retries,
    )


# -- setup -----------------------------------------------------------------------------


def open_tenant(target: Target) -> str:
    """Create the target tenant (Clarizen One role policy) and return a new API key."""
    engine = make_engine(target.database_url)
    try:
        upgrade(engine)
        create_tenant(engine, TENANT, "clarizen-one")
        return create_key(engine, TENANT, frozenset({"integration-user", "lite-admin"})).secret
    finally:
        engine.dispose()


def add_app(engine: Engine, org: Organisation, target: Target, key: str) -> None:
    """Add the Clarizen One app, turn it on, and assign every group with the role User."""
    app = apps.add_app(engine, APP, "clarizen-one", tenant_url=target.tenant_url, secret_token=key)
    apps.set_status(engine, APP, "on")
    with write_transaction(engine) as conn:
        for group in org.groups:
            directory.assign(conn, app.id, "group", group["objectId"], ROLE)


def write_org(org: Organisation, path: Path) -> Path:
    path.write_bytes(orjson.dumps(org.document()))
    return path


def snapshot(source: Path, copy: Path) -> None:
    """Copy a live SQLite database consistently (the backup API, not a file copy)."""
    with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)


# -- report ----------------------------------------------------------------------------


def code_version() -> str:
    """Return the commit measured, and which files under src/ differ from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    package = Path(scimitar.__file__).resolve().parent
    if not package.is_relative_to(root / "src"):
        # PYTHONPATH points at another tree, e.g. `git archive HEAD` exported elsewhere.
        return f"scimitar imported from {package.parent} (not this checkout)"
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return f"{head}" + (f" plus uncommitted changes to {', '.join(changed)}" if changed else "")


def machine_facts() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, scimitar {metadata.version('scimitar')}, "
        f"SQLite {sqlite3.sqlite_version}; load average at start {load}",
        f"- code: {code_version()}",
    ]


def _mib(value: float | None, is_phase: bool) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if is_phase else f"{value:.0f}*"


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "—"


def phase_table(phases: list[Phase]) -> list[str]:
    lines = [
        "| phase | concurrency | wall s | objects | objects/s | requests | requests/object "
        "| engine CPU s | target CPU s | engine peak RSS MiB | target peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        rate = f"{p.objects / p.wall:,.0f}" if p.objects else "—"
        lines.append(
            f"| {p.name} | {p.concurrency} | {p.wall:.2f} | {p.objects:,} | {rate} "
            f"| {p.requests:,} | {_ratio(p.requests, p.objects)} "
            f"| {p.engine.cpu:.1f} | {p.target.cpu:.1f} "
            f"| {_mib(p.engine.peak_mib, p.engine.peak_is_phase)} "
            f"| {_mib(p.target.peak_mib, p.target.peak_is_phase)} |"
        )
    return lines


def detail_table(phases: list[Phase]) -> list[str]:
    lines = [
        "| phase | outcomes (objects) | requests by kind (share of summed request time) |",
        "|---|---|---|",
    ]
    for p in phases:
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(p.summary.counts.items()) if v)
        total = sum(p.seconds.values())
        kinds = ", ".join(
            f"{kind} {n:,} ({100 * p.seconds[kind] / total:.0f}%, "
            f"{1000 * p.seconds[kind] / n:.1f} ms each)"
            for kind, n in p.sent.most_common()
        )
        retries = f"; {p.retries} retries" if p.retries else ""
        lines.append(f"| {p.name} | {counts or 'none'} | {kinds or 'none'}{retries} |")
    return lines


def comparisons(org: Organisation, phases: dict[str, Phase]) -> list[str]:
    initial = phases["initial"]
    entra_objects = len(org.users) + len(org.groups) + org.memberships
    low, high = (m * entra_objects for m in ENTRA_MINUTES_PER_OBJECT)
    minutes = initial.wall / 60
    lines = [
        f"- Entra's documented initial-cycle estimate for this organisation "
        f"({len(org.users):,} assigned users + {len(org.groups):,} groups + "
        f"{org.memberships:,} group members = {entra_objects:,} objects, 0.01-0.08 min each): "
        f"{low:,.0f}-{high:,.0f} minutes. scimitar's initial cycle: {initial.wall:.1f} s "
        f"= {minutes:.2f} minutes, {low / minutes:,.0f}x to {high / minutes:,.0f}x less.",
        f"  Per Entra-counted object: {1000 * initial.wall / entra_objects:.2f} ms "
        f"(Entra: 600-4,800 ms).",
    ]
    for phase in (initial, phases.get("serial")):
        if phase is None:
            continue
        lines.append(
            f"- CPU per object, {phase.name}: engine "
            f"{1000 * phase.engine.cpu / phase.objects:.2f} ms, target "
            f"{1000 * phase.target.cpu / phase.objects:.2f} ms. Each side is one Python "
            f"process, so with a core each this cycle cannot beat "
            f"max({phase.engine.cpu:.1f}, {phase.target.cpu:.1f}) = "
            f"{max(phase.engine.cpu, phase.target.cpu):.1f} s of wall time."
        )
    serial = phases.get("serial")
    if serial is not None:
        lines.append(
            f"- Concurrency: the initial cycle at concurrency {initial.concurrency} took "
            f"{initial.wall:.1f} s; at concurrency 1 it took {serial.wall:.1f} s. Speed-up "
            f"from concurrency: {serial.wall / initial.wall:.2f}x "
            f"({initial.objects / initial.wall:,.0f} vs {serial.objects / serial.wall:,.0f} "
            "objects/s)."
        )
    changed = phases.get("change")
    if changed is not None and changed.objects:
        lines.append(
            f"- The 1% change cycle took {100 * changed.wall / initial.wall:.1f}% of the "
            f"initial cycle's time and {100 * changed.requests / initial.requests:.1f}% of its "
            "requests."
        )
    return lines


def checks(org: Organisation, phases: dict[str, Phase]) -> list[str]:
    """Say what a correct run must show, and whether this one did."""
    results = []
    initial = phases["initial"].summary.counts
    expected = org.enabled_users + len(org.groups)
    results.append(
        (
            f"initial cycle created {expected:,} objects (enabled users + groups)",
            initial.get("create", 0) == expected,
        )
    )
    for name, phase in phases.items():
        results.append((f"{name}: no failures", phase.summary.counts.get("failure", 0) == 0))
    if "quiet" in phases:
        results.append(("no-change cycle sent no request", phases["quiet"].requests == 0))
    return [f"- [{'x' if ok else ' '}] {text}" for text, ok in results]


def show_failures(phase: Phase) -> None:
    for entry in phase.summary.failures[:5]:
        print(f"  {phase.name}: {entry.error_code}: {entry.reason}", file=sys.stderr)


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000, help="users (default 10,000)")
    parser.add_argument("--groups", type=int, default=100, help="groups (default 100)")
    parser.add_argument("--quick", action="store_true", help="1,000 users and 10 groups")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the concurrency-1 initial cycle"
    )
    parser.add_argument(
        "--concurrency", type=int, help="force the client's concurrency (default: the engine's)"
    )
    parser.add_argument("--target-workers", type=int, default=1, help="scimitar serve --workers")
    parser.add_argument(
        "--rtt",
        type=float,
        default=0.0,
        metavar="MS",
        help="add MS milliseconds of simulated network round trip to every request",
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the initial cycle (engine and target) into DIR"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep databases and logs here (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.groups = 1_000, 10
    if args.users < 1 or args.groups < 3:
        parser.error("the organisation needs at least 1 user and 3 groups")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scimitar-sync-bench-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
        return run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> int:
    started = time.perf_counter()
    print(f"# Provisioning engine: {args.users:,} users, {args.groups:,} groups\n")
    print("\n".join(machine_facts()))
    if args.profile is not None:
        print("- profiled with py-spy (100 Hz): the initial cycles' timings include its pauses")
    if args.rtt:
        MeteredClient.rtt = args.rtt / 1000
        print(f"- simulated network round trip: {args.rtt:g} ms added to every request")
    setup: list[str] = []

    began = time.perf_counter()
    org = organisation(args.users, args.groups)
    setup.append(f"generate {time.perf_counter() - began:.1f} s")
    engine_path = workdir / "engine.db"
    engine_url = f"sqlite:///{engine_path}"
    engine = make_engine(engine_url)
    upgrade(engine)
    began = time.perf_counter()
    import_file(engine, write_org(org, workdir / "org.json"))
    setup.append(f"import {time.perf_counter() - began:.1f} s")

    phases: dict[str, Phase] = {}
    with Target(workdir, "target", args.target_workers) as target:
        add_app(engine, org, target, open_tenant(target))
        if not args.no_baseline:
            snapshot(engine_path, workdir / "engine-serial.db")
        phases["initial"] = run_phase(
            "initial",
            "initial",
            engine,
            engine_url,
            target,
            forced=args.concurrency,
            profile=args.profile,
        )
        moved = change(org)
        began = time.perf_counter()
        import_file(engine, write_org(org, workdir / "org-changed.json"))
        setup.append(f"import of the 1% change {time.perf_counter() - began:.1f} s")
        phases["change"] = run_phase(
            "change",
            f"1% change ({moved.users_modified} users, {moved.memberships_moved} memberships)",
            engine,
            engine_url,
            target,
            forced=args.concurrency,
        )
        phases["quiet"] = run_phase(
            "quiet", "no change", engine, engine_url, target, forced=args.concurrency
        )
    engine.dispose()
    if not args.no_baseline:
        serial_url = f"sqlite:///{workdir / 'engine-serial.db'}"
        serial_engine = make_engine(serial_url)
        with Target(workdir, "target-serial", args.target_workers) as target:
            key = open_tenant(target)
            apps.update_connection(
                serial_engine, APP, tenant_url=target.tenant_url, secret_token=key
            )
            phases["serial"] = run_phase(
                "serial",
                "initial, concurrency 1 (baseline)",
                serial_engine,
                serial_url,
                target,
                forced=1,
                profile=args.profile,
            )
        serial_engine.dispose()

    ordered = list(phases.values())
    print(f"- setup (not timed below): {', '.join(setup)}")
    print(
        f"- organisation: {len(org.users):,} users ({len(org.users) - org.enabled_users:,} "
        f"disabled), {len(org.groups):,} groups, {org.memberships:,} memberships; every group "
        f"assigned with role {ROLE}; target: scimitar serve --workers {args.target_workers}, "
        "SQLite"
    )
    print("\n## Cycles\n")
    print("\n".join(phase_table(ordered)))
    print(
        "\nobjects = users and groups the cycle looked at (the summary's counts); "
        "requests = HTTP requests sent to the target; CPU = user + system seconds of "
        "the engine (this process) and of the target process during the cycle; "
        "peak RSS = VmHWM over the cycle (* = since process start: reset not permitted)."
    )
    print("\n## Outcomes and requests\n")
    print("\n".join(detail_table(ordered)))
    print("\n## Against the references\n")
    print("\n".join(comparisons(org, phases)))
    print(f"\nEntra figures: {ENTRA_SOURCE}")
    print("\n## Checks\n")
    print("\n".join(checks(org, phases)))
    if args.profile is not None:
        for key in ("initial", "serial"):
            if key not in phases:
                continue
            print(f"\n## Profile: {phases[key].name} (py-spy, busy samples)\n")
            for side, views in (("engine", ENGINE_VIEWS), ("target", TARGET_VIEWS)):
                path = args.profile / f"{side}-{key}.txt"
                print("\n".join(summarise(path, side, views)))
                print()
    for phase in ordered:
        show_failures(phase)
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    failed = any(p.summary.counts.get("failure", 0) for p in ordered)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
