"""The results table, the target checks and BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.servers import WrkResult

ANALYSIS = Path(__file__).resolve().parent / "analysis.md"


@dataclass
class Row:
    target: str
    scenario: str
    result: WrkResult | None
    baseline: str  # which nginx row this one is compared with
    note: str = ""


def _ratio(value: float, reference: float | None) -> str:
    return f"{100 * value / reference:.0f} %" if reference else "—"


def table(rows: list[Row], nginx: dict[str, float], floor: float | None) -> str:
    """One markdown table: throughput, latency and the ratios to nginx and to the framework floor."""
    out = [
        "| target | scenario | requests/s | p50 ms | p99 ms | vs nginx | vs floor | errors |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        r = row.result
        if r is None:
            out.append(f"| {row.target} | {row.scenario} | {row.note or 'n/a'} | | | | | |")
            continue
        errors = f"{r.socket_errors} socket" if r.socket_errors else ""
        out.append(
            f"| {row.target} | {row.scenario} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{_ratio(r.rps, nginx.get(row.baseline))} | {_ratio(r.rps, floor)} | {errors} |"
        )
    return "\n".join(out)


def check(name: str, value: float | None, limit: float, *, at_least: bool = True, unit: str = "%") -> str:
    """One target line: measured value, limit, PASS/FAIL."""
    if value is None:
        return f"| {name} | n/a | {'≥' if at_least else '<'} {limit:g} {unit} | not measured |"
    ok = value >= limit if at_least else value < limit
    return f"| {name} | {value:.1f} {unit} | {'≥' if at_least else '<'} {limit:g} {unit} | {'PASS' if ok else 'FAIL'} |"


def machine() -> str:
    """Facts about this machine that the numbers depend on."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every row."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def write(path: Path, *, command: str, runtime_s: float, setup: str, body: str, checks: list[str], load: str) -> None:
    """BENCHMARKS.md: date, machine, command, configuration, the table, the targets and the analysis."""
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else ""
    text = f"""# Benchmarks of the public hot path

Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (total runtime {runtime_s / 60:.1f} min).
Machine: {machine()}. Everything on loopback; wrk and the servers share the same CPUs.
1-minute load average at start / end of the run: {load} / {load_average()} (other work on the
machine during the run lowers every row; the ratios within one run are what the targets use).

{setup}

## Results

{body}

## Targets (ratios from this run)

| target | measured | required | |
|---|---:|---:|---|
{chr(10).join(checks)}

{analysis}"""
    path.write_text(text)


def _row(rows: list[Row], target: str, scenario: str) -> WrkResult | None:
    for row in rows:
        if row.target == target and row.scenario == scenario and row.result:
            return row.result
    return None


def _rate(rows: list[Row], target: str, scenario: str) -> float | None:
    result = _row(rows, target, scenario)
    return result.rps if result else None


def _p99(rows: list[Row], target: str, exclude: str = "") -> float | None:
    values = [r.result.p99_ms for r in rows if r.target == target and r.result and r.scenario != exclude]
    return max(values) if values else None


def targets(
    rows: list[Row],
    extra: dict,
    floor: float,
    static: tuple[Row, Row],
    micro_200: Row,
    nginx_200: Row,
    plain_uncached: Row,
) -> list[str]:
    """The issue's targets, each with its measured value."""
    lines = []
    for db in ("SQLite", "PostgreSQL"):
        target = f"Livery {db} 100k"
        for scenario, limit in (("discovery 200", 85), ("discovery 304", 85), ("unknown code 404", 85),
                                ("upgrade poll", 70)):  # fmt: skip
            rate = _rate(rows, target, scenario)
            lines.append(check(f"{db}: {scenario} vs floor", rate and 100 * rate / floor, limit))
        lines.append(check(f"{db}: worst p99 at 64 connections, discovery/404/asset rows",
                                  _p99(rows, target, exclude="upgrade poll"), 20, at_least=False,
                                  unit="ms"))  # fmt: skip
        upgrade = _row(rows, target, "upgrade poll")
        lines.append(check(f"{db}: p99 at 64 connections, upgrade poll", upgrade and upgrade.p99_ms, 20,
                                  at_least=False, unit="ms"))  # fmt: skip
        lines.append(check(f"{db}: RSS per worker, 100k codes", extra.get(f"rss {target}"), 200,
                                  at_least=False, unit="MB"))  # fmt: skip
    ratios = extra.get("scale ratios") or []
    lines.append(check(f"100 000 codes vs 100 codes (discovery 200, side by side, median of "
                       f"{', '.join(f'{r:.1f}' for r in ratios)} %)",
                       statistics.median(ratios) if ratios else None, 90))  # fmt: skip
    for row, label in zip(static, ("all 100 000 codes", "hot set of one code per brand"), strict=True):
        lines.append(check(f"static-published discovery ({label}) vs nginx plain file",
                           100 * row.result.rps / nginx_200.result.rps, 90))  # fmt: skip
    lines.append(check("(like for like, not the target) all 100 000 codes vs the plain file, both without "
                       "descriptor cache", 100 * static[0].result.rps / plain_uncached.result.rps, 90))  # fmt: skip
    lines.append(check("micro-cached discovery vs nginx plain file", 100 * micro_200.result.rps /
                              nginx_200.result.rps, 50))  # fmt: skip
    return lines
