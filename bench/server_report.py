"""Turn the measurements into ratios, target verdicts and Markdown tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server_workload import ADD_BIG, ADD_MID, ADD_OPS, ADD_SMALL, ORDER, USER_OPS, Layout, title

SCIMITAR = ("sqlite", "postgres")
PEER = "scim2"
MEMORY_LIMIT_MB = 300.0
# A run where more than this share of requests failed measured something else.
ERROR_TOLERANCE = 0.001
# Other work using more than this many cores during a run took CPU from the server.
NOISY_CORES = 0.5


@dataclass(frozen=True)
class Verdict:
    """One target checked against one scimitar configuration."""

    target: str
    system: str
    passed: bool | None  # None: not measurable in this run
    detail: str

    @property
    def mark(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "system": self.system,
            "result": self.mark,
            "detail": self.detail,
        }


def ceiling_key(workers: int) -> str:
    return f"ceiling{workers}"


def figure(systems: Mapping[str, Any], system: str, op: str) -> dict[str, Any] | None:
    """Return one measurement, or None when it was not taken or did not work."""
    record = systems.get(system)
    if record is None:
        return None
    result: dict[str, Any] | None = record["results"].get(
        "add" if op in ADD_OPS and system.startswith("ceiling") else op
    )
    if result is None or "error" in result or not clean(result):
        return None
    return result


def clean(result: Mapping[str, Any]) -> bool:
    failed = sum(result.get("errors", {}).values())
    return bool(failed <= ERROR_TOLERANCE * max(1, result["requests"]))


def ratio(numerator: dict[str, Any] | None, denominator: dict[str, Any] | None) -> float | None:
    if numerator is None or denominator is None or not denominator["rps"]:
        return None
    return float(numerator["rps"]) / float(denominator["rps"])


def judge(systems: Mapping[str, Any], layout: Layout) -> list[Verdict]:
    """Check every target of the issue against each scimitar configuration measured."""
    verdicts: list[Verdict] = []
    for system in SCIMITAR:
        if system not in systems:
            continue
        label = systems[system]["label"]
        for op in USER_OPS:
            value = ratio(figure(systems, system, op), figure(systems, PEER, op))
            verdicts.append(_at_least(f"{title(op, layout)}: >= 3x scim2-server", label, value, 3))
        value = ratio(figure(systems, system, ADD_MID), figure(systems, PEER, ADD_MID))
        target = f"{title(ADD_MID, layout)}: >= 100x scim2-server"
        verdicts.append(_at_least(target, label, value, 100))
        verdicts.append(_flat(systems, system, label, layout))
        peaks = systems[system]["memory"]["workers_peak_mb"]
        worst = max(peaks) if peaks else None
        verdicts.append(
            Verdict(
                f"every worker's RSS < {MEMORY_LIMIT_MB:.0f} MB throughout",
                label,
                None if worst is None else worst < MEMORY_LIMIT_MB,
                "not sampled" if worst is None else f"peak {worst:.0f} MB",
            )
        )
    return verdicts


def _at_least(target: str, label: str, value: float | None, minimum: float) -> Verdict:
    if value is None:
        return Verdict(target, label, None, "not measured, or requests failed")
    return Verdict(target, label, value >= minimum, f"{value:,.1f}x")


def _flat(systems: Mapping[str, Any], system: str, label: str, layout: Layout) -> Verdict:
    target = (
        f"{title(ADD_BIG, layout)}: within 2x of the group of {layout.small_size} "
        "(throughput and p50)"
    )
    small, big = figure(systems, system, ADD_SMALL), figure(systems, system, ADD_BIG)
    if small is None or big is None:
        return Verdict(target, label, None, "not measured, or requests failed")
    slower = small["rps"] / big["rps"] if big["rps"] else float("inf")
    later = big["p50_ms"] / small["p50_ms"] if small["p50_ms"] else float("inf")
    return Verdict(
        target,
        label,
        slower <= 2 and later <= 2,
        f"{layout.big_size:,}: {big['rps']:,.0f} req/s, p50 {big['p50_ms']:.1f} ms; "
        f"{layout.small_size}: {small['rps']:,.0f} req/s, p50 {small['p50_ms']:.1f} ms",
    )


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _cell(systems: Mapping[str, Any], system: str, op: str, key: str) -> str:
    record = systems.get(system)
    if record is None:
        return "-"
    result = record["results"].get("add" if op in ADD_OPS and system.startswith("ceiling") else op)
    if result is None:
        return "-"
    if "error" in result:
        return "error"
    digits = (0 if result[key] >= 10 else 2) if key == "rps" else (2 if result[key] < 10 else 1)
    text = _number(result[key], digits)
    if key == "rps":
        if result.get("method") == "sequential":
            text += " \\*"
        if not clean(result):
            text += " !"
        if result.get("cpu", {}).get("other_cores", 0) > NOISY_CORES:
            text += " ~"
    return text


def _ratio_cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}x" if value < 10 else f"{value:,.0f}x"


def figures_table(systems: Mapping[str, Any], layout: Layout, workers: Mapping[str, int]) -> str:
    """Return the Markdown table of requests/s and latencies of every server."""
    sqlite_w, pg_w = workers.get("sqlite", 1), workers.get("postgres", 2)
    header = [
        "operation",
        f"SQLite {sqlite_w}w req/s",
        "p50 ms",
        "p99 ms",
        f"PostgreSQL {pg_w}w req/s",
        "p50 ms",
        "p99 ms",
        "ceiling 1w req/s",
        "ceiling 2w req/s",
        "scim2-server req/s",
        "p50 ms",
        "p99 ms",
    ]
    rows = []
    for op in ORDER:
        rows.append(
            [
                title(op, layout),
                *(_cell(systems, "sqlite", op, key) for key in ("rps", "p50_ms", "p99_ms")),
                *(_cell(systems, "postgres", op, key) for key in ("rps", "p50_ms", "p99_ms")),
                _cell(systems, ceiling_key(1), op, "rps"),
                _cell(systems, ceiling_key(2), op, "rps"),
                *(_cell(systems, PEER, op, key) for key in ("rps", "p50_ms", "p99_ms")),
            ]
        )
    return _markdown(header, rows)


def ratios_table(
    systems: Mapping[str, Any], layout: Layout, workers: Mapping[str, int], verdicts: list[Verdict]
) -> str:
    """Return the Markdown table of ratios to both references, with each row's verdict."""
    sqlite_w, pg_w = workers.get("sqlite", 1), workers.get("postgres", 2)
    header = [
        "operation",
        f"SQLite / ceiling {sqlite_w}w",
        "SQLite / scim2-server",
        f"PostgreSQL / ceiling {pg_w}w",
        "PostgreSQL / scim2-server",
        "target",
        "SQLite",
        "PostgreSQL",
    ]
    targets = {
        **dict.fromkeys(USER_OPS, ">= 3x scim2-server"),
        ADD_MID: ">= 100x scim2-server",
        ADD_BIG: f"<= 2x the group of {layout.small_size}",
    }
    rows = []
    for op in ORDER:
        row = [title(op, layout)]
        for system, count in (("sqlite", sqlite_w), ("postgres", pg_w)):
            mine = figure(systems, system, op)
            row.append(_ratio_cell(ratio(mine, figure(systems, ceiling_key(count), op))))
            row.append(_ratio_cell(ratio(mine, figure(systems, PEER, op))))
        row.append(targets.get(op, "-"))
        for system in SCIMITAR:
            label = systems.get(system, {}).get("label")
            marks = [
                v.mark
                for v in verdicts
                if v.system == label and v.target.startswith(title(op, layout) + ":")
            ]
            row.append(marks[0] if marks else "-")
        rows.append(row)
    return _markdown(header, rows)


def memory_table(systems: Mapping[str, Any]) -> str:
    """Return the Markdown table of each server's peak RSS, worker by worker."""
    header = ["server", "workers", "peak RSS per worker (MB)", "supervisor (MB)"]
    rows = []
    for record in systems.values():
        memory = record["memory"]
        peaks = ", ".join(f"{mb:,.0f}" for mb in memory["workers_peak_mb"]) or "-"
        supervisor = memory.get("supervisor_peak_mb")
        rows.append([record["label"], str(record["workers"]), peaks, _number(supervisor)])
    return _markdown(header, rows)


def rounds_table(systems: Mapping[str, Any], layout: Layout) -> str | None:
    """Return the Markdown table of every round's requests/s, when there were rounds."""
    rows = []
    for record in systems.values():
        for op, result in record["results"].items():
            if "rounds_rps" in result:
                rates = ", ".join(f"{rate:,.0f}" for rate in result["rounds_rps"])
                rows.append([record["label"], title(op, layout), rates, f"{result['rps']:,.0f}"])
    if not rows:
        return None
    return _markdown(["server", "operation", "req/s, round by round", "median"], rows, left=2)


def verdicts_table(verdicts: list[Verdict]) -> str:
    return _markdown(
        ["target", "server", "result", "measured"],
        [[v.target, v.system, v.mark, v.detail] for v in verdicts],
        left=4,
    )


def _markdown(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Align the first ``left`` columns left (text), the others right (figures)."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = (
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rules = (":" + "-" * (w + 1) if i < left else "-" * (w + 1) + ":" for i, w in enumerate(widths))
    return "\n".join([line(header), "|" + "|".join(rules) + "|", *(line(row) for row in rows)])


def print_report(report: dict[str, Any]) -> bool:
    """Print the Markdown tables of a run; return whether every target measured passed."""
    systems, load = report["systems"], report["load"]
    figures = report["layout"]
    layout = Layout(
        users=figures["users"],
        small_size=figures["small_size"],
        mid_groups=figures["mid_groups"],
        warmup_adds=figures["warmup_adds"],
        measured_adds=figures["measured_adds"],
        slack=load["connections"],
    )
    workers = {key: record["workers"] for key, record in systems.items()}
    verdicts = judge(systems, layout)
    machine = report["machine"]
    print(
        f"\n{machine['nproc']} cores ({machine['cpu']}), scimitar {machine['git']}. "
        f"Load: wrk, {load['threads']} thread(s), {load['connections']} connections, "
        f"{load['warmup']:g} s warm-up + {load['duration']:g} s per operation; "
        f"{report.get('elapsed_s', '?')} s in all.\n"
    )
    print(figures_table(systems, layout, workers))
    print(
        "\n\\* sequential requests on one connection: one request per connection would have "
        "taken over a quarter of the run. "
        "! more than 0.1% of requests failed. "
        "~ other work on the machine used over half a core during the run.\n"
    )
    print(ratios_table(systems, layout, workers, verdicts))
    rounds = rounds_table(systems, layout)
    if rounds is not None:
        print("\nEach user operation's figure is the median of its rounds:\n")
        print(rounds)
    print()
    print(memory_table(systems))
    print()
    print(verdicts_table(verdicts))
    for failure in report["failed"].values():
        print(f"\nFAILED: {failure}")
    return all(v.passed is not False for v in verdicts) and not report["failed"]
