"""What a hung partner web service costs a check: ``python -m bench.licensing_breaker``.

A partner endpoint on loopback answers once, then hangs for 30 s on every request. The web-service
method is called directly (no HTTP in front, one process): it prints the time of a fresh call,
of a cached check, of the check that opens the breaker (one call that waits out the 2 s timeout
opens it), and then of checks while the breaker is open (grace answers from the last good one)
and of the half-open trial. About 5 s, loopback only. Prints only. What the hang costs
discovery through gunicorn: bench/licensing_outage.py.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.licensing.methods import CheckRequest
from app.licensing.webservice import WebServiceMethod
from app.outbound.signing import new_secret
from bench.partner_service import PartnerService


def _timed(method: WebServiceMethod, settings: dict, at: datetime) -> tuple[float, str]:
    started = time.perf_counter()
    verdict = method.check(CheckRequest(partner_id=1, user_id="alice", proof=None, now=at), settings)
    return (time.perf_counter() - started) * 1000, verdict.status


def main() -> None:
    with PartnerService() as server:
        _measure(server)


def _measure(server: PartnerService) -> None:
    settings = {"url_template": server.url_template, "secrets": [new_secret()]}
    config = Settings(egress_allow_private=True)
    method = WebServiceMethod(config)
    t0 = datetime.now(UTC)
    ms, status = _timed(method, settings, t0)
    print(f"partner answers:            {ms:8.2f} ms  ({status})")
    ms, status = _timed(method, settings, t0 + timedelta(seconds=1))
    print(f"cached answer:              {ms:8.3f} ms  ({status})")
    server.hang.set()
    after_cache = t0 + timedelta(seconds=1000)  # past the 15 min positive cache
    ms, status = _timed(method, settings, after_cache)
    print(f"partner hangs:              {ms:8.1f} ms  ({status}); breaker {method.breaker(1).state(0)}")
    open_at = after_cache + timedelta(seconds=1)
    samples = [_timed(method, settings, open_at)[0] for _ in range(10_000)]
    status = _timed(method, settings, open_at)[1]
    print(
        f"breaker open, 10 000 checks: median {statistics.median(samples) * 1000:.1f} µs, "
        f"p99 {sorted(samples)[9899] * 1000:.1f} µs, max {max(samples):.3f} ms  ({status})"
    )
    trial_at = open_at + timedelta(seconds=config.licensing_breaker_cooldown)
    ms, status = _timed(method, settings, trial_at)
    print(f"half-open trial (hangs):    {ms:8.1f} ms  ({status}); breaker {method.breaker(1).state(0)}")


if __name__ == "__main__":
    main()
