"""What a hung partner web service costs discovery: ``python -m bench.licensing_outage``.

Issue 12: "a partner endpoint that hangs for 30 s reduces discovery throughput by less than
10 % while checks for that partner go on (breaker open, grace answers)". Live partners on the
web-service method (bench.licensing's seeding) all ask one partner service on loopback that
accepts every request and never answers (bench/partner_service.py). The users checked have a last
licensed answer in ``licensing_last_good`` (as after any day of normal service; inserted in bulk),
none in the workers' memory. gunicorn runs the repository's configuration with 2 sync workers.

Windows of ``--seconds`` (default 30, the hang the issue names), back to back: wrk drives
discovery (rotating over the partners' live codes) alone, then the same while this process sends
licence checks for users of the hung partner at a modest rate (``--check-rate`` a second; each
opens its connection when it is sent, see ``_send_checks``), then alone
again, and so on for ``--rounds`` windows with checks. For each: discovery's requests/s with the
checks and alone on either side, their ratio, and the checks' rate, payload statuses, p99 and
the partner calls they caused — each a worker waiting the timeout, so ``workers_time_waiting``
(their share of the two workers' time) is what the hang costs however loaded the machine is.
The breakers start closed, so round 1 includes opening them; later rounds meet a half-open
trial each cool-down (30 s). Loopback only; about 1 + 2 x rounds minutes plus seeding.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.config import Settings
from app.licensing.usage import month_of
from app.licensing.webservice.last_good import user_digest
from bench import servers
from bench.licensing import BASE_URL, CHECK, bulk_insert, seed_partners, user_id
from bench.partner_service import PartnerService

CHECK_SENDERS = 4  # threads sending checks: a hung one waits 2 s, the others keep the pace


def check_bodies(database_url: str, partner: tuple[int, int, str], users: int) -> list[bytes]:
    """Check bodies for ``users`` users of ``partner``, each with a last licensed answer stored.

    Their usage facts of this month exist too, as on any day but the 1st (bench.licensing): the
    first check of a month is a committed write, which is not what this measures.
    """
    partner_id, _customer, code = partner
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    ids = [user_id(0, n) for n in range(users)]
    rows = ((partner_id, user_digest(partner_id, uid), "standard", stamp) for uid in ids)
    bulk_insert(database_url, "licensing_last_good", ("partner_id", "user_digest", "licence_type", "answered_at"), rows)
    facts = ((partner_id, month_of(now), uid, "web_service", "standard", stamp, stamp, 1) for uid in ids)
    columns = ("partner_id", "month", "user_key", "method", "licence_type", "first_check_at", "last_check_at",
               "check_count")  # fmt: skip
    bulk_insert(database_url, "usage_facts", columns, facts)
    bodies = ({"access_code": code, "user_id": uid, "install_id": f"bench-{n}", "nonce": f"n{n}"}
              for n, uid in enumerate(ids))  # fmt: skip
    return [json.dumps(body, separators=(",", ":")).encode() for body in bodies]


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="livery-bench-outage-"))
    results: dict = {"partners": args.partners, "seconds": args.seconds, "workers": 2}
    proc = None
    try:
        with PartnerService() as partner:
            partner.hang.set()
            url = f"sqlite:///{work / 'outage.db'}"
            seeded = seed_partners(url, work, args.partners, partner.url_template)
            checks = check_bodies(url, seeded[0], args.users)
            discovery = work / "discovery.lines"
            discovery.write_text("".join(f"/v1/discovery/{code}\n" for _p, _c, code in seeded))
            env = {"LIVERY_DATABASE_URL": url, "LIVERY_PUBLIC_BASE_URL": BASE_URL,
                   "LIVERY_SIGNING_KEYS_DIR": str(work / "keys"), "LIVERY_STATIC_BRANDS_DIR": str(work / "assets"),
                   "LIVERY_LOG_LEVEL": "ERROR", "LIVERY_EGRESS_ALLOW_PRIVATE": "true",
                   "GUNICORN_CMD_ARGS": "--workers 2 --worker-class sync"}  # fmt: skip
            port = servers.free_port()
            proc = servers.gunicorn("wsgi:app", port, env, work / "gunicorn.log")
            base = f"http://127.0.0.1:{port}"
            servers.wait_http(base + "/healthz")
            servers.wait_ready(base + "/readyz")
            assert servers.get(f"{base}/v1/discovery/{seeded[0][2]}")[0] == 200
            _discovery(base, discovery, args, args.warmup)
            alone = _discovery(base, discovery, args, args.seconds)
            results["rounds"] = []
            for _ in range(args.rounds):
                calls = partner.calls
                with_checks, checked = _with_checks(base, discovery, checks, args)
                calls = partner.calls - calls
                after = _discovery(base, discovery, args, args.seconds)
                results["rounds"].append(_round(alone, with_checks, after, checked, calls, args))
                alone = after
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["median_ratio"] = statistics.median(r["ratio"] for r in results["rounds"])
    return results


def _round(
    before: servers.WrkResult, during: servers.WrkResult, after: servers.WrkResult, checked: CheckStream, calls: int,
    args: argparse.Namespace,
) -> dict:  # fmt: skip
    """One window with checks, compared with the windows alone on either side of it."""
    alone = (before.rps + after.rps) / 2
    # what the hang itself costs, whatever else loads the machine: worker time spent waiting on it
    waited = calls * Settings().licensing_timeout / (2 * args.seconds)
    return {
        "discovery_rps": {"before": round(before.rps), "with_checks": round(during.rps), "after": round(after.rps)},
        "ratio": round(during.rps / alone, 3),
        "discovery_p99_ms": {"before": before.p99_ms, "with_checks": during.p99_ms, "after": after.p99_ms},
        "partner_calls": calls,
        "workers_time_waiting": round(waited, 3),
        "discovery_errors": during.socket_errors + during.status_errors,
        "checks": {"rps": round(checked.rps, 1), "requests": len(checked.latencies),
                   "p50_ms": checked.percentile_ms(0.5), "p99_ms": checked.percentile_ms(0.99),
                   "statuses": dict(checked.statuses)},
    }  # fmt: skip


def _discovery(base: str, lines: Path, args: argparse.Namespace, seconds: int) -> servers.WrkResult:
    return servers.wrk(base, lines, seconds=seconds, connections=args.connections, threads=args.threads)


@dataclass
class CheckStream:
    """What the paced checks got: their latencies and the payload statuses answered."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1) if ordered else 0.0


def _send_checks(base: str, bodies: list[bytes], args: argparse.Namespace, stream: CheckStream) -> None:
    """``--check-rate`` checks a second for ``--seconds``, from ``CHECK_SENDERS`` threads.

    Each check opens its connection when it is sent: a load generator that connects and then
    waits to pace itself (wrk's ``delay()``) is a slow client, and holds a sync worker idle all
    that time (docs/deployment.md, "Slow clients") — it would measure itself, not the hang.
    """
    interval = CHECK_SENDERS / args.check_rate
    started = time.monotonic()
    end = started + args.seconds

    def sender(offset: int) -> None:
        due = started + offset * interval / CHECK_SENDERS
        n = offset
        while (now := time.monotonic()) < end:
            if now < due:
                time.sleep(due - now)
                continue
            request = urllib.request.Request(base + CHECK, data=bodies[n % len(bodies)],
                                             headers={"Content-Type": "application/json"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = json.loads(response.read())["payload"]["status"]
            except urllib.error.HTTPError as exc:
                status = f"http_{exc.code}"
            except OSError:
                status = "no_answer"
            stream.latencies.append(time.monotonic() - now)
            stream.statuses[status] += 1
            due, n = due + interval, n + CHECK_SENDERS

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(CHECK_SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stream.seconds = time.monotonic() - started


def _with_checks(base: str, discovery: Path, bodies: list[bytes], args: argparse.Namespace):
    """Discovery with wrk and, started with it, the paced checks: both results."""
    stream = CheckStream()
    thread = threading.Thread(target=_send_checks, args=(base, bodies, args, stream))
    thread.start()
    result = _discovery(base, discovery, args, args.seconds)
    thread.join()
    return result, stream


def markdown(results: dict) -> str:
    """The BENCHMARKS.md rows for ``results``: one per window with checks."""
    rows = [
        "| round | discovery alone before / after | discovery with the checks | ratio | partner calls "
        "(workers' time waiting) | checks/s | check statuses | check p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(results["rounds"], 1):
        rps, checks = r["discovery_rps"], r["checks"]
        statuses = ", ".join(f"{count} {name}" for name, count in sorted(checks["statuses"].items()))
        rows.append(f"| {n} | {rps['before']} / {rps['after']} | {rps['with_checks']} | {r['ratio'] * 100:.0f} % | "
                    f"{r['partner_calls']} ({r['workers_time_waiting'] * 100:.1f} %) | {checks['rps']} | {statuses} | "
                    f"{checks['p99_ms']:.0f} |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=100, help="live web-service partners (discovery codes)")
    parser.add_argument("--users", type=int, default=1000, help="users of the hung partner the checks rotate over")
    parser.add_argument("--seconds", type=int, default=30, help="each window (the hang the issue names: 30 s)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="windows with checks, each between two alone")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-rate", type=float, default=20, help="licence checks per second")
    parser.add_argument("--markdown", action="store_true", help="print the BENCHMARKS.md rows too")
    args = parser.parse_args()
    results = run(args)
    print(json.dumps(results, indent=1))
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
