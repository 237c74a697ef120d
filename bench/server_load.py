"""Drive load: wrk with the Lua scripts in bench/wrk, or plain sequential requests.

wrk (C, epoll) keeps 32 connections busy for a few percent of one core at these
rates, so the server stays the bottleneck. An operation so slow that the requests
queued on every connection would take more than a quarter of the run to serve
once (scim2-server adding a member to a 10,000-member group: 32 x 1.4 s) is
measured with sequential requests instead: wrk would count only the few that
finish in the run, after a queue that lasts most of it, and leave minutes of
backlog behind. On a server that serves one request at a time, as scim2-server
does, throughput is the same at any concurrency.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

WRK_DIR = Path(__file__).resolve().parent / "wrk"

# wrk's default 2 s timeout would drop exactly the slow requests worth seeing.
WRK_TIMEOUT = "30s"


@dataclass
class Load:
    """How hard to push: wrk's threads and connections, and how long."""

    threads: int = 1
    connections: int = 32
    warmup: float = 2.0
    duration: float = 6.0
    # Longest wait for other work on the machine to stop before a server's runs.
    quiet_wait: float = 120.0


@dataclass
class Measurement:
    """The figures of one measured run."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    method: str = "wrk"
    connections: int = 0
    # Cores busy on average during the run: the server's processes, and the whole
    # machine (server, wrk, PostgreSQL, and anything else running: noise).
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_binary() -> str:
    """Return wrk's path, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        print("wrk is missing; installing it from Debian's packages")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


def run_wrk(
    origin: str, script: str, args: dict[str, str], load: Load, seconds: float
) -> Measurement:
    """Run wrk once for ``seconds`` and return what the script's done() printed."""
    argv = [
        wrk_binary(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={WRK_TIMEOUT}",
        "-s",
        str(WRK_DIR / script),
        origin,
        "--",
        *(f"{key}={value}" for key, value in args.items()),
    ]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH "):
            figures = json.loads(line.removeprefix("BENCH "))
            break
    else:
        raise RuntimeError(
            f"wrk printed no result (status {completed.returncode}):\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    elapsed = figures["elapsed_us"] / 1e6
    return Measurement(
        requests=figures["requests"],
        seconds=round(elapsed, 3),
        rps=figures["requests"] / elapsed if elapsed else 0.0,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors={k: v for k, v in figures["errors"].items() if v},
        method="wrk",
        connections=load.connections,
    )


def run_sequential(send: Callable[[], httpx.Response], count: int) -> Measurement:
    """Send ``count`` requests one after another; figures as wrk would give them."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    for _ in range(count):
        sent = time.perf_counter()
        response = send()
        latencies.append(time.perf_counter() - sent)
        if not response.is_success:
            errors += 1
    elapsed = time.perf_counter() - started
    return Measurement(
        requests=count,
        seconds=round(elapsed, 3),
        rps=count / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
        errors={"status": errors} if errors else {},
        method="sequential",
        connections=1,
    )


def _percentile(values: Sequence[float], percent: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def too_slow_for_wrk(latency: float, load: Load) -> bool:
    """Tell whether serving one request per connection would fill a quarter of the run."""
    return latency * load.connections > load.duration / 4
