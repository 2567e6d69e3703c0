"""Month close at scale: 1 000 000 counted users across 1 000 partners; one partner's CSV streamed.

``python -m bench.billing [--users N] [--partners P] [--big B] [--database-url URL | --postgres]``
(bounded: a few minutes, no network but the database; ``--postgres`` makes a fresh database on
127.0.0.1:5432 and drops it afterwards) seeds a database in bulk (partners, one customer
each, one allocation event per portal user dated in the month before, usage facts for every
tenth user as web-service checks; partner 1 holds ``--big`` users), then, in a fresh child
process each (so that seeding does not count in the peak RSS):

- closes the month for every partner (``close_month``, one commit per partner), printing the time
  and the child's peak RSS;
- streams partner 1's CSV through the admin route (``Accept: text/csv``) and prints the
  time to the first byte, the total time and bytes, and the peak RSS.

``--markdown`` prints the BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert

from bench import servers

MONTH = "2026-10"
ALLOCATED_AT = datetime(2026, 9, 15, tzinfo=UTC)
CHECKED_AT = datetime(2026, 10, 10, tzinfo=UTC)
BATCH = 50_000


def seed(database_url: str, users: int, partners: int, big: int) -> None:
    """Partners, customers, allocation events and usage facts, inserted in bulk."""
    from app import migrate
    from app.licensing.models import AllocationEvent, Customer, UsageFact
    from app.partners.models import Partner

    migrate.upgrade(database_url)
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Partner),
            [
                {
                    "id": p,
                    "slug": f"p{p}",
                    "name": f"P{p}",
                    "status": "live",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for p in range(1, partners + 1)
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {"id": p, "partner_id": p, "name": f"Customer {p}", "version": 1, "created_at": now, "updated_at": now}
                for p in range(1, partners + 1)
            ],
        )
    rest = (users - big) // max(partners - 1, 1)
    counts = [big] + [rest] * (partners - 1)
    events, facts = [], []
    with engine.begin() as conn:
        for partner, count in enumerate(counts, start=1):
            for n in range(count):
                key = f"user{n:07d}@p{partner}.example"
                if n % 10 == 9:
                    facts.append(
                        {
                            "partner_id": partner,
                            "month": MONTH,
                            "user_key": key,
                            "method": "web_service",
                            "first_check_at": CHECKED_AT,
                            "last_check_at": CHECKED_AT,
                            "check_count": 1,
                        }
                    )
                else:
                    events.append(
                        {
                            "partner_id": partner,
                            "licensed_user_id": n + 1,
                            "user_key": key,
                            "customer_id": partner,
                            "action": "added",
                            "status": "active",
                            "licence_type": "standard",
                            "actor": "bench",
                            "at": ALLOCATED_AT,
                        }
                    )
                if len(events) >= BATCH:
                    conn.execute(insert(AllocationEvent), events)
                    events = []
                if len(facts) >= BATCH:
                    conn.execute(insert(UsageFact), facts)
                    facts = []
        if events:
            conn.execute(insert(AllocationEvent), events)
        if facts:
            conn.execute(insert(UsageFact), facts)
    engine.dispose()


def _app(database_url: str, work: str):
    from app import create_app
    from app.config import Settings

    settings = Settings(database_url=database_url, static_brands_dir=work, signing_keys_dir=work)
    return create_app(settings)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    # the machine is shared: CPU seconds of this process say more than the wall clock
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_close(database_url: str, work: str) -> dict:
    """Close the month for every partner; seconds, users and peak RSS of this process."""
    from sqlalchemy import select

    from app.billing.reports import close_month
    from app.db import session
    from app.partners.models import Partner

    app = _app(database_url, work)
    with app.app_context():
        started, cpu = time.perf_counter(), _cpu_seconds()
        total = 0
        for partner_id in list(session().scalars(select(Partner.id).order_by(Partner.id))):
            report, _made = close_month(session(), partner_id, MONTH, actor="bench", now=datetime.now(UTC))
            session().commit()
            total += report.totals["users"]
        seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "users": total,
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def phase_csv(database_url: str, work: str, closed: bool) -> dict:
    """Stream partner 1's CSV through the admin route; time to first byte, total, bytes, peak RSS."""
    from app.db import session
    from app.partners.services import create_api_key

    app = _app(database_url, work)
    with app.app_context():
        _key, plain = create_api_key(session(), role="operator", actor="bench")
        session().commit()
    client = app.test_client()
    started = time.perf_counter()
    response = client.get(
        f"/admin/v1/reports/usage?month={MONTH}&partner_id=1",
        buffered=False,
        headers={"Authorization": f"Bearer {plain}", "Accept": "text/csv"},
    )
    first, size = None, 0
    for chunk in response.response:
        first = first or time.perf_counter() - started
        size += len(chunk)
    response.close()
    return {
        "closed": closed,
        "first_byte_ms": round((first or 0) * 1000, 1),
        "seconds": round(time.perf_counter() - started, 2),
        "bytes": size,
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _child(phase: str, database_url: str, work: str, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "bench.billing", "--phase", phase, "--database-url", database_url, "--work", work]
    out = subprocess.run([*cmd, *extra], check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=100_000, help="users of partner 1 (its CSV is streamed)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database, dropped afterwards")
    parser.add_argument("--work", default="")
    parser.add_argument("--phase", choices=["close", "csv-open", "csv-closed"], default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.phase == "close":
        print(json.dumps(phase_close(args.database_url, args.work)))
        return
    if args.phase:
        print(json.dumps(phase_csv(args.database_url, args.work, args.phase == "csv-closed")))
        return
    work = tempfile.mkdtemp(prefix="livery-bench-billing-")
    cleanups: list = []
    try:
        database_url = args.database_url or f"sqlite:///{Path(work) / 'billing.db'}"
        if args.postgres:
            database_url = servers.postgres_database(cleanups) or sys.exit("PostgreSQL is not reachable")
        run(args, database_url, work)
    finally:
        for cleanup in cleanups:
            cleanup()
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, database_url: str, work: str) -> None:
    """Seed, close, stream; print the figures (and the BENCHMARKS.md row with ``--markdown``)."""
    started = time.perf_counter()
    seed(database_url, args.users, args.partners, args.big)
    seeded = round(time.perf_counter() - started, 1)
    results = {
        "database": database_url.split(":")[0],
        "users": args.users,
        "partners": args.partners,
        "seed_seconds": seeded,
        "csv_open": _child("csv-open", database_url, work),
        "close": _child("close", database_url, work),
        "csv_closed": _child("csv-closed", database_url, work),
    }
    print(json.dumps(results, indent=2))
    if args.markdown:
        close, open_, closed = results["close"], results["csv_open"], results["csv_closed"]
        print(
            f"| {results['database']} | {close['users']:,} users / {args.partners:,} partners | "
            f"{close['seconds']} s ({close['cpu_seconds']} s CPU) | {close['peak_rss_mb']} MB | "
            f"TTFB {open_['first_byte_ms']} ms / "
            f"{closed['first_byte_ms']} ms | {open_['seconds']} s / {closed['seconds']} s | "
            f"{open_['peak_rss_mb']} / {closed['peak_rss_mb']} MB |"
        )


if __name__ == "__main__":
    main()
