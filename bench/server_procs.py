"""Start servers, wait until they answer, sample their memory, and stop them by PID."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SAMPLE_SECONDS = 0.2
STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may itself hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> list[int]:
    """Return the PIDs of every process below ``root`` (not ``root`` itself)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def rss_kb(pid: int) -> int | None:
    """Return the resident set size of ``pid`` in KiB, or None once it has gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """Return the CPU time (user + system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5), from state on)
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """Return the CPU time every core has spent not idle since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuWindow:
    """CPU used over a measured run: by the server, the load client, the whole machine.

    The load client is the one child this script waits for during the run (wrk),
    so it is what ``RUSAGE_CHILDREN`` gains. What the machine used beyond the
    server and the client is everything else: PostgreSQL, and any other work on
    the machine, which competes for the same cores.
    """

    pids: list[int]
    database: str | None = None
    # The worker processes among ``pids``, when there are several: their shares show
    # whether the connections reached every worker (one worker idling halved a run).
    workers: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    server_start: float = 0.0
    worker_start: dict[int, float] = field(default_factory=dict)
    client_start: float = 0.0
    machine_start: float = 0.0
    database_start: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server_start = cpu_seconds(self.pids)
        self.worker_start = {pid: cpu_seconds([pid]) for pid in self.workers}
        self.client_start = _children_seconds()
        self.machine_start = machine_busy_seconds()
        if self.database is not None:
            self.database_start = {
                pid: cpu_seconds([pid]) for pid in postgres_backends(self.database)
            }

    def close(self, busy: float | None = None) -> dict[str, Any]:
        """Return the cores each used, on average.

        ``busy``: the seconds the load lasted, when it ended before the window did
        (wrk idles out its ``-d`` once the scripts stop at their quota). The server,
        client and database used their CPU within those; other work is spread over
        the whole window.
        """
        window = time.monotonic() - self.started
        active = min(busy, window) if busy else window
        server = cpu_seconds(self.pids) - self.server_start
        client = _children_seconds() - self.client_start
        machine = machine_busy_seconds() - self.machine_start
        database = 0.0
        if self.database is not None:
            database = sum(
                cpu_seconds([pid]) - self.database_start.get(pid, 0.0)
                for pid in postgres_backends(self.database)
            )
        cores: dict[str, Any] = {
            "server_cores": round(server / active, 2),
            "client_cores": round(client / active, 2),
            "database_cores": round(database / active, 2),
            "other_cores": round(max(0.0, machine - server - client - database) / window, 2),
        }
        if len(self.workers) > 1:
            cores["worker_cores"] = [
                round((cpu_seconds([pid]) - start) / active, 2)
                for pid, start in self.worker_start.items()
            ]
        return cores


def postgres_backends(database: str) -> list[int]:
    """Return the PostgreSQL backends serving ``database`` (named in their titles)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            title = _command_line(int(entry.name))
            # A backend's title: "postgres: 15/main: USER DATABASE HOST(PORT) STATE".
            if title.startswith("postgres:") and f" {database} " in f"{title} ":
                found.append(int(entry.name))
    return found


def wait_until_quiet(
    limit: float, most: float, log: Callable[[str], None], window: float = 2.0
) -> float:
    """Wait up to ``most`` seconds for the machine to use under ``limit`` cores.

    Other work on a 2-core machine takes cores from the server measured; waiting
    for it to finish keeps the figures comparable. Returns the cores last seen busy.
    """
    deadline = time.monotonic() + most
    while True:
        before = machine_busy_seconds()
        time.sleep(window)
        busy = (machine_busy_seconds() - before) / window
        if busy < limit:
            return busy
        if time.monotonic() > deadline:
            log(f"  the machine is still busy ({busy:.1f} cores in use); measuring anyway")
            return busy
        log(f"  waiting: {busy:.1f} cores busy with other work")
        time.sleep(5)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@dataclass
class MemorySampler:
    """Sample the RSS of a process tree in a thread; keep the largest value per process."""

    root: int
    peak_kb: dict[int, int] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        for pid in [self.root, *descendants(self.root)]:
            size = rss_kb(pid)
            if size is None:
                continue
            if pid not in self.roles:
                self.roles[pid] = _command_line(pid)
            self.peak_kb[pid] = max(size, self.peak_kb.get(pid, 0))

    def workers_peak_mb(self) -> list[float]:
        """Return each worker's peak RSS in MB (10^6 bytes), largest first.

        uvicorn runs one worker in the root process; with ``--workers N`` the root
        only supervises and the workers are its ``multiprocessing`` children.
        """
        spawned = [pid for pid, cmd in self.roles.items() if "spawn_main" in cmd]
        pids = spawned or [self.root]
        return sorted((self.peak_kb.get(pid, 0) * 1024 / 1e6 for pid in pids), reverse=True)

    def supervisor_peak_mb(self) -> float | None:
        """Return the root's peak RSS in MB when it only supervises workers, else None."""
        if not any("spawn_main" in cmd for cmd in self.roles.values()):
            return None
        return self.peak_kb.get(self.root, 0) * 1024 / 1e6


class Server:
    """One server process tree: started, probed, sampled, and always stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        ready_path: str,
        cwd: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.ready_path = ready_path
        self.cwd = cwd
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.process: subprocess.Popen[bytes] | None = None
        self.sampler: MemorySampler | None = None
        # One per start: a server restarted between seeding and measuring keeps both.
        self.samplers: list[MemorySampler] = []
        self._known_pids: set[int] = set()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and return once ``ready_path`` answers 2xx."""
        with self.log_path.open("ab") as log:
            # A session of its own: a Ctrl-C in the terminal reaches this script only,
            # which then stops the server itself, in order.
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.sampler = MemorySampler(self.process.pid)
        self.sampler.start()
        self.samplers.append(self.sampler)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with status {self.process.returncode} while "
                        f"starting; see {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(self.origin + self.ready_path).is_success:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s")
                time.sleep(0.2)

    def workers_peak_mb(self) -> list[float]:
        """Return the peak RSS of each worker over every start, largest first."""
        runs = [sampler.workers_peak_mb() for sampler in self.samplers]
        ranks = max((len(run) for run in runs), default=0)
        return [max(run[i] for run in runs if i < len(run)) for i in range(ranks)]

    def supervisor_peak_mb(self) -> float | None:
        peaks = [p for p in (sampler.supervisor_peak_mb() for sampler in self.samplers) if p]
        return max(peaks) if peaks else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """Return the PIDs that serve requests (the root when it is the only one)."""
        if self.process is None:
            return []
        children = [pid for pid in descendants(self.pid) if "spawn_main" in _command_line(pid)]
        return children or [self.pid]

    def tree(self) -> list[int]:
        return [] if self.process is None else [self.pid, *descendants(self.pid)]

    def stop(self) -> None:
        """SIGTERM the root, wait, then SIGKILL whatever of the tree is left."""
        if self.process is None:
            return
        if self.sampler is not None:
            self.sampler.sample()
            self._known_pids.update(self.sampler.peak_kb)
        self._known_pids.update(descendants(self.pid))
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Workers whose supervisor died first would otherwise live on. A PID is only
        # killed while it still runs the command it ran as part of this tree.
        roles = self.sampler.roles if self.sampler is not None else {}
        for pid in self._known_pids - {self.pid}:
            command = _command_line(pid)
            if command and command == roles.get(pid, command):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.sampler is not None:
            self.sampler.stop()
        self.process = None
