"""Rollout health and the automatic halt guard: thresholds at their edges, the window on an
injected clock, and 200 simulated installs halting a channel with the evidence in its reason."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import session, utcnow
from app.upgrades.guard import evaluate_guard
from app.upgrades.health import GuardSettings, ReleaseHealth, guard_trips, halt_reason, health_from_counts
from app.upgrades.models import Channel
from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file

GUARD = GuardSettings()  # 5 % with at least 50 finished installs in 60 minutes


@pytest.mark.parametrize(
    ("succeeded", "failed", "rolled_back", "trips"),
    [
        (0, 49, 0, False),  # every install failed, but fewer than 50 reports
        (48, 2, 0, False),  # 4 % of 50
        (47, 3, 0, True),  # 6 % of 50
        (95, 5, 0, True),  # exactly 5 %
        (96, 4, 0, False),  # 4 %
        (951, 49, 0, False),  # 4.9 %
        (950, 25, 25, True),  # 5 %: rolled back counts as failed
        (50, 0, 0, False),
    ],
)
def test_threshold_edges(succeeded, failed, rolled_back, trips):
    health = ReleaseHealth("5.3.0", started=1000, succeeded=succeeded, failed=failed, rolled_back=rolled_back)
    assert guard_trips(health, GUARD) is trips


def test_started_reports_neither_trip_nor_dilute():
    assert not guard_trips(ReleaseHealth("5.3.0", started=10_000), GUARD)
    assert guard_trips(ReleaseHealth("5.3.0", started=10_000, succeeded=45, failed=5), GUARD)


def test_per_channel_settings_and_off():
    health = ReleaseHealth("5.3.0", succeeded=18, failed=2)  # 10 % of 20
    assert not guard_trips(health, GUARD)
    assert guard_trips(health, GuardSettings(failure_bp=1000, min_reports=20))
    assert not guard_trips(health, GuardSettings(failure_bp=1001, min_reports=20))
    assert not guard_trips(ReleaseHealth("5.3.0", failed=1000), GuardSettings(enabled=False))


def test_the_reason_names_the_evidence():
    reason = halt_reason(ReleaseHealth("5.3.0", succeeded=54, failed=5, rolled_back=1), GUARD)
    assert reason == (
        "Automatic halt: 5.3.0 failed on 6 of 60 installs (10.0 %: 5 failed, 1 rolled back, 54 succeeded) "
        "in the last 60 min; the guard halts at 5 % with at least 50 reports."
    )
    assert len(reason) <= 500


def test_counts_per_release():
    rows = [("5.3.0", "failed", 2), ("5.3.0", "succeeded", 8), ("5.2.0", "started", 1), ("5.3.0", "failed", 1)]
    healths = health_from_counts(rows)
    assert healths["5.3.0"] == ReleaseHealth("5.3.0", succeeded=8, failed=3)
    assert healths["5.2.0"].failure_rate is None


# -- through HTTP ---------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def setup(make_app) -> Setup:
    setup = Setup(make_app(upgrade_reports_flush_seconds=0))
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    setup.clock = Clock(utcnow())  # services stamp halts and resumes with the real time
    setup.app.extensions["livery.reports"].wall_clock = setup.clock
    return setup


def report(setup: Setup, install: int, outcome: str, to_version: str = "5.3.0"):
    body = {
        "install_id": f"install-{install:03d}",
        "from_version": "5.1.0",
        "to_version": to_version,
        "platform": "windows-x64",
        "outcome": outcome,
        "serial": 1,
    }
    response = setup.client.post(f"/v1/upgrade/{setup.code}/reports", data=json.dumps(body))
    assert response.status_code == 202, response.json


def halted(setup: Setup) -> tuple[bool, str]:
    channel = setup.admin.get("/channels/stable").json
    return channel["halted"], channel["halt_reason"]


def test_200_installs_healthy_then_failing_halt_the_channel_with_the_evidence(setup):
    for i in range(100):  # healthy
        report(setup, i, "started")
        report(setup, i, "succeeded")
    assert halted(setup) == (False, "")
    for i in range(100, 200):  # then one in ten fails
        report(setup, i, "started")
        report(setup, i, "failed" if i % 10 == 0 else "succeeded")
        if halted(setup)[0]:
            break
    assert i == 190  # 10 failures of 191 finished: the first moment the failure rate reaches 5 %
    is_halted, reason = halted(setup)
    assert is_halted
    assert reason.startswith("Automatic halt: 5.3.0 failed on 10 of 191 installs (5.2 %")
    poll = setup.poll(install_id="install-000").json["payload"]
    assert (poll["action"], poll["reason"]) == ("none", "halted")
    with setup.app.app_context():
        event = session().scalars(select(AuditEvent).where(AuditEvent.action == "channel.halt")).one()
        assert event.actor == "guard" and event.after["halt_reason"] == reason
    health = setup.admin.get("/channels/stable/health").json
    assert health["halted"] is True
    (release,) = health["releases"]
    assert release == {
        "version": "5.3.0",
        "started": 191,
        "succeeded": 181,
        "failed": 10,
        "rolled_back": 0,
        "finished": 191,
        "failure_percent": 5.24,
    }
    assert health["guard"]["tripped_by"] == "5.3.0"
    explained = setup.admin.get("/channels/stable/explain?version=5.1.0&platform=windows-x64&install_id=i-1").json
    assert explained["health"]["releases"] == health["releases"]


def test_resume_is_a_persons_decision_and_the_guard_counts_afresh(setup):
    for i in range(60):
        report(setup, i, "failed")
    assert halted(setup)[0]
    response = setup.admin.post("/channels/stable/resume", {})
    assert response.status_code == 200 and response.json["halted"] is False
    setup.clock.now += timedelta(minutes=2)
    report(setup, 500, "succeeded")  # the old failures are not counted again
    assert halted(setup) == (False, "")
    assert setup.admin.get("/channels/stable/health").json["releases"][0]["finished"] == 1


def test_the_window_slides_on_the_clock(setup):
    etag = setup.admin.get("/channels/stable/guard").json["etag"]
    assert setup.admin.put("/channels/stable/guard", {"enabled": False}, etag=etag).status_code == 200
    for i in range(3):
        report(setup, i, "failed")
    for i in range(3, 50):
        report(setup, i, "succeeded")
    assert not halted(setup)[0]  # 6 % of 50, but the guard is off
    etag = setup.admin.get("/channels/stable/guard").json["etag"]
    assert setup.admin.put("/channels/stable/guard", {"enabled": True}, etag=etag).status_code == 200
    # the reports count in the minute they arrived in: inside the window for 60 minutes from its start
    with setup.app.app_context():
        channel = session().scalars(select(Channel)).one()
        start = setup.clock.now
        assert evaluate_guard(session(), channel.partner_id, "stable", start + timedelta(minutes=61)) is None
        session().rollback()
        assert evaluate_guard(session(), channel.partner_id, "stable", start + timedelta(minutes=59)) is not None
        session().rollback()


def test_guard_settings_through_the_admin_api(setup):
    guard = setup.admin.get("/channels/stable/guard")
    assert guard.json["failure_percent"] == 5.0 and guard.json["min_reports"] == 50
    response = setup.admin.put("/channels/stable/guard", {"failure_percent": 20, "min_reports": 10})
    assert response.status_code == 428
    response = setup.admin.put(
        "/channels/stable/guard", {"failure_percent": 20, "min_reports": 10}, etag=guard.json["etag"]
    )
    assert response.status_code == 200, response.json
    assert (response.json["failure_percent"], response.json["min_reports"]) == (20.0, 10)
    for i in range(9):
        report(setup, i, "failed")
    assert not halted(setup)[0]  # 9 reports: under the minimum of 10
    report(setup, 9, "succeeded")
    assert halted(setup)[0]
    for bad in ({"failure_percent": 0}, {"failure_percent": 101}, {"min_reports": 0}, {"window_minutes": 2**40}):
        etag = setup.admin.get("/channels/stable/guard").json["etag"]
        assert setup.admin.put("/channels/stable/guard", bad, etag=etag).status_code == 422
