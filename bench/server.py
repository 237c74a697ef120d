"""Benchmark ``scimitar serve`` against a ceiling and a Python peer, on this machine.

    .venv/bin/python bench/server.py            # the full run (~17 minutes)
    .venv/bin/python bench/server.py --quick    # 20,000 users, short runs, one round

Measures requests/s, p50 and p99 of: create user, get by id, ``filter userName eq``
on a 100,000-user tenant, PATCH replace, and adding one member to groups of 10,
10,000 and 100,000 members, on:

- scimitar on SQLite (1 worker) and on PostgreSQL (2 workers), a fresh database each;
- the ceiling: a minimal endpoint on the same HTTP layer and uvicorn stack (1 and 2 workers);
- the Python peer: scim2-server's ASGI application on uvicorn (in memory, 1 worker).

Load comes from wrk (bench/wrk/*.lua). Every server is seeded over its own HTTP API
with the same data. All servers then run side by side, and the user operations are
measured in rounds (3 by default), each operation on every server in turn; each
figure is the median of its rounds. Prints Markdown tables (figures, ratios to both references,
PASS/FAIL against the issue's targets, memory) and writes everything to
bench/results/<timestamp>.json, with the servers' logs beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from server_load import Load, Measurement, run_sequential, run_wrk, too_slow_for_wrk, wrk_binary
from server_postgres import analyze_database, postgres_database, relaxed_commits
from server_procs import CpuWindow, Server, free_port, wait_until_quiet
from server_profile import profiling
from server_report import judge, print_report
from server_seed import Seeder, user_name
from server_workload import (
    ADD_OPS,
    ADD_SMALL,
    CREATE,
    FILTER,
    GET,
    ORDER,
    PATCH,
    PROBES,
    Dataset,
    Layout,
    Operation,
    fake_dataset,
    title,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
VENV_BIN = Path(sys.executable).parent
SYSTEMS = ("ceiling", "scim2", "sqlite", "postgres")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SCIM_TYPE = "application/scim+json"
# Cores busy with other work below which the machine counts as quiet.
QUIET_CORES = 0.3
# Users seeded before PostgreSQL's planner statistics are first refreshed.
ANALYZE_AFTER = 5000


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclass
class Target:
    """A server under test: how to start it, where its SCIM API is, how to authenticate."""

    key: str
    label: str
    workers: int
    server: Server
    base: str = ""
    token: str = ""
    seed_parallel: int = 1
    # Where py-spy profiles of the measured runs go; None: not profiled.
    profile_dir: Path | None = None
    # The PostgreSQL database, whose backends' CPU is counted apart from other work.
    database: str | None = None
    # Refreshes the database's planner statistics (PostgreSQL: ANALYZE); None: no need.
    analyze: Callable[[], None] | None = None


def ceiling_argv(port: int, workers: int) -> list[str]:
    """Return the command serving the ceiling as ``scimitar serve`` serves its app."""
    return [str(VENV_BIN / "python"), str(BENCH_DIR / "ceiling_app.py"), str(port), str(workers)]


def uvicorn_argv(app: str, port: int, workers: int, *, factory: bool = False) -> list[str]:
    """Return the command serving ``app`` with ``scimitar serve``'s uvicorn options."""
    return [
        str(VENV_BIN / "python"),
        "-m",
        "uvicorn",
        app,
        *(["--factory"] if factory else []),
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "auto",
        "--http",
        "auto",
        "--no-access-log",
        "--no-server-header",
    ]


def scimitar_command(*args: str) -> str:
    """Run one ``scimitar`` command; return its standard output."""
    completed = subprocess.run(
        [str(VENV_BIN / "scimitar"), *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"scimitar {' '.join(args[:2])} failed: {completed.stderr.strip()}")
    return completed.stdout


def settle(target: Target) -> None:
    """Wait until the server has worked off what the last run left queued."""
    with httpx.Client(timeout=900) as client:
        client.get(target.server.origin + target.server.ready_path)
    time.sleep(0.5)


def send(client: httpx.Client, operation: Operation, index: int) -> httpx.Response:
    request = operation.request(index)
    return client.request(request.method, request.path, content=request.content())


def check_probe(op: str, response: httpx.Response) -> None:
    """Fail loudly when an operation does not do what it is measured doing."""
    expected = {CREATE: (201,), GET: (200,), FILTER: (200,), PATCH: (200, 204)}.get(op, (200, 204))
    if response.status_code not in expected:
        raise RuntimeError(f"answered HTTP {response.status_code}: {response.text[:300]}")
    if op == FILTER and response.json().get("totalResults") != 1:
        raise RuntimeError(f"the filter found {response.json().get('totalResults')} users, not 1")


def measure(target: Target, operation: Operation, load: Load) -> Measurement:
    """Probe, then measure under wrk, or sequentially when every probe was slow."""
    headers = {"Authorization": f"Bearer {target.token}", "Content-Type": SCIM_TYPE}
    with httpx.Client(base_url=target.server.origin, headers=headers, timeout=900) as client:
        # Up to PROBES probes, until one is fast: the first request a worker serves
        # can pay for opening its connections, which says nothing of the operation.
        for index in range(PROBES):
            started = time.perf_counter()
            response = send(client, operation, index)
            latency = time.perf_counter() - started
            check_probe(operation.op, response)
            if not too_slow_for_wrk(latency, load):
                break
        if too_slow_for_wrk(latency, load):
            count = max(3, min(50, int(2 * load.duration / latency)))
            log(f"    one request took {latency:.2f} s: {count} sequential requests instead")
            indexes = iter(range(PROBES, PROBES + count))
            window = CpuWindow(target.server.tree(), target.database)
            result = run_sequential(lambda: send(client, operation, next(indexes)), count)
            result.cpu = window.close()
            settle(target)
            return result
    args: Callable[[str], dict[str, str]] = lambda phase: operation.wrk_args(  # noqa: E731
        phase, target.token, load.threads, load.connections, wrap=False
    )
    run_wrk(target.server.origin, operation.script(), args("warmup"), load, load.warmup)
    settle(target)
    if load.quiet_wait:
        wait_until_quiet(QUIET_CORES, min(load.quiet_wait, 15), log, window=1.0)
    with profiling(target.server, target.profile_dir, operation.op, load.duration):
        window = CpuWindow(target.server.tree(), target.database, target.server.worker_pids())
        result = run_wrk(
            target.server.origin, operation.script(), args("measure"), load, load.duration
        )
        result.cpu = window.close(busy=result.seconds)
    settle(target)
    return result


def describe(result: Measurement) -> str:
    """Return one log line: the figures, failures, and where the CPU went."""
    failed = f", {result.failed} failed" if result.failed else ""
    cpu = result.cpu
    workers = cpu.get("worker_cores") if cpu else None
    split = f" ({' + '.join(f'{share:.2f}' for share in workers)})" if workers else ""
    cores = (
        f" (cores: server {cpu['server_cores']:.2f}{split}, wrk {cpu['client_cores']:.2f}, "
        f"postgres {cpu['database_cores']:.2f}, other {cpu['other_cores']:.2f})"
        if cpu
        else ""
    )
    return (
        f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
        f"{failed}{cores}"
    )


def bench_ceiling(target: Target, layout: Layout, load: Load, work: Path) -> dict[str, Any]:
    """Measure the minimal endpoint with each operation's exact requests."""
    folder = work / target.key
    folder.mkdir()
    data = fake_dataset(folder, layout)
    data.write("ids.txt", data.user_ids[: layout.users])
    data.write("names.txt", [user_name(i) for i in range(layout.users)])
    results: dict[str, Any] = {}
    with target.server:
        for op in (*ORDER[:4], ADD_SMALL):
            operation = Operation(op, data, layout, "/scim/v2", f"ceil{target.workers}")
            key = "add" if op in ADD_OPS else op
            log(f"  {target.label}: {key}")
            for phase, seconds in (("warmup", load.warmup), ("measure", load.duration)):
                args = operation.wrk_args(
                    phase, "ceiling", load.threads, load.connections, wrap=True
                )
                if phase == "measure" and load.quiet_wait:
                    wait_until_quiet(QUIET_CORES, min(load.quiet_wait, 15), log, window=1.0)
                window = CpuWindow(target.server.tree(), None, target.server.worker_pids())
                result = run_wrk(target.server.origin, operation.script(), args, load, seconds)
                result.cpu = window.close()
            results[key] = result.as_dict()
            log(f"    {describe(result)}")
    return results


def ceiling_figures(target: Target, layout: Layout, load: Load, work: Path) -> dict[str, Any]:
    return {"results": bench_ceiling(target, layout, load, work)}


@contextmanager
def seeder_for(target: Target) -> Iterator[Seeder]:
    """Yield a Seeder writing to ``target``'s SCIM API."""
    headers = {"Authorization": f"Bearer {target.token}"}
    origin = target.server.origin + target.base
    with httpx.Client(base_url=origin, headers=headers, timeout=1800) as client:
        yield Seeder(client, parallel=target.seed_parallel, progress=log)


def seed(target: Target, layout: Layout, work: Path) -> tuple[Dataset, dict[str, float]]:
    """Fill a SCIM server with the layout's users and groups."""
    timings: dict[str, float] = {}
    with seeder_for(target) as seeder:
        started = time.monotonic()
        log(f"  seeding {layout.users:,} users")
        first = min(layout.users, ANALYZE_AFTER) if target.analyze else layout.users
        ids = seeder.create_users(0, first)
        if target.analyze is not None:
            # Statistics of a table that was empty make PostgreSQL plan the uniqueness
            # lookup of every create badly (creates slow down as the table grows).
            # Autovacuum would fix them in production; it is off on this machine.
            target.analyze()
        ids += seeder.create_users(first, layout.users - first)
        timings["users"] = time.monotonic() - started
        started = time.monotonic()
        log(f"  seeding {layout.small_groups:,} groups of {layout.small_size}")
        size = layout.small_size
        small = seeder.create_small_groups(
            [ids[i * size : (i + 1) * size] for i in range(layout.small_groups)], "bench small"
        )
        timings["small_groups"] = time.monotonic() - started
        started = time.monotonic()
        log(f"  seeding {layout.mid_groups} groups of {layout.mid_size:,}")
        mid = [
            seeder.create_large_group(f"bench mid {i}", ids[: layout.mid_size])
            for i in range(layout.mid_groups)
        ]
        timings["mid_groups"] = time.monotonic() - started
        started = time.monotonic()
        log(f"  seeding a group of {layout.big_size:,}")
        big = seeder.create_large_group("bench big", ids[: layout.big_size])
        timings["big_group"] = time.monotonic() - started
        if target.analyze is not None:
            target.analyze()
    folder = work / target.key
    folder.mkdir()
    data = Dataset(folder, ids, small, mid, big)
    data.write("ids.txt", ids)
    data.write("names.txt", [user_name(i) for i in range(layout.users)])
    return data, timings


def prepare(
    target: Target,
    layout: Layout,
    work: Path,
    seeding: Callable[[], AbstractContextManager[object]] | None = None,
) -> tuple[Dataset, dict[str, float]]:
    """Start a SCIM server and seed it; it keeps running for the measurements.

    ``seeding``, when given, wraps the seeding, and the server is restarted after
    it, so that nothing it set for the server's connections lasts into the runs.
    """
    with seeding() if seeding is not None else nullcontext():
        target.server.start()
        data, timings = seed(target, layout, work)
        if seeding is not None:
            target.server.stop()
    if seeding is not None:
        log("  restarting the server for the measurements")
        target.server.start()
    return data, {k: round(v, 1) for k, v in timings.items()}


def measure_op(
    target: Target, data: Dataset, layout: Layout, load: Load, op: str, tag: str
) -> dict[str, Any]:
    """Measure one operation on a prepared server; a failure is recorded, not raised."""
    log(f"  {target.label}: {title(op, layout)}")
    operation = Operation(op, data, layout, target.base, tag)
    try:
        result = measure(target, operation, load)
    except RuntimeError as exc:
        log(f"    FAILED: {exc}")
        settle(target)
        return {"error": str(exc)}
    log(f"    {describe(result)}")
    return result.as_dict()


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput, listing every round's (failed runs count as 0)."""
    rates = [run.get("rps", 0.0) for run in runs]
    if len(runs) == 1:
        return runs[0]
    middle = sorted(range(len(runs)), key=lambda i: rates[i])[(len(runs) - 1) // 2]
    return {**runs[middle], "rounds_rps": [round(rate, 1) for rate in rates]}


def bench_scim_servers(
    targets: list[tuple[Target, Callable[[], AbstractContextManager[object]] | None]],
    layout: Layout,
    load: Load,
    work: Path,
    rounds: int,
    failed: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Seed every SCIM server, then measure the user operations in rounds across them.

    Round after round, each operation is measured on every server in turn, and each
    figure is the median of its rounds: the servers meet the same moments of this
    shared, noisy machine, instead of one server its quiet minutes and another its
    busy ones. The member adds, which grow the groups they measure, run once.
    """
    ready: dict[str, tuple[Target, Dataset, dict[str, float]]] = {}
    figures: dict[str, dict[str, Any]] = {}
    try:
        for target, seeding in targets:
            log(target.label)
            if load.quiet_wait:
                wait_until_quiet(QUIET_CORES, load.quiet_wait, log)
            try:
                data, timings = prepare(target, layout, work, seeding)
            except (RuntimeError, httpx.HTTPError) as exc:
                # One server failing to start or to take the seed data leaves the others.
                log(f"  {target.label} FAILED: {exc}")
                failed[target.key] = f"{target.label}: {exc}"
                target.server.stop()
                continue
            ready[target.key] = (target, data, timings)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {key: {} for key in ready}
        for round_number in range(1, rounds + 1):
            log(f"round {round_number} of {rounds}")
            for op in ORDER[:4]:
                for key, (target, data, _) in ready.items():
                    tag = f"run{os.getpid()}r{round_number}"
                    runs[key].setdefault(op, []).append(
                        measure_op(target, data, layout, load, op, tag)
                    )
        for key, (target, data, timings) in ready.items():
            results = {op: median_run(found) for op, found in runs[key].items()}
            log(f"{target.label}: member adds")
            with seeder_for(target) as seeder:
                log(f"  seeding {layout.pool_size:,} more users to add to the big group")
                data.big_pool = seeder.create_users(0, layout.pool_size, prefix="bench.extra")
            for op in ORDER[4:]:
                results[op] = measure_op(target, data, layout, load, op, f"run{os.getpid()}")
            target.server.stop()
            figures[key] = {"results": results, "seed_seconds": timings}
    finally:
        for target, _data, _timings in ready.values():
            target.server.stop()
    return figures


def system_record(target: Target, figures: dict[str, Any]) -> dict[str, Any]:
    """A server's entry in the results: its figures and its processes' peak memory."""
    return {
        "label": target.label,
        "workers": target.workers,
        **figures,
        "memory": {
            "workers_peak_mb": [round(mb, 1) for mb in target.server.workers_peak_mb()],
            "supervisor_peak_mb": target.server.supervisor_peak_mb(),
        },
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False)
    versions = {}
    for package in ("uvicorn", "starlette", "uvloop", "httptools", "scim2-server", "scimitar"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    revision = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "git": revision or "unknown",
        "load_average": os.getloadavg(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "packages": versions,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20,000 users and short runs")
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of the user operations across the servers; the median counts (3, quick 1)",
    )
    parser.add_argument("--users", type=int, help="users in the tenant (default 100,000)")
    parser.add_argument("--duration", type=float, help="seconds measured per operation (6)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per operation (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--pg-workers", type=int, default=2, help="workers on PostgreSQL (2)")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma-separated subset of {','.join(SYSTEMS)} (all)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="longest wait, in seconds, for other work on the machine to stop (120; 0: never)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="print the tables of an earlier run's results file, and run nothing",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy record scimitar's workers during each measured run (into the logs)",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", PG_ADMIN_URL),
        help="PostgreSQL URL allowed to create and drop databases",
    )
    args = parser.parse_args(argv)
    unknown = set(args.systems.split(",")) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        return 0 if print_report(json.loads(args.report.read_text())) else 1
    chosen = args.systems.split(",")
    args.rounds = args.rounds or (1 if args.quick else 3)
    layout = Layout(
        users=args.users or (20_000 if args.quick else 100_000),
        warmup_adds=300 if args.quick else 1000,
        measured_adds=1500 if args.quick else 5000,
        slack=args.connections,
    )
    layout.check()
    load = Load(
        threads=args.threads,
        connections=args.connections,
        warmup=args.warmup or (1.0 if args.quick else 2.0),
        duration=args.duration or (3.0 if args.quick else 6.0),
        quiet_wait=args.quiet_wait,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS_DIR / stamp
    logs.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="scimitar-bench-"))
    started = time.monotonic()
    report: dict[str, Any] = {
        "started": stamp,
        "command": " ".join([".venv/bin/python", "bench/server.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load": asdict(load),
        "layout": layout.as_dict(),
        "systems": {},
        "failed": {},
    }
    log(f"{report['machine']['nproc']} CPUs ({report['machine']['cpu']}); logs in {logs}")
    workers = {"sqlite": 1, "postgres": args.pg_workers}

    def server(name: str, argv: list[str], port: int, ready: str, **env: str) -> Server:
        return Server(
            name,
            argv,
            port=port,
            ready_path=ready,
            cwd=work,
            log_path=logs / f"{name}.log",
            env={**os.environ, **env},
        )

    def record(target: Target, run: Callable[[], dict[str, Any]]) -> None:
        log(target.label)
        if load.quiet_wait:
            wait_until_quiet(QUIET_CORES, load.quiet_wait, log)
        try:
            figures = run()
        except (RuntimeError, httpx.HTTPError) as exc:
            # One server failing to start or to take the seed data leaves the others.
            log(f"  {target.label} FAILED: {exc}")
            report["failed"][target.key] = f"{target.label}: {exc}"
            return
        report["systems"][target.key] = system_record(target, figures)

    try:
        if "ceiling" in chosen:
            for count in sorted({workers[s] for s in ("sqlite", "postgres") if s in chosen} | {1}):
                port = free_port()
                target = Target(
                    f"ceiling{count}",
                    f"ceiling ({count} worker{'s' * (count > 1)})",
                    count,
                    server(f"ceiling{count}", ceiling_argv(port, count), port, "/"),
                )
                record(target, partial(ceiling_figures, target, layout, load, work))
        scim_targets: list[tuple[Target, Callable[[], AbstractContextManager[object]] | None]] = []
        with ExitStack() as databases:
            if "scim2" in chosen:
                port, token = free_port(), os.urandom(16).hex()
                argv_peer = uvicorn_argv("scim2_peer:create_app", port, 1, factory=True)
                target = Target(
                    "scim2",
                    "scim2-server (in memory, 1 worker)",
                    1,
                    server(
                        "scim2",
                        argv_peer,
                        port,
                        "/v2/ServiceProviderConfig",
                        BENCH_SCIM2_TOKEN=token,
                    ),
                    base="/v2",
                    token=token,
                )
                scim_targets.append((target, None))
            for key in ("sqlite", "postgres"):
                if key not in chosen:
                    continue
                url = databases.enter_context(
                    postgres_database(args.pg_admin_url)
                    if key == "postgres"
                    else _sqlite_database(work)
                )
                scimitar_command("tenant", "create", "bench", "--database-url", url)
                token = scimitar_command(
                    "token", "create", "--tenant", "bench", "--database-url", url
                ).strip()
                port, count = free_port(), workers[key]
                argv_serve = [
                    str(VENV_BIN / "scimitar"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(count),
                    "--database-url",
                    url,
                ]
                name = "SQLite" if key == "sqlite" else "PostgreSQL"
                target = Target(
                    key,
                    f"scimitar {name} ({count} worker{'s' * (count > 1)})",
                    count,
                    server(key, argv_serve, port, "/healthz"),
                    base="/scim/v2",
                    token=token,
                    # Each Bulk operation commits on its own: on PostgreSQL a commit
                    # waits for the WAL flush, so more requests in flight seed faster.
                    seed_parallel=count if key == "sqlite" else 2 * count,
                    profile_dir=logs if args.profile else None,
                    database=urlsplit(url).path.lstrip("/") if key == "postgres" else None,
                )
                if target.database is not None:
                    target.analyze = partial(analyze_database, args.pg_admin_url, target.database)
                seeding = (
                    partial(relaxed_commits, args.pg_admin_url, target.database)
                    if target.database is not None
                    else None
                )
                scim_targets.append((target, seeding))
            figures = bench_scim_servers(
                scim_targets, layout, load, work, args.rounds, report["failed"]
            )
            for target, _seeding in scim_targets:
                if target.key not in figures:
                    continue
                report["systems"][target.key] = system_record(target, figures[target.key])
    except KeyboardInterrupt:
        log("interrupted; every server started has been stopped")
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
        report["elapsed_s"] = round(time.monotonic() - started)
        verdicts = judge(report["systems"], layout)
        report["verdicts"] = [v.as_dict() for v in verdicts]
        (RESULTS_DIR / f"{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")

    passed = print_report(report)
    print(f"\nResults: {RESULTS_DIR / f'{stamp}.json'}")
    return 0 if passed else 1


@contextmanager
def _sqlite_database(work: Path) -> Iterator[str]:
    yield f"sqlite:///{work / 'scimitar-bench.db'}"


if __name__ == "__main__":
    sys.exit(main())
