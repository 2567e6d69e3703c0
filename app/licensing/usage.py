"""Usage facts for billing: a user's first successful check each calendar month (UTC) per partner.

The first check of a (partner, month, user) is written and committed before its answer is sent
(an insert that does nothing when another worker got there first). Later checks only count: each
worker adds them up in memory and writes the sums every ``flush_seconds`` (or when
``MAX_PENDING`` users are pending) and when the gunicorn worker exits (gunicorn.conf.py), so a
busy user costs no write per check. The loss bound: a worker killed outright (SIGKILL, out of
memory, power) loses at most its last ``flush_seconds`` of counter increments and
``last_check_at`` moves; a worker that exits normally (restart, ``max_requests``, shutdown)
loses nothing; the facts are never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from app.licensing.models import UsageFact

MAX_SEEN = 200_000  # (partner, month, user) keys a worker remembers as written; cleared when full
MAX_PENDING = 10_000
log = logging.getLogger(__name__)

Key = tuple[int, str, str]


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) of ``moment``, as YYYY-MM."""
    return f"{moment.year:04d}-{moment.month:02d}"


class UsageRecorder:
    """One worker's usage facts: durable first checks, batched counters."""

    def __init__(self, make_session: sessionmaker, *, flush_seconds: float, clock: Callable[[], float]) -> None:
        self._make_session = make_session
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: set[Key] = set()
        self._pending: dict[Key, tuple[int, datetime]] = {}
        self._next_flush = clock() + flush_seconds

    def record(
        self, partner_id: int, user_key: str, method: str, licence_type: str | None, now: datetime, *, written: bool
    ) -> None:
        """Note one successful check; the month's first is committed before this returns.

        ``written``: the caller knows this month's fact exists (the portal index remembers it), so
        only the counter moves.
        """
        key = (partner_id, month_of(now), user_key)
        if not written and key not in self._seen:
            self._insert_first(key, method, licence_type, now)
            if len(self._seen) >= MAX_SEEN:
                self._seen.clear()
            self._seen.add(key)
        else:
            with self._lock:
                count, _ = self._pending.get(key, (0, now))
                self._pending[key] = (count + 1, now)
        if len(self._pending) >= MAX_PENDING or self._clock() >= self._next_flush:
            self.flush()

    def _insert_first(self, key: Key, method: str, licence_type: str | None, now: datetime) -> None:
        partner_id, month, user_key = key
        values = {
            "partner_id": partner_id,
            "month": month,
            "user_key": user_key,
            "method": method,
            "licence_type": licence_type,
            "first_check_at": now,
            "last_check_at": now,
            "check_count": 1,
        }
        with self._make_session() as session:
            written = session.scalar(
                select(UsageFact.id).where(
                    UsageFact.partner_id == partner_id, UsageFact.month == month, UsageFact.user_key == user_key
                )
            )
            inserted = False
            if written is None:  # a read first: after a restart, most facts of the month exist already
                dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
                stmt = dialect.insert(UsageFact).values(**values)
                stmt = stmt.on_conflict_do_nothing(index_elements=["partner_id", "month", "user_key"])
                inserted = session.execute(stmt.returning(UsageFact.id)).first() is not None
                session.commit()
        if not inserted:  # written before (another worker, or this one before a restart)
            with self._lock:
                count, _ = self._pending.get(key, (0, now))
                self._pending[key] = (count + 1, now)

    def flush(self) -> None:
        """Write the pending counters (one UPDATE statement, executed for all users at once);
        errors are logged, counts dropped."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._next_flush = self._clock() + self._flush_seconds
        if not pending:
            return
        rows = [
            {"f_partner": partner_id, "f_month": month, "f_user": user_key, "f_count": count, "f_last": last}
            for (partner_id, month, user_key), (count, last) in pending.items()
        ]
        try:
            with self._make_session() as session:
                session.connection().execute(_ADD_COUNTS, rows)  # the driver's executemany: built once
                session.commit()
        except Exception:  # counters are best effort; the facts themselves were committed already
            log.exception("usage counters not written (%d users)", len(pending))


_facts = UsageFact.__table__
_ADD_COUNTS = (
    update(_facts)
    .where(
        _facts.c.partner_id == bindparam("f_partner"),
        _facts.c.month == bindparam("f_month"),
        _facts.c.user_key == bindparam("f_user"),
    )
    .values(check_count=_facts.c.check_count + bindparam("f_count"), last_check_at=bindparam("f_last"))
)
