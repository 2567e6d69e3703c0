"""Keeping change_events small: ``flask changes prune`` and each worker's small automatic prune."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.api.public import cache
from app.db import session, utcnow
from app.freshness.models import ChangeEvent
from app.freshness.services import announce_change


def _events(app, ages_hours: list[float]) -> None:
    """Announce one change per age (through the service), then date each back by its age."""
    with app.app_context():
        for _ in ages_hours:
            announce_change(session(), "settings")
        session().commit()
        ids = session().scalars(select(ChangeEvent.id).order_by(ChangeEvent.id.desc()).limit(len(ages_hours)))
        for event_id, age in zip(sorted(ids), ages_hours, strict=True):
            when = utcnow() - timedelta(hours=age)
            session().execute(update(ChangeEvent).where(ChangeEvent.id == event_id).values(created_at=when))
        session().commit()


def _ages(app) -> list[int]:
    with app.app_context():
        rows = session().scalars(select(ChangeEvent.created_at).order_by(ChangeEvent.id))
        return [round((utcnow() - created).total_seconds() / 3600) for created in rows]


def test_prune_command_deletes_events_older_than_the_duration(db_app):
    _events(db_app, [100, 50, 30, 1, 0])
    result = db_app.test_cli_runner().invoke(args=["changes", "prune", "--older-than", "2d"])
    assert result.exit_code == 0, result.output
    assert "pruned 2 change events" in result.output
    assert _ages(db_app) == [30, 1, 0]


def test_prune_keeps_the_newest_event_whatever_its_age(db_app):
    _events(db_app, [100, 90])
    db_app.test_cli_runner().invoke(args=["changes", "prune", "--older-than", "1h"])
    assert _ages(db_app) == [90]  # readers find their place from the newest id


def test_prune_refuses_a_bad_duration(app):
    for value in ("7", "7w", "-1d", "10s"):
        result = app.test_cli_runner().invoke(args=["changes", "prune", "--older-than", value])
        assert result.exit_code == 2, (value, result.output)


def test_each_worker_prunes_a_small_batch_now_and_then(db_app, monkeypatch):
    monkeypatch.setattr(cache, "PRUNE_BATCH", 2)
    _events(db_app, [400, 300, 200, 0])
    answers = db_app.extensions["livery.public"]
    answers.refresh()  # first load
    answers._next_poll = answers._next_prune = 0  # a poll is due, and so is a prune
    answers.refresh()
    assert _ages(db_app) == [200, 0]  # retention 168 h: the two oldest go, in one small batch
