"""Database plumbing: engine, one session per request, and the declarative Base."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from flask import Flask, g
from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.config import Settings
from app.db_health import DatabaseHealth, StatementDeadlines, watch_engine

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_clock_file: str = ""  # LIVERY_CLOCK_FILE of the running app: "" keeps the real time
_clock_read: tuple[tuple[int, str], timedelta] = ((-1, ""), timedelta(0))  # ((mtime_ns, text), instant - mtime)


def use_clock_file(path: str) -> None:
    """Set utcnow's clock file (``LIVERY_CLOCK_FILE``, for walk-throughs and demos; "" = the real time)."""
    global _clock_file, _clock_read
    _clock_file, _clock_read = path, ((-1, ""), timedelta(0))


def _clock_offset() -> timedelta:
    """How far the clock file moves the time: its instant minus when it was written (0 without the file).

    Read at every call (two writes may share an mtime tick), parsed when it changed; the clock
    runs on from the instant set.
    """
    global _clock_read
    try:
        with open(_clock_file) as file:
            written = os.fstat(file.fileno()).st_mtime_ns
            text = file.read().strip()
    except OSError:
        return timedelta(0)
    if not text:  # being written (truncated, not yet filled): the next call reads it
        return timedelta(0)
    if _clock_read[0] != (written, text):
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            log.warning("LIVERY_CLOCK_FILE does not hold an RFC 3339 instant; using the real time")
            instant = datetime.fromtimestamp(written / 1e9, UTC)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        _clock_read = ((written, text), instant - datetime.fromtimestamp(written / 1e9, UTC))
    return _clock_read[1]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, at whole microseconds like both databases keep.

    With ``LIVERY_CLOCK_FILE`` set, the time the file names, running on from when it was written:
    what Livery records and decides by (allocation history, usage facts, month close, leases).
    """
    if not _clock_file:
        return datetime.now(UTC)
    return datetime.now(UTC) + _clock_offset()


def make_engine(url: str, settings: Settings | None = None) -> Engine:
    """An engine for ``url`` whose every wait is bounded by ``settings`` (docs/deployment.md).

    SQLite gets WAL, foreign keys and a busy timeout for many workers. PostgreSQL gets a connect
    timeout, a server-side statement timeout and a client-side deadline per round trip (a hung
    server answers neither), a pool timeout, and no pre-ping: a ping to a hung server is itself an
    unbounded wait, so pooled connections are recycled after ``db_pool_recycle`` seconds and a
    lost one fails its statement (503, retryable) and invalidates the pool instead.
    """
    settings = settings or Settings()
    health = DatabaseHealth(settings.db_retry_max)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": settings.db_statement_timeout})
        _attach_health(engine, health, None)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, object] = {}
    if make_url(url).get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": max(1, round(settings.db_connect_timeout)),
            "options": f"-c statement_timeout={round(settings.db_statement_timeout * 1000)}",
        }
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=5,
        max_overflow=5,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
    )
    _attach_health(engine, health, StatementDeadlines(settings.db_statement_timeout))
    return engine


def _attach_health(engine: Engine, health: DatabaseHealth, deadlines: StatementDeadlines | None) -> None:
    watch_engine(engine, health, deadlines)
    engine.livery_health = health  # type: ignore[attr-defined]


def health_of(engine: Engine) -> DatabaseHealth:
    """The health tracker of ``engine`` (engines not made by make_engine, e.g. tests', get one here)."""
    health = getattr(engine, "livery_health", None)
    if health is None:
        health = DatabaseHealth(Settings().db_retry_max)
        _attach_health(engine, health, None)
    return health


SQLITE_WAL_SWITCH_SECONDS = 10.0


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Put the SQLite file in WAL mode (a lasting property of the file) unless it already is."""
    # Workers starting together on a file not yet in WAL race for the switch, and SQLite answers
    # the losers "database is locked" at once rather than after the busy timeout; a worker that
    # raised here would fail to boot and take gunicorn down, so retry for a bounded time.
    deadline = time.monotonic() + SQLITE_WAL_SWITCH_SECONDS
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def init_app(app: Flask, bind: Engine | Connection) -> None:
    """Attach the engine and a session factory to ``app``; close the request session at teardown.

    ``bind`` may be a Connection inside an open transaction (tests): sessions then commit to
    savepoints of it, and the test rolls everything back at the end.
    """
    engine = bind if isinstance(bind, Engine) else bind.engine
    app.extensions["livery.engine"] = engine
    if isinstance(bind, Connection):
        factory = sessionmaker(bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint")
    else:
        factory = sessionmaker(bind=bind, expire_on_commit=False)
    app.extensions["livery.sessionmaker"] = factory
    health = app.extensions["livery.db_health"] = health_of(engine)

    @event.listens_for(factory, "do_orm_execute")
    def _gate(_state) -> None:
        health.gate()  # while the database is down: DatabaseUnavailable now, not a connect attempt each

    @app.teardown_appcontext
    def _close_session(exc):
        session = g.pop("livery_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def session() -> Session:
    """The unit-of-work session of the current request or CLI command."""
    from flask import current_app

    if "livery_session" not in g:
        g.livery_session = current_app.extensions["livery.sessionmaker"]()
    return g.livery_session


def engine() -> Engine:
    """The engine of the current application."""
    from flask import current_app

    return current_app.extensions["livery.engine"]


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
