"""Install reports under load beside discovery, and what a SIGKILLed worker loses.

``python -m bench.install_reports --seconds 60`` (loopback only; ``--seconds 5`` for a quick run):

1. seeds a SQLite (default) or PostgreSQL (``--db postgres``) database: one live partner, a
   published brand on channel ``stable`` with a live code, a published release 5.3.0 and an
   active control file offering it (so every flush also runs the halt guard);
2. measures the framework floor (bare Flask, bench/floor.py) and Livery answering discovery
   with wrk, alone;
3. measures Livery's discovery again while a second wrk POSTs distinct install reports as fast
   as ``--report-connections`` connections go (the machine decides the rate: ``--rate`` 2 000/s
   is the aim, reported beside what was reached), ``--batch`` reports per POST (1: each report
   alone; 5: ``{"reports": [...]}`` of five, what clients flushing their outbox after an outage
   send; fewer connections then give the same report rate), and halfway through SIGKILLs one
   gunicorn worker;

Not paced: a paced generator (wrk's ``delay()``) opens each connection, then waits before it
sends, and a sync worker that accepted it waits with it; paced runs measured that stall, not the
reports (BENCHMARKS.md, install reports in batches).
4. stops gunicorn gracefully (the surviving workers flush at exit) and counts the reports in the
   database against those answered 202: the difference is what the SIGKILL lost.

Prints the discovery rates and ratios to the floor, the reports sent, accepted, refused and
lost, and the bound (``LIVERY_UPGRADE_REPORTS_FLUSH_SECONDS`` x a worker's share of the rate).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from app import create_app, migrate
from app.config import Settings
from app.db import session
from bench import servers
from tests import services as test_services

ACTOR = "bench:install-reports"
BASE_URL = "https://livery.bench.example"


def seed(database_url: str, work: Path) -> str:
    """The partner, brand, code, release and control file; returns the live code."""
    from app.branding import services as branding
    from app.partners import services as partners
    from app.upgrades.releases import create_release, update_release
    from app.upgrades.services import upload_control_file

    migrate.upgrade(database_url)
    settings = Settings(database_url=database_url, public_base_url=BASE_URL, static_brands_dir=str(work / "assets"),
                        control_files_dir=str(work / "control_files"), signing_keys_dir=str(work / "keys"))  # fmt: skip
    app = create_app(settings)
    with app.app_context():
        db = session()
        partner = partners.create_partner(db, slug="reports", name="Reports", actor=ACTOR)
        partners.set_partner_status(db, partner, "live", actor=ACTOR)
        brand = branding.create_brand(db, partner, "Brand", {"product_name": "Acme Connect"}, actor=ACTOR)
        branding.publish_draft(db, brand, actor=ACTOR)
        _row, code = branding.issue_code(db, brand, kind="live", actor=ACTOR)
        installer = {"external_url": "https://downloads.acme.example/5.3.0.msi", "sha256": "a" * 64, "size": 1000}
        release = create_release(db, partner, version="5.3.0", platform="windows-x64", actor=ACTOR, **installer)
        db.flush()
        update_release(
            db, release, {"status": "published"}, actor=ACTOR, store=app.extensions["livery.stores"].installers
        )
        document = {"schema_version": 1, "channel": "stable", "default_mode": "passive",
                    "releases": [{"version": "5.3.0", "rollout_percent": 20}]}  # fmt: skip
        upload_control_file(
            db, app.extensions["livery.stores"], partner.id, "stable", json.dumps(document).encode(), actor=ACTOR
        )
        db.commit()
    app.extensions["livery.engine"].dispose()
    return code


def write_reports(path: Path, count: int, batch: int = 1) -> Path:
    """``count`` distinct reports (each of its own install), one request body per line: a report, or a
    batch of ``batch`` (wrk POSTs each line once while it has not wrapped)."""
    with path.open("w") as out:
        for first in range(0, count, batch):
            reports = [{"install_id": f"bench-{n}", "from_version": "5.2.0", "to_version": "5.3.0",
                        "platform": "windows-x64", "outcome": "succeeded", "serial": 1}
                       for n in range(first, first + batch)]  # fmt: skip
            body = reports[0] if batch == 1 else {"reports": reports}
            out.write(json.dumps(body, separators=(",", ":")) + "\n")
    return path


def _wrk(base: str, lines: Path, args: argparse.Namespace) -> servers.WrkResult:
    return servers.wrk(base, lines, seconds=args.seconds, connections=args.connections, threads=args.threads)


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="livery-bench-reports-"))
    processes: list[servers.Process] = []
    pg_url = None
    results: dict = {"db": args.db, "rate": args.rate, "batch": args.batch, "seconds": args.seconds,
                     "flush_seconds": args.flush_seconds}  # fmt: skip
    try:
        if args.db == "postgres":
            pg_url = test_services.create_pg_database("livery_bench_reports")
            url = pg_url
        else:
            url = f"sqlite:///{work / 'livery.db'}"
        code = seed(url, work)
        lines = work / "discovery.lines"
        lines.write_text(f"/v1/discovery/{code}\n")
        document = work / "document.json"

        env = {
            "LIVERY_DATABASE_URL": url,
            "LIVERY_PUBLIC_BASE_URL": BASE_URL,
            "LIVERY_SIGNING_KEYS_DIR": str(work / "keys"),
            "LIVERY_STATIC_BRANDS_DIR": str(work / "assets"),
            "LIVERY_CONTROL_FILES_DIR": str(work / "control_files"),
            "LIVERY_UPGRADE_REPORTS_FLUSH_SECONDS": str(args.flush_seconds),
            "LIVERY_REQUEST_LOG": "false",
        }
        port = servers.free_port()
        livery = servers.gunicorn("wsgi:app", port, env, work / "gunicorn.log")
        processes.append(livery)
        base = f"http://127.0.0.1:{port}"
        servers.wait_http(base + "/healthz")
        servers.wait_started(livery.pid)
        document.write_bytes(servers.get(base + f"/v1/discovery/{code}")[2])

        floor_port = servers.free_port()
        floor = servers.floor(floor_port, document, work / "floor.log")
        processes.append(floor)
        servers.wait_http(f"http://127.0.0.1:{floor_port}/v1/discovery/x")
        floor_rps = _wrk(f"http://127.0.0.1:{floor_port}", lines, args).rps
        floor.stop()
        alone = _wrk(base, lines, args)
        results["floor_rps"] = round(floor_rps)
        results["discovery_alone"] = {"rps": round(alone.rps), "vs_floor": round(alone.rps / floor_rps, 3),
                                      "p99_ms": alone.p99_ms}  # fmt: skip
        print(f"floor {floor_rps:.0f}/s, discovery alone {alone.rps:.0f}/s", flush=True)

        bodies = write_reports(work / "reports.lines", args.rate * args.seconds * 2, args.batch)
        killed: list[int] = []
        reported: list[servers.WrkResult] = []

        def report() -> None:
            # one wrk thread: it walks the bodies in order, so no report is sent twice
            reported.append(servers.wrk(base, bodies, seconds=args.seconds, connections=args.report_connections,
                                        threads=1, post_path=f"/v1/upgrade/{code}/reports"))  # fmt: skip

        def kill_one() -> None:
            time.sleep(args.seconds / 2)
            workers = servers.worker_pids(livery.pid)
            if workers and args.kill:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])

        killer = threading.Thread(target=kill_one, daemon=True)
        reporter = threading.Thread(target=report, daemon=True)
        reporter.start()
        killer.start()
        loaded = _wrk(base, lines, args)
        reporter.join()
        killer.join()
        sent = reported[0]
        livery.stop()  # graceful: the surviving workers write what they hold

        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM install_reports")).scalar()
            halted = conn.execute(text("SELECT halted FROM channels")).scalar()
        engine.dispose()
        # reports answered 202 (wrk counts other statuses as errors; a batch is accepted or refused whole)
        accepted = (sent.requests - sent.status_errors) * args.batch
        per_worker_rate = accepted / sent.seconds / 2
        results["with_reports"] = {
            "discovery_rps": round(loaded.rps),
            "vs_floor": round(loaded.rps / floor_rps, 3),
            "p99_ms": loaded.p99_ms,
            "reports_per_s": round(sent.rps * args.batch),
            "posts_per_s": round(sent.rps),
            "reports_p99_ms": sent.p99_ms,
            "accepted_202": accepted,
            "refused_posts": sent.status_errors,
            "socket_errors": sent.socket_errors,
            "stored": stored,
            "killed_worker": killed[0] if killed else None,
            "lost_after_sigkill": accepted - stored,
            "loss_bound": round(per_worker_rate * max(args.flush_seconds, 0.0)),
            "channel_halted": bool(halted),
        }
        print(json.dumps(results["with_reports"]), flush=True)
    finally:
        for proc in processes:
            proc.stop()
        if pg_url:
            test_services.drop_pg_database(pg_url)
        shutil.rmtree(work, ignore_errors=True)
    return results


def markdown(results: dict) -> str:
    """The BENCHMARKS.md rows for ``results``."""
    alone, loaded = results["discovery_alone"], results["with_reports"]
    per_post = "1 report per POST" if results["batch"] == 1 else f"batches of {results['batch']}"
    run = f"discovery + reports ({per_post}; {results['db']}, flush {results['flush_seconds']} s)"
    lost = f"{loaded['lost_after_sigkill']} (bound {loaded['loss_bound']})"
    return "\n".join(
        [
            "| run | discovery/s | vs floor | p99 ms | reports/s sent (POSTs/s) | reports 202 | lost after SIGKILL |",
            "|---|---|---|---|---|---|---|",
            f"| floor: bare Flask, the same discovery bytes | {results['floor_rps']} | 100 % | | | | |",
            f"| discovery alone | {alone['rps']} | {alone['vs_floor']:.0%} | {alone['p99_ms']:.1f} | | | |",
            f"| {run} | {loaded['discovery_rps']} | {loaded['vs_floor']:.0%} | {loaded['p99_ms']:.1f} "
            f"| {loaded['reports_per_s']} ({loaded['posts_per_s']}) | {loaded['accepted_202']} | {lost} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=2000, help="reports per second aimed at (sizes the body file)")
    parser.add_argument("--batch", type=int, default=1, help="reports per POST (1: each alone; 2-20: a batch)")
    parser.add_argument(
        "--report-connections",
        type=int,
        default=32,
        help="wrk connections sending reports: sync workers answer each wrk about in proportion to its "
        "connections, so 32 beside discovery's 64 gives reports about a third of what the server answers",
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--flush-seconds", type=float, default=0.5, help="LIVERY_UPGRADE_REPORTS_FLUSH_SECONDS")
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="do not SIGKILL a worker")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.batch <= 20:
        parser.error("--batch: 1 to 20 reports per POST (the service's limit)")
    servers.ensure_tools()
    results = run(args)
    print(json.dumps(results, indent=1))
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
