"""Prometheus metrics of every gunicorn worker, and the page that shows them (docs/operations.md).

Multiprocess mode: gunicorn.conf.py points ``PROMETHEUS_MULTIPROC_DIR`` at a folder before any
worker starts; each worker's prometheus_client values live in memory-mapped files there, and
:func:`exposition` (``GET /metrics``, whichever worker answers it) adds up every worker's. Without
that variable (tests, ``flask`` commands, one process) the values are this process's own.

Requests are the hot path's: a worker counts them in plain dictionaries (:class:`RequestTally`, a
dictionary increment and a bisect per request) and a background thread adds those counts to
prometheus_client once a second (also before a scrape and at worker exit). prometheus_client's own
``labels().inc()`` + ``observe()`` cost ~9 µs per request in multiprocess mode, a lock and a few
mmap writes each; the tally costs < 1 µs. Everything else here is rare (an error, a refusal, a
state change, a poll a second) and goes straight to prometheus_client.

Labels are bounded by construction: a route is an endpoint name (or one of a few fixed names),
a status a three-digit code; never a raw path, an access code, a user id or an address.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_INTERVAL = 1.0  # seconds between a worker's flushes of its request tally
# seconds; the fast path answers in well under a millisecond, admin calls in milliseconds, uploads in seconds
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DEPENDENCIES = ("database", "object_store")
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

REQUESTS = Counter("livery_http_requests", "HTTP requests answered, by route name and status.", ["route", "status"])
LATENCY = Histogram(
    "livery_http_request_duration_seconds",
    "Time from receiving a request to its response headers, by route name.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
DEPENDENCY_ERRORS = Counter(
    "livery_dependency_errors", "Failed calls to a dependency (database, object_store).", ["dependency"]
)
THROTTLED = Counter("livery_throttled", "Requests refused with 429, by kind of limit.", ["kind"])
BREAKER_STATE = Gauge(
    "livery_circuit_breaker_state",
    "A dependency's circuit breaker: 0 closed, 1 half-open, 2 open (the worst over live workers).",
    ["dependency"],
    multiprocess_mode="livemax",
)
FRESHNESS_POLLED_AT = Gauge(
    "livery_freshness_last_poll_timestamp_seconds",
    "When each worker last read the change log successfully (Unix time).",
    multiprocess_mode="liveall",
)
LAG_NAME = "livery_freshness_lag_seconds"


# -- what other modules call -----------------------------------------------------------------


def count_dependency_error(dependency: str) -> None:
    """Count one failed call to ``dependency`` ("database" or "object_store")."""
    DEPENDENCY_ERRORS.labels(dependency).inc()


def count_throttled(kind: str) -> None:
    """Count one request refused by the throttle ``kind`` (a fixed name, e.g. "admin_auth")."""
    THROTTLED.labels(kind).inc()


def set_breaker_state(dependency: str, state: str) -> None:
    """Record that ``dependency``'s circuit breaker is now ``state`` (closed, half_open, open)."""
    BREAKER_STATE.labels(dependency).set(BREAKER_STATES[state])


def freshness_polled(now: float | None = None) -> None:
    """Record a successful read of the change log by this worker."""
    FRESHNESS_POLLED_AT.set(time.time() if now is None else now)


# -- requests --------------------------------------------------------------------------------


class RequestTally:
    """One process's request counts and latencies since its last flush to prometheus_client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (route, status) -> per-bucket counts (+Inf last), then the sum of seconds: one lookup per request;
        # the flush adds the buckets up for the count and the statuses up for the route's histogram
        self._rows: dict[tuple[str, int], list[float]] = {}

    def add(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request (the hot path: no prometheus_client call here)."""
        with self._lock:
            row = self._rows.get((route, status))
            if row is None:
                row = self._rows[(route, status)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
            row[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            row[-1] += seconds

    def flush(self) -> None:
        """Add what was counted since the last flush to prometheus_client's values."""
        with self._lock:
            rows, self._rows = self._rows, {}
        latencies: dict[str, list[float]] = {}
        for (route, status), row in rows.items():
            REQUESTS.labels(route, str(status)).inc(sum(row[:-1]))
            total = latencies.get(route)
            latencies[route] = row if total is None else [a + b for a, b in zip(total, row, strict=True)]
        for route, row in latencies.items():
            child = LATENCY.labels(route)
            # prometheus_client's Histogram offers observe() only; its per-bucket values take sums
            for bucket, n in zip(child._buckets, row[:-1], strict=True):
                if n:
                    bucket.inc(n)
            child._sum.inc(row[-1])


_tally = RequestTally()
_flusher: tuple[int, threading.Thread] | None = None


count_request = _tally.add  # count_request(route, status, seconds): one answered request (no wrapper call)


def flush_requests() -> None:
    """Flush this process's request tally now (before a scrape, at worker exit)."""
    _tally.flush()


def start_flushing(interval: float = FLUSH_INTERVAL) -> None:
    """Flush the request tally every ``interval`` seconds from a daemon thread (once per process).

    Also shows every dependency's error count from 0 on, so that rates and alerts have a series.
    """
    global _flusher
    if _flusher is not None and _flusher[0] == os.getpid() and _flusher[1].is_alive():
        return
    for dependency in DEPENDENCIES:
        DEPENDENCY_ERRORS.labels(dependency)

    def run() -> None:
        while True:
            time.sleep(interval)
            _tally.flush()

    thread = threading.Thread(target=run, name="livery-metrics-flush", daemon=True)
    thread.start()
    _flusher = (os.getpid(), thread)


# -- exposition ------------------------------------------------------------------------------


class _FreshnessLag:
    """``livery_freshness_lag_seconds``: now minus the oldest live worker's last successful poll."""

    def __init__(self, source) -> None:
        self._source = source

    def collect(self):
        polled = [
            sample.value
            for family in self._source.collect()
            if family.name == FRESHNESS_POLLED_AT._name
            for sample in family.samples
            if sample.value > 0  # a worker that has not polled yet has nothing to lag behind
        ]
        lag = GaugeMetricFamily(
            LAG_NAME, "Seconds since the least recent successful change-log read of any live worker."
        )
        if polled:
            lag.add_metric([], max(0.0, time.time() - min(polled)))
        yield lag


def multiprocess_dir() -> str | None:
    """The folder of every worker's values, when this process runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> bytes:
    """Every worker's metrics in Prometheus' text format."""
    flush_requests()
    folder = multiprocess_dir()
    if folder:
        source = CollectorRegistry()
        MultiProcessCollector(source, path=folder)
    else:
        from prometheus_client import REGISTRY as source
    lag = CollectorRegistry()
    lag.register(_FreshnessLag(source))
    return generate_latest(source) + generate_latest(lag)


# -- gunicorn's master -----------------------------------------------------------------------


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live-only gauges (its counters stay: they are part of the totals)."""
    folder = multiprocess_dir()
    if folder:
        mark_process_dead(pid, folder)
