"""Last licensed answers shared by every worker (and kept across restarts), for grace.

Each worker keeps its own answers in memory (memory.py); this table lets a worker that never
saw a user still answer ``grace`` for them while the partner's service is down. Writes and reads
run on their own short transactions with tight timeouts, beside the request's unit of work, and
are best effort: a database hiccup costs grace for that user, never the check. A row is
refreshed at most hourly, deleted when the partner says "not licensed", and pruned once older
than the partner's grace period (every row, whatever partner, once older than the longest grace
period allowed, ``MAX_GRACE_HOURS``).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.licensing.webservice.contract import MAX_GRACE_HOURS
from app.licensing.webservice.memory import Lru, Remembered
from app.licensing.webservice.models import LicensingLastGood

REFRESH_SECONDS = 3600
PRUNE_EVERY_SECONDS = 600

log = logging.getLogger(__name__)


def user_digest(partner_id: int, user_id: str) -> str:
    """How a user is named in the table: a digest, never the id itself."""
    return hashlib.sha256(f"{partner_id}\x00{user_id}".encode()).hexdigest()


def bounded_engine(database_url: str, wait: float = 1.0) -> Engine:
    """An engine whose every wait (lock, pool, statement; connecting: 2 x) is at most ``wait`` seconds."""
    if database_url.startswith("sqlite"):
        return create_engine(database_url, connect_args={"timeout": wait})
    return create_engine(
        database_url,
        pool_size=1,
        max_overflow=1,
        pool_timeout=wait,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": max(1, round(2 * wait)),
            "options": f"-c statement_timeout={round(wait * 1000)}",
        },
    )


def _failure(exc: SQLAlchemyError) -> str:
    return type(getattr(exc, "orig", None) or exc).__name__


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class DurableLastGood:
    """The ``licensing_last_good`` table, written and read best effort."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._written: Lru[tuple[int, str], tuple[str, float]] = Lru(100_000)
        self._pruned: dict[int, float] = {}

    def remember(self, partner_id: int, user_id: str, licence_type: str, now: float, grace_seconds: float) -> None:
        """Record a licensed answer (skipped when this worker wrote the same one within the hour)."""
        digest = user_digest(partner_id, user_id)
        written = self._written.get((partner_id, digest))
        if written is not None and written[0] == licence_type and now - written[1] < REFRESH_SECONDS:
            return
        values = {"licence_type": licence_type, "answered_at": _at(now)}
        try:
            with self._engine.begin() as conn:
                key = (LicensingLastGood.partner_id == partner_id) & (LicensingLastGood.user_digest == digest)
                if conn.execute(update(LicensingLastGood).where(key).values(**values)).rowcount == 0:
                    conn.execute(
                        LicensingLastGood.__table__.insert().values(partner_id=partner_id, user_digest=digest, **values)
                    )
                self._prune(conn, partner_id, now, grace_seconds)
        except IntegrityError:
            pass  # another worker inserted it at the same moment: theirs is as good
        except SQLAlchemyError as exc:
            log.warning("last good answer not stored for partner %s: %s", partner_id, _failure(exc))
            return
        self._written.put((partner_id, digest), (licence_type, now))

    def forget(self, partner_id: int, user_id: str) -> None:
        """Drop a user's last licensed answer (the partner now says "not licensed")."""
        digest = user_digest(partner_id, user_id)
        self._written.pop((partner_id, digest))
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(LicensingLastGood)
                    .where(LicensingLastGood.partner_id == partner_id)
                    .where(LicensingLastGood.user_digest == digest)
                )
        except SQLAlchemyError as exc:
            log.warning("last good answer not dropped for partner %s: %s", partner_id, _failure(exc))

    def recall(self, partner_id: int, user_id: str, now: float, grace_seconds: float) -> Remembered | None:
        """The user's last licensed answer if it is within the grace period, else None."""
        stmt = (
            select(LicensingLastGood.licence_type, LicensingLastGood.answered_at)
            .where(LicensingLastGood.partner_id == partner_id)
            .where(LicensingLastGood.user_digest == user_digest(partner_id, user_id))
        )
        try:
            with self._engine.connect() as conn:
                row = conn.execute(stmt).first()
        except SQLAlchemyError as exc:
            log.warning("last good answer not read for partner %s: %s", partner_id, _failure(exc))
            return None
        if row is None:
            return None
        answered_at = row.answered_at.replace(tzinfo=row.answered_at.tzinfo or UTC).timestamp()
        if now - answered_at > grace_seconds:
            return None
        return Remembered(True, row.licence_type, answered_at, answered_at)

    def _prune(self, conn, partner_id: int, now: float, grace_seconds: float) -> None:
        if now - self._pruned.get(partner_id, float("-inf")) < PRUNE_EVERY_SECONDS:
            return
        conn.execute(
            delete(LicensingLastGood)
            .where(LicensingLastGood.partner_id == partner_id)
            .where(LicensingLastGood.answered_at < _at(now - grace_seconds))
        )
        # rows of partners nobody checks any more (method changed, partner deleted) age out too
        conn.execute(delete(LicensingLastGood).where(LicensingLastGood.answered_at < _at(now - MAX_GRACE_HOURS * 3600)))
        self._pruned[partner_id] = now
