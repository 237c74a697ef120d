"""Processes for the sync benchmark: the target server, memory and CPU meters, py-spy.

The target is a real ``scimitar serve`` process on a free port with its own
SQLite file, stopped by its PID. Memory is each process's peak RSS (``VmHWM``),
reset before every phase through ``/proc/PID/clear_refs`` (Linux 4.0+) so that
each phase reports its own peak, not the peak of everything before it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reset_peak_rss(pid: int) -> bool:
    """Reset the peak RSS the kernel keeps for ``pid``; False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mib(pid: int) -> float | None:
    """Return the peak resident set size of ``pid`` in MiB (``VmHWM``), None if gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, all threads) ``pid`` has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: proc(5)


@dataclass
class Meter:
    """CPU seconds and peak RSS of one process over one phase."""

    pid: int
    cpu_start: float = 0.0
    cpu: float = 0.0
    peak_mib: float | None = None
    peak_is_phase: bool = True

    def start(self) -> None:
        self.peak_is_phase = reset_peak_rss(self.pid)
        self.cpu_start = cpu_seconds(self.pid)

    def stop(self) -> None:
        self.cpu = cpu_seconds(self.pid) - self.cpu_start
        self.peak_mib = peak_rss_mib(self.pid)


class Target:
    """``scimitar serve`` on a free port with its own SQLite database."""

    def __init__(self, workdir: Path, name: str, workers: int = 1) -> None:
        self.port = free_port()
        self.database_url = f"sqlite:///{workdir / f'{name}.db'}"
        self.log = workdir / f"{name}.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.tenant_url = f"{self.base_url}/scim/v2"
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "the target is not running"
        return self.process.pid

    def __enter__(self) -> Target:
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    str(BIN / "scimitar"),
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    "--database-url",
                    self.database_url,
                ],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"scimitar serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"scimitar serve did not answer /healthz in {START_TIMEOUT:.0f}s")

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it does not go."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PySpy:
    """``py-spy record`` of one process, in collapsed-stack (raw) form, until stopped.

    py-spy pauses the process for each sample (its default): ``--nonblocking``
    costs less but reads stacks while they change, and on this workload gave
    torn, unattributable stacks for a quarter of the engine's samples.
    """

    def __init__(self, pid: int, output: Path, rate: int = 100) -> None:
        self.output = output
        self.process = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)  # let it attach before the measured work starts
        if self.process.poll() is not None:
            assert self.process.stderr is not None
            raise RuntimeError(f"py-spy failed: {self.process.stderr.read().decode()}")

    def stop(self) -> Path:
        """Stop recording (SIGINT makes py-spy write its output) and return the file."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.output
