"""Optional py-spy profiles of the server's workers during each measured run.

``--profile`` records every worker with ``py-spy record --gil``: only the thread
holding the GIL is sampled, which is where a Python server's throughput goes.
The raw stacks land beside the logs, and a summary names the functions that
take the most samples, by their own time and including what they call.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server_procs import Server

SAMPLES_PER_SECOND = 100
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


@contextmanager
def profiling(server: Server, folder: Path | None, label: str, seconds: float) -> Iterator[None]:
    """Record each worker for ``seconds`` while the body runs, when ``folder`` is set."""
    py_spy = shutil.which("py-spy") or str(Path(__file__).parents[1] / ".venv/bin/py-spy")
    if folder is None:
        yield
        return
    if not Path(py_spy).exists():
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    recorders = []
    for pid in server.worker_pids():
        output = folder / f"{server.name}-{label}-{pid}.txt"
        argv = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
        argv += ["--rate", str(SAMPLES_PER_SECOND), "--gil", "--nonblocking"]
        argv += ["--format", "raw", "--output", str(output)]
        recorders.append(
            (output, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        )
    try:
        yield
    finally:
        for output, recorder in recorders:
            try:
                recorder.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
            if output.exists():
                summary = output.with_suffix(".summary.txt")
                summary.write_text(summarize(output))


def _frame(text: str) -> str:
    match = _FRAME.match(text)
    return f"{match['name']} ({match['file']})" if match else text


def summarize(path: Path, top: int = 25) -> str:
    """Return the busiest functions of a raw py-spy profile, by self and total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return "no samples\n"
    lines = [f"{samples} samples holding the GIL", "", "self:"]
    lines += [f"{100 * n / samples:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "total (scimitar, sqlalchemy and drivers):"]
    interesting = [
        (name, n)
        for name, n in total.most_common()
        if any(part in name for part in ("scimitar/", "sqlalchemy/", "psycopg", "sqlite"))
    ]
    lines += [f"{100 * n / samples:5.1f}%  {name}" for name, n in interesting[: top * 2]]
    return "\n".join(lines) + "\n"
