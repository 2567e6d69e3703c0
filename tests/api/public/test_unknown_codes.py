"""An unknown code makes a worker read the change log at once (rate-limited, bounded), then look again.

A second PublicAnswers on the same database plays another worker: it never hears this process's
commits, only the change log. Its clock is injected, so nothing sleeps.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from app.api.public.cache import PublicAnswers
from app.branding.codes import code_digest, normalise_code
from tests import factories


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _other_worker(app, clock: Clock, **kw) -> PublicAnswers:
    kw.setdefault("miss_poll_interval", 0.02)
    return PublicAnswers(
        app.extensions["livery.sessionmaker"],
        base_url="http://livery.test",
        standard_viewer_url="https://viewer.livery.test/standard",
        interval=1.0,
        clock=clock,
        **kw,
    )


def _digest(plain: str) -> str:
    return code_digest(normalise_code(plain))


@pytest.fixture
def brand(db_app):
    return factories.make_brand(db_app, factories.make_partner(db_app))


def test_a_code_issued_elsewhere_answers_on_the_first_request(db_app, brand):
    clock = Clock()
    worker = _other_worker(db_app, clock)
    assert worker.code(_digest(factories.issue(db_app, brand))) is not None  # loads everything
    plain = factories.issue(db_app, brand)  # the freshness interval has not passed: no regular poll
    entry = worker.code(_digest(plain))
    assert entry is not None and entry.brand_id == brand


def test_unknown_codes_read_the_change_log_at_most_once_per_interval(db_app, brand, monkeypatch):
    clock = Clock()
    worker = _other_worker(db_app, clock)
    worker.code("0" * 64)
    clock.now += 0.5
    polls = []
    real_poll = worker._feed.poll
    monkeypatch.setattr(worker._feed, "poll", lambda session: polls.append(1) or real_poll(session))
    for _ in range(100):
        assert worker.code("1" * 64) is None
    assert len(polls) == 1  # a flood of unknown codes: one small query per interval, not one each
    plain = factories.issue(db_app, brand)
    assert worker.code(_digest(plain)) is None  # within the interval: answered from memory
    clock.now += 0.021
    assert worker.code(_digest(plain)) is not None
    assert len(polls) == 2


def test_an_unreadable_change_log_answers_unknown_at_once(db_app, brand, monkeypatch, caplog):
    clock = Clock()
    worker = _other_worker(db_app, clock)
    worker.code("0" * 64)
    plain = factories.issue(db_app, brand)

    def down(session):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(worker._feed, "poll", down)
    clock.now += 0.5
    assert worker.code(_digest(plain)) is None
    assert plain not in caplog.text
    monkeypatch.undo()
    clock.now += 0.5
    assert worker.code(_digest(plain)) is not None


def test_a_busy_lock_answers_unknown_within_the_timeout(db_app, brand):
    import threading

    worker = _other_worker(db_app, Clock(), miss_poll_timeout=0.05)
    worker.code("0" * 64)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with worker._lock:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    try:
        worker._clock.now += 1  # type: ignore[attr-defined]
        assert worker._look_again("2" * 64, 0.05) is None
    finally:
        release.set()
        thread.join()
