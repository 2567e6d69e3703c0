"""The fault campaign of issue 11, with figures: what clients see while a dependency fails.

    .venv/bin/python -m bench.faults_campaign [--stopped 20] [--hung 10] [--clients 4]

Loopback only, bounded (about a minute): the deployment of tests/faults (its own PostgreSQL
cluster, its own S3 server, gunicorn with two sync workers and short timeouts), and

1. PostgreSQL stopped for ``--stopped`` seconds while clients request discovery, upgrade polls,
   assets, installers and admin calls: counts by status;
2. PostgreSQL hung (SIGSTOP of the postmaster and its children) and 3. S3 hung (SIGSTOP of the
   server) for ``--hung`` seconds each: public answers by status, their rate and p99 latency;

each followed by the time until admin calls and /readyz answer 200 again.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import threading
import time
from collections import Counter

from tests.faults.deployment import PUBLIC, Deployment, Reply, freeze, start_deployment, thaw, unavailable_reason

ADMIN = ("admin_read", "admin_write")


def _load(deployment: Deployment, seconds: float, clients: int) -> list[Reply]:
    """``clients`` public clients and one admin client, each one request at a time, for ``seconds``."""
    replies: list[Reply] = []
    lock = threading.Lock()

    def run(kinds: tuple[str, ...]) -> None:
        got = deployment.traffic(seconds, kinds)
        with lock:
            replies.extend(got)

    threads = [threading.Thread(target=run, args=(PUBLIC,)) for _ in range(clients)]
    threads.append(threading.Thread(target=run, args=(ADMIN,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def _p99(replies: list[Reply]) -> float:
    times = sorted(r.seconds for r in replies)
    return times[min(len(times) - 1, int(len(times) * 0.99))] * 1000 if times else 0.0


def _summary(name: str, replies: list[Reply], seconds: float, recovery: float) -> str:
    public = [r for r in replies if r.kind in PUBLIC]
    ok = sum(1 for r in public if 200 <= r.status < 400)
    admin = Counter(r.status for r in replies if r.kind in ADMIN)
    retry_after = all("Retry-After" in r.headers for r in replies if r.kind in ADMIN and r.status == 503)
    by_kind = Counter((r.kind, r.status) for r in public)
    return "\n".join(
        [
            f"## {name} ({seconds:.0f} s)",
            f"public: {len(public)} requests, {ok} 2xx/3xx ({100 * ok / max(1, len(public)):.1f} %), "
            f"{len(public) / seconds:.0f}/s, p50 {statistics.median(r.seconds for r in public) * 1000:.1f} ms, "
            f"p99 {_p99(public):.1f} ms, max {max(r.seconds for r in public) * 1000:.0f} ms",
            "  by kind and status: " + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(by_kind.items())),
            f"admin: {dict(sorted(admin.items()))}; every 503 with Retry-After: {retry_after}; "
            f"5xx other than 503: {sum(n for s, n in admin.items() if s >= 500 and s != 503)}",
            f"recovered (admin and /readyz 200 on every worker) {recovery:.1f} s after the fault ended",
        ]
    )


def _recovery(deployment: Deployment) -> float:
    started = time.monotonic()
    deployment.wait_until("admin_read", 200, 30)
    deployment.wait_until("readyz", 200, 30)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stopped", type=float, default=20.0, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--hung", type=float, default=10.0, help="seconds PostgreSQL, then S3, stay hung")
    parser.add_argument("--clients", type=int, default=4, help="concurrent public clients")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(reason)
    deployment = start_deployment()
    try:
        baseline = _load(deployment, 3.0, args.clients)
        lines = [_summary("baseline, nothing broken", baseline, 3.0, 0.0)]

        deployment.cluster.stop()
        replies = _load(deployment, args.stopped, args.clients)
        deployment.cluster.start()
        lines.append(_summary("PostgreSQL stopped", replies, args.stopped, _recovery(deployment)))

        deployment.cluster.signal(signal.SIGSTOP)
        replies = _load(deployment, args.hung, args.clients)
        deployment.cluster.signal(signal.SIGCONT)
        lines.append(_summary("PostgreSQL hung (SIGSTOP)", replies, args.hung, _recovery(deployment)))

        freeze(deployment.s3.process.pid)
        replies = _load(deployment, args.hung, args.clients)
        thaw(deployment.s3.process.pid)
        lines.append(_summary("S3 hung (SIGSTOP)", replies, args.hung, _recovery(deployment)))

        log = (deployment.workdir / "gunicorn.err").read_text(errors="replace")
        lines.append(
            f"## gunicorn log\n{len(log.splitlines())} lines, {len(log)} bytes; "
            f"'database unreachable': {log.count('database unreachable')}, "
            f"Traceback: {log.count('Traceback')}, WORKER TIMEOUT: {log.count('WORKER TIMEOUT')}"
        )
        print("\n\n".join(lines))
    finally:
        deployment.stop()


if __name__ == "__main__":
    main()
