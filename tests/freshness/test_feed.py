"""The change feed reads every event once, even when events commit out of id order."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from app.freshness import feed as feed_module
from app.freshness.feed import ChangeFeed
from app.freshness.models import ChangeEvent


@pytest.fixture
def make_session(sqlite_template, tmp_path):
    path = tmp_path / "feed.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    yield sessionmaker(bind=engine)
    engine.dispose()


def _add(make_session, *events: tuple[int, str, str]) -> None:
    with make_session() as session:
        session.add_all(ChangeEvent(id=i, topic=t, key=k) for i, t, k in events)
        session.commit()


def test_reads_forward_from_the_newest_event_at_reset(make_session):
    _add(make_session, (1, "code", "a"))
    feed = ChangeFeed()
    with make_session() as session:
        feed.reset(session)
        assert feed.poll(session) == []
    _add(make_session, (2, "brand", "7"))
    with make_session() as session:
        assert feed.poll(session) == [("brand", "7")]
        assert feed.poll(session) == []


def test_an_event_that_commits_after_a_higher_id_is_still_read(make_session):
    feed = ChangeFeed()
    with make_session() as session:
        feed.reset(session)
    _add(make_session, (1, "code", "a"), (3, "code", "c"))  # id 2's transaction is still open
    with make_session() as session:
        assert feed.poll(session) == [("code", "a"), ("code", "c")]
    assert feed.gaps == [2]

    _add(make_session, (2, "partner", "5"))  # ...and commits now
    with make_session() as session:
        assert feed.poll(session) == [("partner", "5")]
        assert feed.poll(session) == []
    assert feed.gaps == []


def test_gaps_are_forgotten_after_the_window(make_session, monkeypatch):
    now = [1000.0]
    feed = ChangeFeed(clock=lambda: now[0])
    with make_session() as session:
        feed.reset(session)
    _add(make_session, (2, "code", "b"))
    with make_session() as session:
        feed.poll(session)
    assert feed.gaps == [1]
    now[0] += feed_module.GAP_WINDOW + 1
    with make_session() as session:
        feed.poll(session)
    assert feed.gaps == []  # a rolled-back transaction's id never shows up


def test_ids_missing_just_below_the_newest_at_reset_are_gaps(make_session):
    _add(make_session, (1, "code", "a"), (4, "code", "d"))
    feed = ChangeFeed()
    with make_session() as session:
        feed.reset(session)
    assert feed.gaps == [2, 3]


def test_a_burst_asks_for_a_full_reload(make_session, monkeypatch):
    monkeypatch.setattr(feed_module, "MAX_EVENTS_PER_POLL", 3)
    feed = ChangeFeed()
    with make_session() as session:
        feed.reset(session)
    _add(make_session, *[(i, "code", str(i)) for i in range(1, 6)])
    with make_session() as session:
        assert feed.poll(session) is None
        assert feed.last_id == 5
