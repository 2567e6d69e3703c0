"""How one process sees its database: up, or down with a bounded reconnect schedule.

``DatabaseHealth`` (an app/availability.py ``DependencyHealth``) is fed by engine events (a
statement that completes: up; a failed connect or a lost connection: down) and asked before every
ORM statement: while the database is down, callers get ``DatabaseUnavailable`` at once instead of
a connect attempt each (the public answers come from memory, admin calls answer 503 with
Retry-After), and one caller at a time, on a back-off schedule, is let through to try again.

``StatementDeadlines`` bounds every round trip on the client side: a hung server (stopped, not
refused) never enforces its own ``statement_timeout``, and libpq has no read timeout, so a watchdog
thread shuts down the socket of a connection that has waited past its deadline; the blocked call
then fails as a lost connection, like a server that went away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from app.availability import DependencyHealth

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.2  # how often the watchdog looks at running statements
DEADLINE_GRACE = 1.0  # the server's own statement_timeout answers first when it can


class DatabaseUnavailable(Exception):
    """The database cannot be used now (refused, stopped or hung); retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"database unavailable; retry in {retry_after} s")
        self.retry_after = retry_after


# what a caller that can answer from memory treats as "the database is down": serve what is held
DATABASE_DOWN = (DatabaseUnavailable, OperationalError, InterfaceError)


class DatabaseHealth(DependencyHealth):
    """The database as this process sees it (fed by engine events, asked before every ORM statement)."""

    def __init__(self, retry_max: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__("database", DatabaseUnavailable, retry_max, clock)


class StatementDeadlines:
    """A watchdog that shuts down the socket of a connection waiting on the server past its deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds + DEADLINE_GRACE
        self._running: dict[int, tuple[float, int, weakref.ref]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def begin(self, dbapi_connection) -> None:
        """A round trip on ``dbapi_connection`` starts now."""
        try:
            fd = dbapi_connection.fileno()
        except Exception:  # noqa: BLE001 - a closed connection fails on its own
            return
        self._running[id(dbapi_connection)] = (time.monotonic() + self.seconds, fd, weakref.ref(dbapi_connection))
        if self._pid != os.getpid():  # first use in this process (gunicorn forks after import)
            self._start()

    def end(self, dbapi_connection) -> None:
        """The round trip on ``dbapi_connection`` is over."""
        self._running.pop(id(dbapi_connection), None)

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._watch, name="livery-db-deadlines", daemon=True)
                self._thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            for key, (deadline, fd, ref) in list(self._running.items()):
                if now < deadline:
                    continue
                self._running.pop(key, None)
                connection = ref()
                if connection is None or connection.closed or _fileno(connection) != fd:
                    continue  # gone, or its descriptor now belongs to something else
                log.error("database statement past its %.1f s deadline: closing the connection", self.seconds)
                try:
                    with socket.socket(fileno=os.dup(fd)) as sock:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _fileno(connection) -> int | None:
    try:
        return connection.fileno()
    except Exception:  # noqa: BLE001 - closed meanwhile
        return None


def watch_engine(engine: Engine, health: DatabaseHealth, deadlines: StatementDeadlines | None) -> None:
    """Feed ``health`` from ``engine``'s events, and put every round trip under ``deadlines``."""

    @event.listens_for(engine, "handle_error")
    def _failed(context) -> None:
        if deadlines is not None and context.connection is not None:
            with contextlib.suppress(Exception):  # the connection may already be invalidated
                deadlines.end(context.connection.connection.dbapi_connection)
        # a failed connect (no connection yet) or a lost connection; not a constraint or a timeout
        if context.is_disconnect or context.connection is None:
            health.failed(context.original_exception.__class__.__name__)

    @event.listens_for(engine, "after_cursor_execute")
    def _completed(conn, cursor, statement, parameters, context, executemany) -> None:
        if deadlines is not None:
            deadlines.end(conn.connection.dbapi_connection)
        health.succeeded()

    if deadlines is None:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _execute(conn, cursor, statement, parameters, context, executemany) -> None:
        deadlines.begin(conn.connection.dbapi_connection)

    @event.listens_for(engine, "commit")
    def _commit(conn) -> None:
        deadlines.begin(conn.connection.dbapi_connection)

    @event.listens_for(engine.pool, "reset")
    def _reset(dbapi_connection, record, reset_state) -> None:
        deadlines.begin(dbapi_connection)

    @event.listens_for(engine.pool, "checkin")
    def _checkin(dbapi_connection, record) -> None:
        if dbapi_connection is not None:
            deadlines.end(dbapi_connection)
