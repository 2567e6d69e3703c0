"""SQLite plumbing: many processes opening one file at once all get a working, WAL-mode connection;
and the clock file walk-throughs move Livery's time with."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from app.config import ConfigError, Settings
from app.db import make_engine, use_clock_file, utcnow

PROCESSES = 6
ROUNDS = 8


def _open_and_read(url: str, barrier, results) -> None:
    engine = make_engine(url)
    barrier.wait()  # every process opens its first connection at the same moment, as gunicorn workers do
    try:
        with engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            rows = connection.exec_driver_sql("SELECT count(*) FROM t").scalar()
        engine.dispose()
        results.put(f"{mode} {rows}")
    except Exception as exc:  # the test reports whatever a process met
        results.put(repr(exc))


def test_workers_starting_together_on_a_file_not_yet_in_wal_all_connect(tmp_path):
    path = tmp_path / "livery.db"
    context = multiprocessing.get_context("fork")
    outcomes = []
    for _ in range(ROUNDS):
        with sqlite3.connect(path) as plain:  # as migrations leave it: rollback-journal mode
            plain.execute("PRAGMA journal_mode=DELETE")
            plain.execute("CREATE TABLE IF NOT EXISTS t (x)")
        plain.close()
        barrier, results = context.Barrier(PROCESSES), context.Queue()
        processes = [
            context.Process(target=_open_and_read, args=(f"sqlite:///{path}", barrier, results))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        outcomes += [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=60)
    assert outcomes == ["wal 0"] * (PROCESSES * ROUNDS)


def test_a_migrated_sqlite_file_is_already_in_wal(tmp_path):
    from app import migrate

    path = tmp_path / "migrated.db"
    migrate.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    plain.close()


def test_the_clock_file_sets_the_time_livery_runs_at(tmp_path):
    clock = tmp_path / "clock"
    use_clock_file(str(clock))
    try:
        assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)  # no file yet: the real time
        clock.write_text("2026-11-03T09:00:00Z\n")
        first = utcnow()
        assert timedelta(0) <= first - datetime(2026, 11, 3, 9, tzinfo=UTC) < timedelta(seconds=5)
        assert utcnow() >= first  # it runs on from the instant set
        tick = clock.stat().st_mtime_ns
        clock.write_text("2026-12-01T00:15:00+00:00")
        os.utime(clock, ns=(tick, tick))  # a rewrite within the same mtime tick is followed too
        assert timedelta(0) <= utcnow() - datetime(2026, 12, 1, 0, 15, tzinfo=UTC) < timedelta(seconds=5)
        clock.unlink()
        assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
    finally:
        use_clock_file("")
    with pytest.raises(ConfigError, match="LIVERY_CLOCK_FILE"):
        Settings.from_env({"LIVERY_CLOCK_FILE": "clock"})
