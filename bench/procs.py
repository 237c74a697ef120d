"""Start servers, wait until they answer, sample their memory, and stop them by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

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

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """Return the PIDs that serve requests (the root when it is the only one)."""
        if self.process is None:
            return []
        children = [
            pid for pid in descendants(self.pid) if "spawn_main" in _command_line(pid)
        ]
        return children or [self.pid]

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
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.sampler is not None:
            self.sampler.stop()
