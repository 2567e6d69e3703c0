"""When to poll next: jitter so a fleet never polls in lock-step, backoff when the service struggles.

Millions of clients started at 9 am would otherwise all poll at 9 am + n*interval forever, and all
retry at the same instants after an outage. Two remedies, applied together:

- proportional jitter: each delay is the interval * a uniform factor in [1 - jitter, 1 + jitter]
  (``jitter=1`` is "full jitter" around the mean: anywhere in [0, 2 * interval]);
- exponential backoff: after ``failures`` consecutive failures the interval doubles per failure,
  up to ``max_seconds``; a server's ``Retry-After`` is a floor, never shortened by jitter.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from livery_client.errors import ServiceUnavailable, VerificationError
from livery_client.upgrade import UpgradeDecision

DEFAULT_POLL_SECONDS = 6 * 3600.0
DEFAULT_MAX_SECONDS = 24 * 3600.0


def next_poll_delay(
    base_seconds: float,
    jitter: float = 0.2,
    rng: random.Random | None = None,
    *,
    failures: int = 0,
    max_seconds: float | None = None,
    retry_after: float | None = None,
) -> float:
    """Seconds until the next poll: base * 2^failures (capped), jittered, never before Retry-After."""
    if base_seconds <= 0:
        raise ValueError("base_seconds must be positive")
    if not 0 <= jitter <= 1:
        raise ValueError("jitter must be between 0 and 1")
    cap = max_seconds if max_seconds is not None else max(base_seconds, DEFAULT_MAX_SECONDS)
    interval = min(cap, base_seconds * 2 ** min(failures, 32))  # min(): 2**huge would overflow a float
    factor = (rng or random).uniform(1 - jitter, 1 + jitter)
    delay = interval * factor
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def poll_forever(
    check: Callable[[], UpgradeDecision],
    on_decision: Callable[[UpgradeDecision], None],
    *,
    base_seconds: float = DEFAULT_POLL_SECONDS,
    jitter: float = 0.2,
    max_seconds: float | None = None,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
    on_error: Callable[[Exception, float], None] | None = None,
) -> None:
    """Call ``check`` until ``stop`` is set, passing each verified decision to ``on_decision``.

    Service trouble and untrustworthy answers count as failures (backoff, then try again); a wrong
    or revoked code ends the loop by raising, since asking again cannot help.
    """
    stop = stop or threading.Event()
    # the first poll is jittered too: a fleet booted together must not poll together
    delay = next_poll_delay(base_seconds, 1.0, rng, max_seconds=max_seconds) / 2
    failures = 0
    while not stop.wait(delay):
        retry_after = None
        try:
            on_decision(check())
            failures = 0
        except (ServiceUnavailable, VerificationError) as exc:
            failures += 1
            retry_after = getattr(exc, "retry_after", None)
            delay = next_poll_delay(
                base_seconds, jitter, rng, failures=failures, max_seconds=max_seconds, retry_after=retry_after
            )
            if on_error:
                on_error(exc, delay)
            continue
        delay = next_poll_delay(base_seconds, jitter, rng, max_seconds=max_seconds)
