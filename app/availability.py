"""How one process sees a dependency (the database, the object store): up, or down with a bounded
retry schedule.

While a dependency is down, callers get its "unavailable" error at once instead of each waiting on
a connect or a timeout of their own; one caller at a time, on a back-off schedule (0.5 s after the
failure, doubling up to ``retry_max``), is let through to try again. Each change of state is
logged once, never per request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FIRST_RETRY = 0.5  # seconds before the first attempt after a failure; doubles up to retry_max


class DependencyHealth:
    """Up or down, and when the next attempt is due."""

    def __init__(
        self,
        name: str,
        unavailable: Callable[[int], Exception],
        retry_max: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.retry_max = retry_max
        self._unavailable = unavailable  # the error to raise, given the seconds until the next attempt
        self._clock = clock
        self._lock = threading.Lock()
        self.up = True
        self._failures = 0
        self._next_attempt = 0.0

    def gate(self) -> None:
        """Return when the dependency may be used; raise its "unavailable" error while it is down,
        except for the one caller that takes the next scheduled attempt."""
        if self.up:
            return
        with self._lock:
            now = self._clock()
            if now >= self._next_attempt:
                self._next_attempt = now + self._pause()  # this caller's attempt; the others wait for the next
                return
        raise self._unavailable(self.retry_after())

    def attempt_due(self) -> bool:
        """Whether a caller may try the dependency now (it is up, or the next attempt is due)."""
        return self.up or self._clock() >= self._next_attempt

    def succeeded(self) -> None:
        """A call completed: the dependency is up."""
        if self.up:
            return
        with self._lock:
            if not self.up:
                self.up, self._failures = True, 0
                log.warning("%s reachable again", self.name)
                _publish(self.name, "closed")

    def failed(self, reason: str) -> None:
        """A call could not reach the dependency (refused, timed out, connection lost): down until the next attempt."""
        with self._lock:
            self._failures += 1
            if self.up:
                self.up = False
                log.error("%s unreachable (%s); serving from memory, retrying with back-off", self.name, reason)
                _publish(self.name, "open")
            self._next_attempt = max(self._next_attempt, self._clock() + self._pause())

    def retry_after(self) -> int:
        """Whole seconds until the next attempt (at least 1): the Retry-After of a 503."""
        return max(1, math.ceil(self._next_attempt - self._clock()))

    def _pause(self) -> float:
        return min(self.retry_max, FIRST_RETRY * 2 ** min(self._failures, 10))


def _publish(name: str, state: str) -> None:
    """The livery_circuit_breaker_state gauge of docs/operations.md ("database", "object_store")."""
    from app.metrics import set_breaker_state  # not at import: see gunicorn.conf.py

    set_breaker_state(name.replace(" ", "_"), state)
