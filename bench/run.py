"""The benchmark runner: ``.venv/bin/python -m bench.run`` (or ``make bench``), one command, ~10 min.

Seeds Livery with 100 000 access codes over 1 000 brands on SQLite and on PostgreSQL (and 100
codes for the size comparison), starts nginx (a plain file: the practical limit), a bare Flask
app under the same gunicorn configuration (the framework floor) and Livery, drives each with
wrk on loopback, prints one table and writes BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import datasets, nginx_conf, report, scale, servers
from bench.report import Row

LIVERY_SCENARIOS = [
    ("discovery 200", "discovery-200", "200"),
    ("discovery 304", "discovery-304", "304"),
    ("unknown code 404", "unknown-404", "200"),
    ("upgrade poll", "upgrade", "200"),
    ("asset 304", "asset-304", "304"),
]


class Runner:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rows: list[Row] = []
        self.extra: dict[str, Any] = {}
        self.cleanups: list = []
        self.bases: dict[str, str] = {}

    def measure(self, target: str, scenario: str, base: str, lines: Path, expect: int, baseline: str) -> Row:
        """Check a few requests answer ``expect``, then run wrk over ``lines``."""
        for line in lines.read_text().splitlines()[:3]:
            path, _, tag = line.partition(" ")
            status, _headers, _body = servers.get(base + path, {"If-None-Match": tag} if tag else None)
            if status != expect:
                raise RuntimeError(f"{target} {scenario}: {path} answered {status}, expected {expect}")
        result = servers.wrk(
            base, lines, seconds=self.args.seconds, connections=self.args.connections, threads=self.args.threads
        )
        row = Row(target, scenario, result, baseline)
        self.rows.append(row)
        print(f"  {target:<28} {scenario:<22} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
              f"p99 {result.p99_ms:7.2f} ms", flush=True)  # fmt: skip
        return row

    def warm(self, base: str, lines: Path) -> None:
        """Spread requests over every worker until each has rendered what the scenario asks for."""
        servers.wrk(base, lines, seconds=self.args.warmup, connections=self.args.connections, threads=self.args.threads)

    def start_livery(self, data: datasets.Dataset) -> tuple[servers.Process, str]:
        port = servers.free_port()
        proc = servers.gunicorn("wsgi:app", port, data.env(), self.work / f"gunicorn-{data.name}.log")
        self.cleanups.append(proc.stop)
        base = self.bases[data.name] = f"http://127.0.0.1:{port}"
        servers.wait_http(base + "/healthz")
        servers.wait_ready(base + "/readyz")
        servers.wait_started(proc.pid)  # every worker, not only the first that answers
        return proc, base

    def start_floor(self, document: Path) -> tuple[servers.Process, str]:
        """The bare Flask app answering ``document``'s bytes, under gunicorn.conf.py on stock sync workers."""
        port = servers.free_port()
        proc = servers.floor(port, document, self.work / "gunicorn-floor.log")
        self.cleanups.append(proc.stop)
        base = f"http://127.0.0.1:{port}"
        servers.wait_http(base + "/v1/discovery/x")
        return proc, base

    def livery(self, data: datasets.Dataset, target: str, scenarios=LIVERY_SCENARIOS) -> servers.Process:
        """Start Livery on ``data``, run ``scenarios``, record worker memory; returns the running server."""
        proc, base = self.start_livery(data)
        self.warm(base, data.lines["discovery-200"])
        for scenario, key, baseline in scenarios:
            lines = data.lines[key]
            expect = {"discovery-200": 200, "discovery-304": 304, "unknown-404": 404, "asset-304": 304}.get(key)
            if key == "upgrade":
                expect = self.probe_upgrade(base, lines)
                if expect is None:
                    self.rows.append(Row(target, scenario, None, baseline, "n/a (endpoint not present)"))
                    continue
                # each worker signs every distinct answer once (channels x platforms x versions x targets)
                self.warm(base, lines)
            self.measure(target, scenario, base, lines, expect, baseline)
        rss = servers.worker_rss_mb(proc.pid)
        self.extra[f"rss {target}"] = max(rss) if rss else None
        print(f"  {target}: worker RSS {', '.join(f'{m:.0f} MB' for m in rss)}", flush=True)
        return proc

    def probe_upgrade(self, base: str, lines: Path) -> int | None:
        """The status the upgrade endpoint answers, or None when the route does not exist."""
        path = lines.read_text().splitlines()[0]
        status, _headers, body = servers.get(base + path)
        if status == 404 and b"requested URL was not found" in body:
            return None
        return status


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    args.load_at_start = report.load_average()
    servers.ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="livery-bench-"))
    runner = Runner(args, work)
    try:
        return _run(runner, args, work, started)
    finally:
        for cleanup in reversed(runner.cleanups):
            cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _run(runner: Runner, args: argparse.Namespace, work: Path, started: float) -> int:
    if args.only:
        from bench.subset import run_subset

        return run_subset(runner, args, work, started, LIVERY_SCENARIOS, servers.postgres_database)
    size = {"partners": args.partners, "brands_per_partner": args.brands_per_partner, "codes_per_brand": args.codes}
    print(f"seeding SQLite: {args.partners * args.brands_per_partner * args.codes:,} codes ...", flush=True)
    sqlite = datasets.build("sqlite", f"sqlite:///{work / 'sqlite.db'}", work, **size)
    print(f"  seeded in {sqlite.seed_seconds:.0f} s", flush=True)
    small = datasets.build("small", f"sqlite:///{work / 'small.db'}", work, partners=1, brands_per_partner=10,
                           codes_per_brand=10)  # fmt: skip
    datasets.publish_static(sqlite, work / "published", work)
    document = work / "plain" / "document.json"
    document.parent.mkdir()
    document.write_bytes(sqlite.sample_document)
    (work / "plain-304.txt").write_text(f"/v1/discovery/x {datasets.nginx_etag(document)}\n")

    print("framework floor (bare Flask, same gunicorn config)", flush=True)
    floor, floor_base = runner.start_floor(document)
    runner.warm(floor_base, sqlite.lines["discovery-200"])
    floor_row = runner.measure("floor: bare Flask", "constant 200", floor_base, sqlite.lines["discovery-200"], 200,
                               "200")  # fmt: skip
    floor.stop()

    print("Livery on SQLite, 100 000 codes", flush=True)
    livery = runner.livery(sqlite, "Livery SQLite 100k")

    print("nginx: plain file, static-published root, micro-cache in front of Livery", flush=True)
    ports = {name: servers.free_port() for name in ("plain", "plain_uncached", "published", "hot", "micro")}
    conf = nginx_conf.render(work / "nginx", plain_port=ports["plain"], plain_uncached_port=ports["plain_uncached"],
                             plain_root=document.parent,
                             published_port=ports["published"], published_root=sqlite.published_root,
                             hot_port=ports["hot"], micro_port=ports["micro"],
                             upstream_port=int(livery_port(runner, sqlite)))  # fmt: skip
    nginx = servers.nginx(conf, work / "nginx")
    runner.cleanups.append(nginx.stop)
    bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    servers.wait_http(bases["plain"] + "/v1/discovery/x")
    nginx_200 = runner.measure("nginx: plain file", "200", bases["plain"], sqlite.lines["discovery-200"], 200, "200")
    nginx_304 = runner.measure("nginx: plain file", "304", bases["plain"], work / "plain-304.txt", 304, "304")
    plain_uncached = runner.measure("nginx: plain file", "200, descriptor cache off", bases["plain_uncached"],
                                    sqlite.lines["discovery-200"], 200, "200")  # fmt: skip
    runner.warm(bases["published"], sqlite.lines["static-200"])  # inodes and pages, as every server gets
    static_200 = runner.measure("nginx: static-published", "discovery 200", bases["published"],
                                sqlite.lines["static-200"], 200, "200")  # fmt: skip
    runner.measure("nginx: static-published", "discovery 304", bases["published"], sqlite.lines["static-304"], 304,
                   "304")  # fmt: skip
    runner.warm(bases["hot"], sqlite.lines["static-hot-200"])
    static_hot = runner.measure("nginx: static-published", "discovery 200 (hot set)", bases["hot"],
                                sqlite.lines["static-hot-200"], 200, "200")  # fmt: skip
    runner.warm(bases["micro"], sqlite.lines["hot-200"])
    micro_200 = runner.measure("nginx micro-cache → Livery", "discovery 200 (hot set)", bases["micro"],
                               sqlite.lines["hot-200"], 200, "200")  # fmt: skip
    runner.measure("nginx micro-cache → Livery", "discovery 304 (hot set)", bases["micro"], sqlite.lines["hot-304"],
                   304, "304")  # fmt: skip
    nginx.stop()
    livery.stop()

    pg = None
    pg_url = None if args.skip_postgres else servers.postgres_database(runner.cleanups)
    if pg_url:
        print("seeding PostgreSQL ...", flush=True)
        pg = datasets.build("postgres", pg_url, work, **size)
        print(f"  seeded in {pg.seed_seconds:.0f} s", flush=True)
        print("Livery on PostgreSQL, 100 000 codes", flush=True)
        runner.livery(pg, "Livery PostgreSQL 100k").stop()

    print("Livery on SQLite, 100 codes", flush=True)
    runner.livery(small, "Livery SQLite 100 codes", LIVERY_SCENARIOS[:2]).stop()

    print(f"100 000 vs 100 codes side by side ({scale.ROUNDS} rounds)", flush=True)
    runner.extra["scale ratios"] = scale.interleaved_ratios(runner, sqlite, small)

    nginx_rates = {"200": nginx_200.result.rps, "304": nginx_304.result.rps}
    body = report.table(runner.rows, nginx_rates, floor_row.result.rps)
    print()
    print(body)
    checks = report.targets(
        runner.rows, runner.extra, floor_row.result.rps, (static_200, static_hot), micro_200, nginx_200, plain_uncached
    )
    runtime = time.monotonic() - started
    if not args.no_write:
        report.write(
            args.output,
            command=COMMAND,
            runtime_s=runtime,
            setup=setup_text(args, sqlite, pg),
            body=body,
            checks=checks,
            load=args.load_at_start,
        )
        print(f"\nwrote {args.output} ({runtime / 60:.1f} min)")
    return 0


COMMAND = ".venv/bin/python -m bench.run"


def livery_port(runner: Runner, data: datasets.Dataset) -> str:
    """The port of the running Livery gunicorn for ``data`` (from its recorded base URL)."""
    return runner.bases[data.name].rsplit(":", 1)[1]


def setup_text(args: argparse.Namespace, sqlite: datasets.Dataset, pg: datasets.Dataset | None) -> str:
    """The setup section of BENCHMARKS.md."""
    pg_seed = f"; PostgreSQL {pg.seed_seconds:.0f} s" if pg else ""
    return f"""## Setup

- Command: `{COMMAND}` (also `make bench`); options: `--seconds`, `--connections`, `--threads`, `--skip-postgres`,
  `--only SCENARIO...` (the floor and those Livery scenarios only; prints, does not write this file).
- Load: wrk {args.threads} threads, {args.connections} connections, {args.seconds} s per row after a
  {args.warmup} s warm-up per server; `bench/wrk/rotate.lua` rotates over every code (and its ETag for 304 rows).
- Data: {sqlite.codes:,} access codes (9 in 10 live, 1 in 10 test) over {sqlite.brands:,} brands of
  {args.partners} partners, brands created and published through the services, codes inserted in bulk
  (seeding took: SQLite {sqlite.seed_seconds:.0f} s{pg_seed}). The "100 codes" rows use 10 brands x 10 codes.
  Every partner has releases 2.0.0 (100 %) and 2.1.0 (20 %) for three platforms, partner-hosted, active on its
  "stable" and "beta" channels; upgrade polls come from versions 1.0-1.3 with distinct install ids, so every
  answer is a real offer (about a fifth of installs get 2.1.0). The upgrade row gets its own warm-up.
- Livery and the floor run under `gunicorn.conf.py` (see that file for the worker class and count); the floor
  with `--worker-class sync`, gunicorn's own, not Livery's (app/sync_worker.py closes connections sooner).
- Size target: besides the two table rows (minutes apart), both SQLite servers (100 000 and 100 codes) are
  started together at the end and driven in turn, {scale.ROUNDS} pairs of {scale.SECONDS} s runs (bench/scale.py);
  the target uses the median pair, each pair seeing the same background load.
- nginx {servers.nginx_version()}: `worker_processes 1`, `sendfile on`, access log off; `open_file_cache` on the
  plain-file and hot-set servers, off for the 100 000-file rotation and its like-for-like plain-file
  row (see below); both static servers get the warm-up too;
  the plain-file server maps every `/v1/discovery/...` to one file holding a real discovery document
  ({len(sqlite.sample_document)} bytes). The micro-cache server is deploy/nginx/microcache.conf
  (1 s, revalidating with ETags) in front of Livery on SQLite; its rows rotate over a hot set of one
  live code per brand ({sqlite.brands:,} codes), because a micro-cache pays off only where many
  clients share a code.
- "vs nginx" compares 200 rows with nginx's 200 and 304 rows with nginx's 304; "vs floor" compares with
  the bare Flask row."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--partners", type=int, default=100)
    parser.add_argument("--brands-per-partner", type=int, default=10)
    parser.add_argument("--codes", type=int, default=100, help="codes per brand")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[key for _, key, _ in LIVERY_SCENARIOS],
        help="run just these Livery scenarios and the floor (no nginx rows); prints, does not write",
    )
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--output", type=Path, default=servers.REPO / "BENCHMARKS.md")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
