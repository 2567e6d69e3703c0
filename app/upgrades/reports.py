"""Install reports from clients: accepted into a bounded buffer, written in batches, then the guard.

The route answers ``202`` once a report is in this worker's buffer; a flusher thread writes the
buffer every ``flush_seconds`` (and at once when ``max_pending`` reports wait, and at worker exit),
then evaluates the automatic halt guard of every channel the batch touched. The loss bound: a
worker killed with SIGKILL loses what it accepted since its last completed write began, about
``flush_seconds`` plus one write's duration worth of its reports, never more than
``max_pending`` (plus one batch's 19). ``flush_seconds = 0`` writes each report before its
``202`` (write-through).

Idempotent per (partner, install id, target version, outcome): the buffer keeps one report per
key and the insert does nothing on a key already written; only rows actually inserted are
counted into the per-minute counts the guard reads. One install may send at most
``per_install_hour`` distinct reports per hour to a worker (beyond: 429), so a broken client
cannot flood the table; a batch (one request carrying several reports) is accepted or refused
as a whole, each of its reports counted towards that cap. When the database is down the buffer
keeps its reports (retrying at each flush) until it is full; then new reports are refused with
503 and clients retry later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.problems import DatabaseDown, Problem
from app.upgrades.guard import evaluate_guard
from app.upgrades.models import InstallReport, InstallReportMinute

RETRY_AFTER_SECONDS = 30
MAX_INSTALLS_TRACKED = 200_000  # per-install counters a worker keeps; cleared when full
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    """One accepted report, attributed to the partner and channel of the code it was sent with."""

    partner_id: int
    channel: str
    install_id: str
    from_version: str
    to_version: str
    platform: str
    outcome: str
    error_code: str | None
    serial: int
    received_at: datetime

    @property
    def key(self) -> tuple[int, str, str, str]:
        """What makes a report a repeat of another."""
        return (self.partner_id, self.install_id, self.to_version, self.outcome)


class TooManyReports(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too_many_reports",
            f"This install sent too many reports; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


def _insert_many(session: Session, table, rows: list[dict], *, index: list[str], add_count: bool = False):
    # one statement, executed for many rows (compiled once and cached; the driver batches the
    # rows): a multi-VALUES statement built per batch costs more to compile than to run
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table.__table__)
    connection = session.connection()
    if add_count:
        stmt = stmt.on_conflict_do_update(
            index_elements=index, set_={"count": table.__table__.c.count + stmt.excluded.count}
        )
        return connection.execute(stmt, rows)
    columns = table.__table__.c
    stmt = stmt.on_conflict_do_nothing(index_elements=index).returning(
        columns.partner_id, columns.channel, columns.to_version, columns.outcome, columns.received_at
    )
    return connection.execute(stmt, rows)


def write_reports(session: Session, reports: list[Report]) -> set[tuple[int, str]]:
    """Insert ``reports`` (repeats do nothing) and count the new ones per minute; the channels touched."""
    rows = [
        {
            "partner_id": r.partner_id,
            "channel": r.channel,
            "install_id": r.install_id,
            "from_version": r.from_version,
            "to_version": r.to_version,
            "platform": r.platform,
            "outcome": r.outcome,
            "error_code": r.error_code,
            "serial": r.serial,
            "received_at": r.received_at,
        }
        for r in reports
    ]
    minutes: dict[tuple, int] = {}
    if rows:
        inserted = _insert_many(
            session, InstallReport, rows, index=["partner_id", "install_id", "to_version", "outcome"]
        )
        for partner_id, channel, to_version, outcome, received_at in inserted:
            key = (partner_id, channel, received_at.replace(second=0, microsecond=0), to_version, outcome)
            minutes[key] = minutes.get(key, 0) + 1
    if minutes:
        counted = [
            {"partner_id": p, "channel": c, "minute": m, "to_version": v, "outcome": o, "count": n}
            for (p, c, m, v, o), n in minutes.items()
        ]
        _insert_many(
            session,
            InstallReportMinute,
            counted,
            index=["partner_id", "channel", "minute", "to_version", "outcome"],
            add_count=True,
        )
    return {(p, c) for (p, c, _m, _v, _o) in minutes}


class ReportRecorder:
    """One worker's install reports: a bounded buffer, a flusher thread, the guard after each batch."""

    def __init__(
        self,
        make_session: sessionmaker,
        *,
        flush_seconds: float,
        max_pending: int,
        per_install_hour: int,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime],
    ) -> None:
        self._make_session = make_session
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.per_install_hour = per_install_hour
        self._clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time (the thread, a full buffer, exit)
        self._pending: dict[tuple, Report] = {}
        self._per_install: dict[tuple[int, str], int] = {}
        self._hour_ends = 0.0  # when the per-install counts start afresh (the next clock hour)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failing = False  # the last flush failed: a full buffer refuses instead of trying inline
        self.written = 0  # reports handed to the database by this worker (metrics, tests)

    def add(self, report: Report) -> None:
        """Accept ``report`` (a repeat of a pending one is a no-op); TooManyReports or 503 refuse it."""
        self.add_all((report,))

    def add_all(self, reports: Sequence[Report]) -> None:
        """Accept all of ``reports`` or none: TooManyReports or 503 refuse the lot before any is counted.

        Repeats (of a pending report, or within ``reports``) are no-ops; every other report counts
        towards its install's hourly cap, so sending reports together does not get round it.
        """
        # per request: one clock read, the lock held for a few dictionary operations per report
        # (the flusher takes it only to swap the buffer)
        with self._lock:
            now = self._clock()
            if now >= self._hour_ends or len(self._per_install) >= MAX_INSTALLS_TRACKED:
                self._per_install.clear()
                self._hour_ends = (now // 3600 + 1) * 3600
            new: dict[tuple, Report] = {}
            counts: dict[tuple[int, str], int] = {}
            for report in reports:
                key = report.key
                if key in self._pending or key in new:
                    continue
                install = (report.partner_id, report.install_id)
                seen = counts.get(install)
                if seen is None:
                    seen = self._per_install.get(install, 0)
                if seen >= self.per_install_hour:
                    raise TooManyReports(max(1, int(self._hour_ends - now)))
                counts[install] = seen + 1
                new[key] = report
            if not new:
                return
            if len(self._pending) + len(new) > self.max_pending and self._failing:
                # the database is down and the buffer full: refuse rather than grow or drop (clients retry)
                raise DatabaseDown(RETRY_AFTER_SECONDS)
            self._per_install.update(counts)
            self._pending.update(new)
            full = len(self._pending) >= self.max_pending
        if self.flush_seconds <= 0 or (full and not self._failing):
            self.flush()  # write-through, or a burst: write now rather than wait for the thread
        if self.flush_seconds > 0:
            self._start()

    def pending(self) -> int:
        """Reports accepted and not yet written."""
        return len(self._pending)

    def flush(self) -> int:
        """Write the pending reports, then run the guard of every channel they touched; how many were written."""
        with self._flushing:
            with self._lock:
                batch, self._pending = list(self._pending.values()), {}
            if not batch:
                return 0
            try:
                with self._make_session() as session:
                    touched = write_reports(session, batch)
                    session.commit()
            except Exception:
                log.exception("install reports not written (%d kept for the next flush)", len(batch))
                self._failing = True
                with self._lock:  # put them back, newest reports first in line to be refused when full
                    for report in batch:
                        self._pending.setdefault(report.key, report)
                return 0
            self._failing = False
            self.written += len(batch)
            self._guard(touched)
            return len(batch)

    def _guard(self, touched: set[tuple[int, str]]) -> None:
        for partner_id, channel in sorted(touched):
            try:
                with self._make_session() as session:
                    if evaluate_guard(session, partner_id, channel, self.wall_clock()):
                        session.commit()
            except Exception:  # another worker halted it first (stale version), or the database is down
                log.warning("guard of channel %s:%s not evaluated", partner_id, channel, exc_info=True)

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            # started on first use, so in the worker process (after gunicorn's fork), never before
            self._thread = threading.Thread(target=self._run, name="install-reports", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        # a fixed rate (not a pause after each write), so a slow write does not stretch the interval
        next_at = self._clock() + self.flush_seconds
        while not self._stop.wait(max(0.0, next_at - self._clock())):
            next_at += self.flush_seconds
            self.flush()
            next_at = max(next_at, self._clock())

    def close(self) -> None:
        """Stop the flusher thread and write what is pending (worker exit)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


def forget_install(session: Session, partner_id: int, install_id: str) -> int:
    """Delete every report of one install (an erasure request); how many. The per-minute counts,
    which name no install, stay. No audit event names the install id either."""
    result = session.execute(
        delete(InstallReport).where(InstallReport.partner_id == partner_id, InstallReport.install_id == install_id)
    )
    return result.rowcount or 0
