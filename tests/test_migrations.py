"""Alembic: every migration goes up and down on both databases, and agrees with the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from app import migrate
from app.models import Base
from tests import services


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = services.create_pg_database("livery_migrations")
    yield url
    services.drop_pg_database(url)


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_head_then_downgrade_base(empty_database):
    migrate.upgrade(empty_database)
    assert _tables(empty_database) == set(Base.metadata.tables)

    migrate.downgrade(empty_database, "base")
    assert _tables(empty_database) == set()

    migrate.upgrade(empty_database)  # and up again: downgrades leave nothing behind
    assert _tables(empty_database) == set(Base.metadata.tables)


def test_models_and_migrations_agree(empty_database):
    migrate.upgrade(empty_database)
    engine = create_engine(empty_database, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models changed without a migration: run alembic revision --autogenerate"


def test_0016_fills_allocation_intervals_from_the_history(empty_database):
    from datetime import UTC, datetime

    from sqlalchemy import text

    migrate.upgrade(empty_database, "0011_viewer_onboarding")
    engine = create_engine(empty_database, poolclass=NullPool)
    insert = text(
        "INSERT INTO allocation_events (id, partner_id, licensed_user_id, user_key, action, status, licence_type,"
        " actor, at) VALUES (:id, 1, :user, :key, :action, :status, 'standard', 'test', :at)"
    )

    def at(day: int):
        moment = datetime(2026, 9, day, tzinfo=UTC)
        return moment.replace(tzinfo=None) if empty_database.startswith("sqlite") else moment

    history = [  # id, licensed user, key, action, status, day
        (1, 7, "a", "added", "active", 1),
        (2, 7, "a", "changed", "suspended", 5),
        (3, 7, "a", "changed", "active", 6),
        (4, 7, "b", "changed", "active", 8),  # renamed before 0016 wrote "renamed"
        (5, 7, "b", "removed", "active", 9),
        (6, 8, "c", "added", "active", 2),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO partners (id, slug, name, status, version, created_at, updated_at)"
                              " VALUES (1, 'p', 'P', 'live', 1, :at, :at)"), {"at": at(1)})  # fmt: skip
            for ident, user, key, action, status, day in history:
                conn.execute(insert, {"id": ident, "user": user, "key": key, "action": action, "status": status,
                                      "at": at(day)})  # fmt: skip
        migrate.upgrade(empty_database)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, allocated_until FROM allocation_events ORDER BY id")).all()
    finally:
        engine.dispose()
    days = {ident: until if until is None else int(str(until)[8:10]) for ident, until in rows}
    assert days == {1: 5, 2: 5, 3: 8, 4: 9, 5: 9, 6: None}
