"""What the HTTP layer costs a request: one endpoint on scimitar's layer, on Starlette, bare.

The ceiling's endpoint three ways (``bench/ceiling_app.py``): on ``scimitar.server.asgi``
(``app``), on Starlette (which served scimitar until the sixth session), and as a
bare ASGI callable (``raw``). Each is served as ``scimitar serve`` serves its app
(uvicorn, uvloop, httptools, one write a response, one worker), in turn, the order
rotated every round; wrk GETs a SCIM-shaped path for 10 s each time. Prints req/s
and the worker's CPU per request, and each layer's CPU above bare ASGI, in the
same run::

    .venv/bin/python bench/asgi_stack.py            # 4 rounds, about 3 minutes
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from server import ceiling_argv
from server_load import wrk_binary
from server_procs import Server, cpu_seconds, free_port

SECONDS = 10
VARIANTS = ("app", "starlette", "raw")
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def measure(variant: str, work: Path) -> tuple[float, float]:
    """Serve ``variant`` (a ``VARIANTS`` entry), load it, return (req/s, µs of CPU a request)."""
    port = free_port()
    argv = [*ceiling_argv(port, 1), variant]
    server = Server(variant, argv, port=port, ready_path="/", cwd=work, log_path=work / "log")
    with server:
        url = f"{server.origin}/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"
        wrk = [wrk_binary(), "-t1", "-c32"]
        subprocess.run([*wrk, "-d2s", url], capture_output=True, check=True)  # warm-up
        pids = server.tree()
        before = cpu_seconds(pids)
        out = subprocess.run([*wrk, f"-d{SECONDS}s", url], capture_output=True, text=True)
        used = cpu_seconds(pids) - before
    found = _RPS.search(out.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no rate:\n{out.stdout}\n{out.stderr}")
    rps = float(found[1])
    return rps, used / (rps * SECONDS) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds, each every variant (4)")
    args = parser.parse_args()
    figures: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            shift = round_ % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                rps, cpu = measure(variant, Path(folder))
                figures[variant].append((rps, cpu))
                print(f"round {round_ + 1} {variant:9s} {rps:9,.0f} req/s {cpu:6.1f} µs a request")
    median = {v: [statistics.median(f[i] for f in figures[v]) for i in (0, 1)] for v in figures}
    for variant, (rps, cpu) in median.items():
        print(f"median    {variant:9s} {rps:9,.0f} req/s {cpu:6.1f} µs a request")
    raw = median["raw"]
    for variant in ("app", "starlette"):
        rps, cpu = median[variant]
        print(
            f"{variant} / bare ASGI: {rps / raw[0]:.2f}x the req/s, "
            f"{cpu / raw[1]:.2f}x the CPU a request (+{cpu - raw[1]:.1f} µs)"
        )


if __name__ == "__main__":
    main()
