"""Portal licence checks under load: 10 000 vs 1 000 000 licensed users across 1 000 partners.

``python -m bench.licensing`` (bounded: a few minutes, loopback only) seeds two SQLite databases
with the same 1 000 live partners (each a published portal brand, a live code and a customer)
and 10 000 or 1 000 000 licensed users in bulk, starts gunicorn with the repository's
configuration, drives ``POST /v1/licenses/check`` with wrk (bodies rotating over users of every
partner, all licensed) and compares with the bare-Flask floor answering the same bytes. Prints
requests/s, the ratio to the floor, p99, worker RSS and the 10k vs 1M ratio; ``--markdown``
prints the BENCHMARKS.md section.

``--in-process N``: no HTTP and no load generator: N checks of the 10 000-user database called
through the application's WSGI entry (fast path included) in this process, with and without a
nonce, and the floor app's; CPU microseconds per call (``time.process_time``), which a machine
shared with other jobs disturbs far less than requests/s. Each set of N is sent twice and the
second pass is measured: users already seen this month and, without a nonce, answers signed
within the same minute (repeat checks, the case the minute's signed answers are for).
``--method webservice``: cached web-service checks instead. The brands are on the web-service
method, asking a partner service on loopback (bench/partner_service.py, in this process;
``LIVERY_EGRESS_ALLOW_PRIVATE``) that licenses every user; the partners' users exist only there.
Before the measured window the benched users are checked in ``--warmup`` passes until both
workers have them cached (a pass calling the partner for under 1 in 1 000 requests); the row
reports the partner calls left in the window, and the run the memory a worker's answer cache
takes for a million users (``LIVERY_LICENSING_CACHE_ENTRIES`` bounds it; docs/licensing-webservice.md).
``--postgres``: the same on PostgreSQL at 127.0.0.1:5432 (fresh databases, dropped afterwards).
``--no-nonce``: bodies without a nonce (answers signed once per user, installation and minute);
by default every body carries one, as the reference client sends.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from app import create_app, migrate
from app.config import Settings
from app.db import session
from bench import servers
from bench.partner_service import PartnerService

ACTOR = "bench:licensing"
CHECK = "/v1/licenses/check"
BASE_URL = "https://livery.bench.example"


def _settings(database_url: str, work: Path) -> Settings:
    return Settings(database_url=database_url, public_base_url=BASE_URL, static_brands_dir=str(work / "assets"),
                    signing_keys_dir=str(work / "keys"))  # fmt: skip


def seed_partners(
    database_url: str, work: Path, partners: int, url_template: str | None = None
) -> list[tuple[int, int, str]]:
    """Live partners, each with a published brand, a live code and a customer: (partner, customer, code).

    The brands are on the portal method, or with ``url_template`` on the web-service method
    asking that partner service (a request-signing secret made, a passed verification recorded:
    the go-live rule's preconditions, without 26 calls per partner).
    """
    from app.branding import services as branding
    from app.licensing.models import Customer
    from app.licensing.services import create_org
    from app.licensing.settings import update_settings
    from app.licensing.webservice.services import record_verification
    from app.partners import services as partner_services

    migrate.upgrade(database_url)
    app = create_app(_settings(database_url, work))
    out = []
    with app.app_context():
        db = session()
        for p in range(partners):
            partner = partner_services.create_partner(db, slug=f"lic-{p:04d}", name=f"Partner {p}", actor=ACTOR)
            partner_services.set_partner_status(db, partner, "live", actor=ACTOR)
            method = "portal"
            if url_template is not None:
                method = "web_service"
                changes = {"web_service_url_template": url_template}
                update_settings(db, partner.id, changes, rotate_secret=True, drop_old=False, actor=ACTOR)
                record_verification(db, partner.id, {"passed": True, "checks": [], "seeded": ACTOR}, actor=ACTOR)
            fields = {"product_name": f"Partner {p} Connect", "licensing_method": method}
            brand = branding.create_brand(db, partner, f"Brand {p}", fields, actor=ACTOR)
            branding.publish_draft(db, brand, actor=ACTOR)
            _code, plain = branding.issue_code(db, brand, kind="live", actor=ACTOR)
            customer = create_org(db, Customer, partner.id, {"name": f"Customer {p}"}, actor=ACTOR)
            out.append((partner.id, customer.id, plain))
            if p % 100 == 99:
                db.commit()
        db.commit()
    app.extensions["livery.engine"].dispose()
    return out


def user_id(partner_index: int, n: int) -> str:
    return f"user{n:07d}@partner{partner_index:04d}.example"


def bulk_insert(database_url: str, table: str, columns: tuple[str, ...], rows) -> None:
    """``rows`` into ``table`` in bulk: COPY on PostgreSQL, the driver's executemany on SQLite."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    names = ", ".join(columns)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            with conn.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))  # noqa: S608 (constants)
    engine.dispose()


def insert_users(database_url: str, seeded: list[tuple[int, int, str]], per_partner: int) -> float:
    """``per_partner`` licensed users for each partner, in bulk; seconds taken."""
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    columns = ("partner_id", "customer_id", "user_id", "user_key", "licence_type", "status", "version",
               "created_at", "updated_at")  # fmt: skip
    rows = (
        (partner_id, customer_id, user_id(index, n), user_id(index, n), "standard", "active", 1, stamp, stamp)
        for index, (partner_id, customer_id, _code) in enumerate(seeded)
        for n in range(per_partner)
    )
    bulk_insert(database_url, "licensed_users", columns, rows)
    return time.monotonic() - started


def write_bodies(
    database_url: str, path: Path, seeded: list[tuple[int, int, str]], per_partner: int, count: int, nonce: bool,
    method: str = "portal",
) -> Path:  # fmt: skip
    """``count`` check bodies for random licensed users of random partners (seeded: the same every run).

    Their users' usage facts of this month are inserted too: the state of any day but the first
    of a month, when a user's first check of the month is long written.
    """

    rng = random.Random(20261130)
    lines, facts = [], {}
    now = datetime.now(UTC)
    stamp, month = now.strftime("%Y-%m-%d %H:%M:%S.%f"), now.strftime("%Y-%m")
    for i in range(count):
        index = rng.randrange(len(seeded))
        uid = user_id(index, rng.randrange(per_partner))
        body = {"access_code": seeded[index][2], "user_id": uid, "install_id": f"bench-{i}"}
        if nonce:
            body["nonce"] = f"n{i}"
        lines.append(json.dumps(body, separators=(",", ":")))
        facts[(seeded[index][0], uid)] = (seeded[index][0], month, uid, method, "standard", stamp, stamp, 1)
    path.write_text("\n".join(lines) + "\n")
    columns = ("partner_id", "month", "user_key", "method", "licence_type", "first_check_at", "last_check_at",
               "check_count")  # fmt: skip
    bulk_insert(database_url, "usage_facts", columns, facts.values())
    return path


def probe(base: str, bodies: Path) -> dict:
    """One check through urllib: the answer must be a valid, licensed one."""
    import urllib.request

    body = bodies.read_text().splitlines()[0].encode()
    request = urllib.request.Request(base + CHECK, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["payload"]["status"] == "valid", answer
    return answer


def _copy_database(template_url: str, work: Path, name: str, cleanups: list) -> str:
    """A copy of the seeded template database: a file copy, or PostgreSQL's CREATE DATABASE ... TEMPLATE."""
    if template_url.startswith("sqlite"):
        path = work / f"{name}.db"
        shutil.copyfile(template_url.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    import psycopg

    base, template = template_url.rsplit("/", 1)
    copy = f"{template}_{name.lower()}"
    with psycopg.connect(servers.POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')

    def drop() -> None:
        with psycopg.connect(servers.POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')

    cleanups.append(drop)
    return f"{base}/{copy}"


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="livery-bench-licensing-"))
    results: dict = {"partners": args.partners, "nonce": not args.no_nonce, "method": args.method}
    processes: list[servers.Process] = []
    cleanups: list = []
    web = args.method == "webservice"
    stack = ExitStack()
    partner = stack.enter_context(PartnerService()) if web else None
    try:
        template_url = f"sqlite:///{work / 'template.db'}"
        if args.postgres:
            template_url = servers.postgres_database(cleanups) or sys.exit("PostgreSQL is not reachable")
        results["database"] = template_url.split(":")[0].split("+")[0]
        started = time.monotonic()
        seeded = seed_partners(template_url, work, args.partners, partner.url_template if web else None)
        results["seed_partners_s"] = round(time.monotonic() - started, 1)
        sizes = {"10k": args.small // args.partners, "1M": args.large // args.partners}
        databases = {}
        for name, per_partner in sizes.items():
            url = _copy_database(template_url, work, name, cleanups)
            if not web:  # a web-service partner's users are known to its service, not to Livery
                results[f"insert_{name}_s"] = round(insert_users(url, seeded, per_partner), 1)
            bodies = write_bodies(url, work / f"{name}.bodies", seeded, per_partner, args.bodies, not args.no_nonce,
                                  "web_service" if web else "portal")  # fmt: skip
            databases[name] = (url, bodies)
        print(f"seeded in {json.dumps(results)}", flush=True)

        env = {"LIVERY_PUBLIC_BASE_URL": BASE_URL, "LIVERY_SIGNING_KEYS_DIR": str(work / "keys"),
               "LIVERY_STATIC_BRANDS_DIR": str(work / "assets"), "LIVERY_LOG_LEVEL": "WARNING",
               "LIVERY_LICENSING_WARM_SECONDS": "25", "LIVERY_EGRESS_ALLOW_PRIVATE": "true"}  # fmt: skip
        floors = []
        for name, (url, bodies) in databases.items():
            # the floor right before each run: the machine's load drifts, ratios within minutes hold
            floors.append(_floor(work, args, bodies, processes))
            port = servers.free_port()
            proc = servers.gunicorn(
                "wsgi:app", port, {**env, "LIVERY_DATABASE_URL": url}, work / f"gunicorn-{name}.log"
            )
            processes.append(proc)
            base = f"http://127.0.0.1:{port}"
            servers.wait_http(base + "/healthz")
            probe(base, bodies)
            _wrk(base, bodies, args, args.warmup)
            if web:
                results[f"warm_{name}"] = _warm_cache(base, bodies, args, partner)
            calls_before = partner.calls if web else 0
            result = _wrk(base, bodies, args, args.seconds)
            rss = servers.worker_rss_mb(proc.pid)
            errors = result.status_errors + result.socket_errors
            results[name] = {"rps": round(result.rps), "p99_ms": result.p99_ms, "errors": errors,
                             "rss_mb": [round(m) for m in rss], "floor_rps": round(floors[-1])}  # fmt: skip
            results[name]["vs_floor"] = round(result.rps / floors[-1], 3)
            if web:  # checks the cache did not answer, in the measured window
                results[name]["partner_calls"] = partner.calls - calls_before
            print(f"{name}: {results[name]}", flush=True)
            proc.stop()
        results["1M_vs_10k"] = round(results["1M"]["rps"] / results["10k"]["rps"], 3)
        if web:
            results["cache_mb_per_million"] = cache_megabytes(1_000_000)
    finally:
        for proc in processes:
            proc.stop()
        for cleanup in cleanups:
            cleanup()
        stack.close()
        shutil.rmtree(work, ignore_errors=True)
    return results


def _warm_cache(base: str, bodies: Path, args: argparse.Namespace, partner: PartnerService) -> list[int]:
    """Drive the checks until both workers have every benched user cached; partner calls per pass.

    A sync worker caches what it answered, and wrk's requests land on either worker, so the
    users are checked in passes of ``--warmup`` seconds until a pass calls the partner for
    fewer than 1 in 1 000 of its requests (at most 10 passes; the measured window reports
    the calls that remain).
    """
    calls = []
    for _ in range(10):
        before = partner.calls
        result = _wrk(base, bodies, args, args.warmup)
        calls.append(partner.calls - before)
        if calls[-1] * 1000 < result.requests:
            break
    return calls


def cache_megabytes(entries: int) -> float:
    """Memory (MB of this process's RSS) of a worker's web-service answer cache holding ``entries`` users.

    Filled as checks fill it (one licensed answer per user, keyed like the method keys it),
    so the figure says whether ``LIVERY_LICENSING_CACHE_ENTRIES`` users fit a worker's budget.
    """
    from app.licensing.webservice.memory import AnswerCache, Remembered, answer_key

    def rss_mb() -> float:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    before = rss_mb()
    cache = AnswerCache(entries)
    template = "https://licensing.partner.example/licences/{user_id}"
    now = time.time()
    for n in range(entries):
        partner_index = n % 1000
        key = answer_key(partner_index + 1, template, user_id(partner_index, n // 1000))
        cache.remember(key, Remembered(True, "standard", now, now + 900))
    return round(rss_mb() - before)


def in_process(args: argparse.Namespace) -> dict:
    """CPU microseconds per check called through WSGI in this process: a nonce, none, the floor."""
    import os

    work = Path(tempfile.mkdtemp(prefix="livery-bench-licensing-"))
    cleanups: list = []
    try:
        url = f"sqlite:///{work / 'inproc.db'}"
        if args.postgres:
            url = servers.postgres_database(cleanups) or sys.exit("PostgreSQL is not reachable")
        seeded = seed_partners(url, work, args.partners)
        per_partner = args.small // args.partners
        insert_users(url, seeded, per_partner)
        bodies = write_bodies(url, work / "bodies", seeded, per_partner, args.in_process, nonce=True)
        lines = bodies.read_text().splitlines()
        app = create_app(_settings(url, work))
        floor_body = work / "floor-body.json"
        floor_body.write_text(json.dumps(SAMPLE_ANSWER, separators=(",", ":")))
        os.environ["LIVERY_BENCH_FLOOR_BODY"] = str(floor_body)
        from bench.floor import app as floor

        def per_call(wsgi, bodies: list[bytes]) -> float:
            client = wsgi.test_client()
            for body in bodies:  # warm: the index, the code table, the users' usage facts (and answers)
                client.post(CHECK, data=body, content_type="application/json")
            started = time.process_time()
            for body in bodies:
                response = client.post(CHECK, data=body, content_type="application/json")
                assert response.status_code == 200
            return round((time.process_time() - started) / len(bodies) * 1e6)

        with_nonce = [line.encode() for line in lines]
        without = [json.dumps({k: v for k, v in json.loads(line).items() if k != "nonce"}).encode() for line in lines]
        results = {"database": url.split(":")[0].split("+")[0], "checks": len(lines), "users": args.small}
        results["floor_us"] = per_call(floor, with_nonce)
        results["nonce_us"] = per_call(app, with_nonce)
        results["no_nonce_us"] = per_call(app, without)
        results["floor_again_us"] = per_call(floor, with_nonce)
        app.extensions["livery.licensing"].usage.flush()  # before the database goes (else at exit)
        app.extensions["livery.engine"].dispose()
        return results
    finally:
        for cleanup in cleanups:
            cleanup()
        shutil.rmtree(work, ignore_errors=True)


def _floor(work: Path, args: argparse.Namespace, bodies: Path, processes: list) -> float:
    """Requests/s of the bare-Flask floor answering a check's bytes to the same POSTs."""
    floor_body = work / "floor-body.json"
    if not floor_body.exists():
        floor_body.write_text(json.dumps(SAMPLE_ANSWER, separators=(",", ":")))
    port = servers.free_port()
    floor = servers.floor(port, floor_body, work / "gunicorn-floor.log")
    processes.append(floor)
    base = f"http://127.0.0.1:{port}"
    servers.wait_http(base + "/v1/discovery/x")
    _wrk(base, bodies, args, min(args.warmup, 3))
    result = _wrk(base, bodies, args, args.seconds)
    floor.stop()
    print(f"floor: {round(result.rps)}/s", flush=True)
    return result.rps


# a check answer's size and shape, for the floor to send (its bytes need not verify)
SAMPLE_ANSWER = {
    "payload": {
        "access_code_digest": "0" * 64, "install_id": "bench-0", "issued_at": "2026-11-30T12:00:00Z",
        "lease_until": "2026-12-07T12:00:00Z", "licence_type": "standard", "licensed": True, "method": "portal",
        "nonce": "n0", "status": "valid", "user_id": "user0000000@partner0000.example",
    },
    "signature": {"alg": "Ed25519", "key_id": "k1", "value": "A" * 86 + "=="},
}  # fmt: skip


def _wrk(base: str, bodies: Path, args: argparse.Namespace, seconds: int) -> servers.WrkResult:
    return servers.wrk(base, bodies, seconds=seconds, connections=args.connections, threads=args.threads,
                       post_path=CHECK)  # fmt: skip


def markdown(results: dict, args: argparse.Namespace) -> str:
    """The BENCHMARKS.md section for ``results``."""
    rows = [
        "| target | requests/s | vs floor | p99 ms | worker RSS |",
        "|---|---|---|---|---|",
    ]
    for name, users in (("10k", args.small), ("1M", args.large)):
        row = results[name]
        rss = ", ".join(f"{m} MB" for m in row["rss_mb"])
        rows.append(
            f"| floor: bare Flask, a constant check answer (run just before) | {row['floor_rps']} | 100 % | | |"
        )
        what = f"{results['database']}, {'a nonce' if results['nonce'] else 'no nonce'}"
        if results["method"] == "webservice":
            check = f"cached web-service check ({what}; {row['partner_calls']} partner calls)"
        else:
            check = f"portal check ({what})"
        rows.append(f"| {check}, {users:,} users / {args.partners} partners | {row['rps']} | "
                    f"{row['vs_floor'] * 100:.0f} % | {row['p99_ms']:.1f} | {rss} |")  # fmt: skip
    rows.append("")
    rows.append(f"{args.large:,} vs {args.small:,} users: {results['1M_vs_10k'] * 100:.0f} % of the throughput.")
    if "cache_mb_per_million" in results:
        rows.append(f"A worker's answer cache holding 1 000 000 users: {results['cache_mb_per_million']} MB.")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10_000, help="licensed users of the small run")
    parser.add_argument("--large", type=int, default=1_000_000, help="licensed users of the large run")
    parser.add_argument("--bodies", type=int, default=10_000, help="distinct check bodies wrk rotates over")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--method",
        choices=("portal", "webservice"),
        default="portal",
        help="the brands' licensing method (webservice: a loopback partner service, cache warmed)",
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432 instead of SQLite")
    parser.add_argument("--no-nonce", action="store_true", help="check bodies without a nonce")
    parser.add_argument("--markdown", action="store_true", help="print the BENCHMARKS.md section too")
    parser.add_argument("--in-process", type=int, default=0, metavar="N", help="CPU per check in-process, N checks")
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(args), indent=1))
        return
    results = run(args)
    print(json.dumps(results, indent=1))
    if args.markdown:
        print(markdown(results, args))


if __name__ == "__main__":
    main()
