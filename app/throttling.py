"""Throttling of failures per client address: wrong admin keys and unknown public codes.

Only failures are counted: a successful answer never reaches the counters (the public fast
path answers below Flask, and must stay as cheap as it is). When an address's failures of one
kind pass their limit (settings ``LIVERY_RATELIMIT_*``), the request is answered 429
``too_many_requests`` with ``Retry-After``. Failed admin authentication refuses every further
admin request from the address until the window ends; an address over its unknown-code limit gets
429 for further unknown codes only, and its known codes keep answering (many desktops may share one
NAT address). The admin check on the success path is one test of an empty dictionary unless some
address is being refused.

Counters live in Redis through the ``limits`` library (the engine of Flask-Limiter) when
``LIVERY_RATELIMIT_STORAGE_URL`` names one, so that every worker and host shares them, else in
this process's memory (:class:`LocalFixedWindows`: the same fixed windows as ``limits``' memory
storage, without its lock per key and the timer thread it starts every 10 ms, which cost an
unknown code's 404 more than the answer itself). Flask-Limiter itself is not used: its request
hooks check a limit on every request, which is what the hot path must not pay. A Redis outage
lets requests through (logged once per outage), with waits bounded by short socket timeouts.

Addresses are personal data: counters are keyed by a digest, and logs show only that digest.
Every 429 is counted in ``livery_throttled_total{kind}`` (app/metrics.py).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.metrics import count_throttled
from app.problems import Problem

PUBLIC_NOT_FOUND = "public_not_found"  # kinds of failure
ADMIN_AUTH = "admin_auth"
PORTAL_LOGIN_ADDRESS = "portal_login_address"  # failed portal sign-ins, per address and per account
PORTAL_LOGIN_ACCOUNT = "portal_login_account"
STORAGE_TIMEOUT = 0.25  # seconds; a hung Redis must not hold a request
MAX_REFUSED = 100_000  # addresses refused at once by one worker; cleared when full
MAX_WINDOWS = 100_000  # addresses counted at once by one worker (in memory); expired ones go when full

log = logging.getLogger(__name__)


class TooManyRequests(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too_many_requests",
            f"Too many failed requests from your address; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


def client_address(environ: dict[str, Any], trusted_proxy_hops: int) -> str:
    """The client's address: the peer's, or the one ``trusted_proxy_hops`` proxies say they saw."""
    if trusted_proxy_hops > 0:
        forwarded = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= trusted_proxy_hops and forwarded[-trusted_proxy_hops]:
            return forwarded[-trusted_proxy_hops]  # what the outermost trusted proxy saw
    return environ.get("REMOTE_ADDR") or "-"


def address_digest(address: str) -> str:
    """What counters and logs name an address by."""
    return hashlib.sha256(address.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class LocalFixedWindows:
    """Fixed-window counters in this process's memory, with the two calls of ``limits``' FixedWindowRateLimiter.

    A window opens at an identifier's first hit and lasts the limit's period, as in ``limits``.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, ...], list] = {}  # identifiers -> [window end (epoch s), hits]
        self._lock = threading.Lock()

    def hit(self, limit: RateLimitItem, *identifiers: str) -> bool:
        """Count one hit; whether it is within the limit."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(identifiers)
            if window is None or window[0] <= now:
                if len(self._windows) >= MAX_WINDOWS:
                    self._windows = {key: w for key, w in self._windows.items() if w[0] > now}
                    if len(self._windows) >= MAX_WINDOWS:
                        self._windows.clear()
                window = self._windows[identifiers] = [now + limit.get_expiry(), 0]
            window[1] += 1
            return window[1] <= limit.amount

    def get_window_stats(self, limit: RateLimitItem, *identifiers: str) -> tuple[float, int]:
        """When the current window ends (epoch seconds) and the hits left in it."""
        window = self._windows.get(identifiers)
        if window is None or window[0] <= self._clock():
            return self._clock(), limit.amount
        return window[0], max(0, limit.amount - window[1])


class FailureThrottle:
    """Counts failures per kind and client address; says when and for how long to refuse."""

    def __init__(self, storage_url: str, limits: dict[str, str], trusted_proxy_hops: int = 0) -> None:
        options = {"socket_timeout": STORAGE_TIMEOUT, "socket_connect_timeout": STORAGE_TIMEOUT}
        if storage_url.startswith(("redis", "rediss")):
            self.strategy: FixedWindowRateLimiter | LocalFixedWindows = FixedWindowRateLimiter(
                storage_from_string(storage_url, **options)
            )
        else:  # "" or memory://: this process's memory
            self.strategy = LocalFixedWindows()
        self.limits = {kind: parse(text) for kind, text in limits.items() if text}
        self.trusted_proxy_hops = trusted_proxy_hops
        self.refusing: dict[tuple[str, str], float] = {}  # (kind, address) -> refused until (monotonic)
        self._storage_down = False
        self._lock = threading.Lock()

    def address(self, environ: dict[str, Any]) -> str:
        return client_address(environ, self.trusted_proxy_hops)

    def refused(self, kind: str, environ: dict[str, Any]) -> int | None:
        """Seconds until this address may try again, when this worker is refusing it; else None."""
        if not self.refusing:  # the common case: one dictionary test
            return None
        return self.refused_key(kind, self.address(environ))

    def refused_key(self, kind: str, subject: str) -> int | None:
        """As :meth:`refused`, for any subject (an address, an account's email)."""
        key = (kind, subject)
        until = self.refusing.get(key)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            self.refusing.pop(key, None)
            return None
        count_throttled(kind)
        return max(1, math.ceil(left))

    def failed(self, kind: str, environ: dict[str, Any]) -> int | None:
        """Count one failure; seconds to refuse this address for when it is over its limit, else None."""
        return self.failed_key(kind, self.address(environ))

    def failed_key(self, kind: str, address: str, what: str = "address") -> int | None:
        """As :meth:`failed`, for any subject (``what``: an address, an account); only its digest is kept."""
        limit = self.limits.get(kind)
        if limit is None:
            return None
        digest = address_digest(address)
        try:
            if self.strategy.hit(limit, kind, digest):
                self._storage_is("up")
                return None
            reset_at, _remaining = self.strategy.get_window_stats(limit, kind, digest)
        except Exception as exc:  # noqa: BLE001 - any storage failure: let requests through
            self._storage_is("down", exc)
            return None
        self._storage_is("up")
        retry_after = max(1, math.ceil(reset_at - time.time()))
        if len(self.refusing) >= MAX_REFUSED:
            self.refusing.clear()
        if (kind, address) not in self.refusing:
            log.warning("throttling %s failures from %s %s for %d s", kind, what, digest, retry_after)
        self.refusing[(kind, address)] = time.monotonic() + retry_after
        count_throttled(kind)
        return retry_after

    def _storage_is(self, state: str, exc: Exception | None = None) -> None:
        down = state == "down"
        if down == self._storage_down:
            return
        with self._lock:
            if down != self._storage_down:
                self._storage_down = down
                if down:
                    log.error("throttling storage unreachable, not throttling until it is back: %s", exc)
                else:
                    log.warning("throttling storage reachable again")
