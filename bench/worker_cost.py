"""What each request costs the gunicorn workers in CPU time, measured from /proc: load-robust.

``.venv/bin/python -m bench.worker_cost`` seeds the bench's SQLite dataset (10 000 codes by
default: the code count does not change a request's cost, bench/scale.py), starts the bare Flask
floor and Livery under gunicorn.conf.py as ``bench.run`` does, and drives each scenario with wrk.
Around each wrk run it reads every worker's ``/proc/<pid>/stat`` (user + system time of all its
threads) and each thread's context switches (``/proc/<pid>/task/*/status``), and divides the
differences by the requests wrk saw answered.

Requests per second move with whatever else the machine runs; the CPU a worker spends per
request moves far less (a busy machine inflates it somewhat: caches, frequency), so two builds
measured back to back compare well even on a shared machine. Context switches per request show
threads that take the GIL from the request thread (a sync worker answers one request at a time:
about 2 voluntary switches per request are its accept and its reads; more, or nonvoluntary ones,
are someone else's turn).

Scenarios are ``bench.run``'s, walked in the same order after the same kind of warm-up, plus
``test-first-sight``: test codes no worker has seen yet, each of whose first sight records a
launch for go-live readiness (BENCHMARKS.md, "Hot path: CPU per request in the worker").
``--env NAME=VALUE`` sets a variable for Livery's workers (e.g. ``LIVERY_REQUEST_LOG=false``),
to price one feature at a time; ``--no-floor`` skips the floor. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from bench import datasets, servers

SCENARIOS = ("discovery-200", "discovery-304", "unknown-404", "upgrade", "asset-304", "test-first-sight")
HEADER = (
    "| target | scenario | requests | worker CPU µs per request | of which system | voluntary switches per request "
    "| nonvoluntary per request | requests/s (load-dependent) |\n|---|---|---:|---:|---:|---:|---:|---:|"
)


@dataclass(frozen=True)
class Usage:
    """CPU seconds and context switches of a set of processes, summed over their threads."""

    cpu: float = 0.0
    system: float = 0.0
    voluntary: int = 0
    nonvoluntary: int = 0
    pids: frozenset[int] = frozenset()

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu - other.cpu,
            self.system - other.system,
            self.voluntary - other.voluntary,
            self.nonvoluntary - other.nonvoluntary,
            self.pids,
        )


def usage(pids: list[int]) -> Usage:
    """CPU time (user + system, every thread, those ended included) and live threads' switches of ``pids``."""
    cpu, system, voluntary, nonvoluntary = 0.0, 0.0, 0, 0
    for pid in pids:
        user_seconds, system_seconds = servers.cpu_times(pid)
        cpu += user_seconds + system_seconds
        system += system_seconds
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                status = (task / "status").read_text()
            except OSError:
                continue  # a thread that ended meanwhile
            for line in status.splitlines():
                if line.startswith("voluntary_ctxt_switches"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    nonvoluntary += int(line.split()[1])
    return Usage(cpu, system, voluntary, nonvoluntary, frozenset(pids))


@dataclass(frozen=True)
class Cost:
    target: str
    scenario: str
    requests: int
    rps: float
    used: Usage

    @property
    def cpu_us(self) -> float:
        return self.used.cpu / self.requests * 1e6

    def row(self) -> str:
        n = self.requests
        return (
            f"| {self.target} | {self.scenario} | {n:,} | {self.cpu_us:.0f} | {self.used.system / n * 1e6:.0f} "
            f"| {self.used.voluntary / n:.2f} "
            f"| {self.used.nonvoluntary / n:.2f} | {self.rps:,.0f} |"
        )


def first_sight_lines(data: datasets.Dataset, work: Path) -> tuple[Path, Path]:
    """(warm-up, measured) discovery lines: the measured ones are test codes whose documents are rendered
    but which no worker has seen yet (one test code per brand goes to the warm-up; needs ``--codes`` >= 20)."""
    from app.branding.codes import code_digest, normalise_code

    with closing(sqlite3.connect(data.database_url.removeprefix("sqlite:///"))) as db:
        kinds = {
            digest: (brand, kind)
            for digest, brand, kind in db.execute("SELECT digest, brand_id, kind FROM access_codes")
        }
    warm, fresh, brands = [], [], set()
    for line in data.lines["discovery-200"].read_text().split():
        brand, kind = kinds[code_digest(normalise_code(line.rsplit("/", 1)[1]))]
        (fresh if kind == "test" and brand in brands else warm).append(line)
        brands.update([brand] if kind == "test" else [])
    (work / "warm.txt").write_text("\n".join(warm) + "\n")
    (work / "first-sight.txt").write_text("\n".join(fresh) + "\n")
    return work / "warm.txt", work / "first-sight.txt"


def measure(
    target: str, scenario: str, proc: servers.Process, base: str, lines: Path, args, warm: Path | None = None
) -> Cost:
    """Warm ``base`` on ``warm`` (default ``lines``), then one wrk run on ``lines`` between two readings of /proc."""
    servers.wrk(base, warm or lines, seconds=args.warmup, connections=args.connections, threads=args.threads)
    pids = servers.worker_pids(proc.pid)
    before = usage(pids)
    result = servers.wrk(base, lines, seconds=args.seconds, connections=args.connections, threads=args.threads)
    after = usage(pids)
    if servers.worker_pids(proc.pid) != pids:
        raise RuntimeError(f"{target} {scenario}: a worker restarted during the run")
    cost = Cost(target, scenario, result.requests, result.rps, after - before)
    print(cost.row(), flush=True)
    return cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=["discovery-200"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--codes", type=int, default=10, help="codes per brand (100 partners x 10 brands)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for Livery's workers")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare Flask floor")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.env)
    work = Path(tempfile.mkdtemp(prefix="livery-worker-cost-"))
    running: list[servers.Process] = []
    try:
        data = datasets.build("sqlite", f"sqlite:///{work / 'sqlite.db'}", work, partners=100, brands_per_partner=10,
                              codes_per_brand=args.codes)  # fmt: skip
        print(HEADER, flush=True)
        if not args.no_floor:
            document = work / "document.json"
            document.write_bytes(data.sample_document)
            port = servers.free_port()
            floor = servers.floor(port, document, work / "floor.log")
            running.append(floor)
            base = f"http://127.0.0.1:{port}"
            servers.wait_http(base + "/v1/discovery/x")
            measure("floor: bare Flask", "constant 200", floor, base, data.lines["discovery-200"], args)
            floor.stop()
        port = servers.free_port()
        livery = servers.gunicorn("wsgi:app", port, {**data.env(), **overrides}, work / "livery.log")
        running.append(livery)
        base = f"http://127.0.0.1:{port}"
        servers.wait_http(base + "/healthz")
        servers.wait_started(livery.pid)
        label = "Livery" + "".join(f" {item}" for item in args.env)
        for scenario in args.only:
            if scenario == "test-first-sight":
                warm, fresh = first_sight_lines(data, work)
                measure(label, scenario, livery, base, fresh, args, warm)
            else:
                measure(label, scenario, livery, base, data.lines[scenario], args)
    finally:
        for proc in running:
            proc.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
