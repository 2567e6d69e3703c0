"""Rollout plans on an injected clock: steps advance only while healthy and never skip, pause
themselves otherwise, resume and cancel; two schedulers racing on PostgreSQL fire each step once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import create_app, migrate
from app.db import session, utcnow
from app.upgrades.models import Channel, PlanEvent
from app.upgrades.plans import run_plans
from app.upgrades.reports import Report, write_reports
from tests import services
from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file

STEPS = [
    {"percent": 1, "hold_hours": 24, "min_successes": 10},
    {"percent": 10, "hold_hours": 24, "min_successes": 20},
    {"percent": 50, "hold_hours": 48, "min_successes": 20},
    {"percent": 100},
]


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


def add_reports(app, partner_id: int, when, outcome: str, count: int, start: int = 0) -> None:
    reports = [
        Report(
            partner_id, "stable", f"i-{outcome}-{start + i}", "5.1.0", "5.3.0", "windows-x64", outcome, None, 1, when
        )
        for i in range(count)
    ]
    with app.app_context():
        write_reports(session(), reports)
        session().commit()


def run(setup: Setup, clock: Clock) -> list[dict]:
    return run_plans(setup.app.extensions["livery.sessionmaker"], setup.app.extensions["livery.stores"], clock=clock)


def rollout_of(setup: Setup) -> tuple[int, object]:
    channel = setup.admin.get("/channels/stable").json
    document = setup.admin.get(f"/channels/stable/control-files/{channel['active_serial']}")
    entry = next(e for e in json.loads(document.data)["releases"] if e["version"] == "5.3.0")
    return channel["active_serial"], entry["rollout_percent"]


@pytest.fixture
def setup(app) -> Setup:
    setup = Setup(app)
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 0)))
    return setup


def start(setup: Setup, steps=STEPS):
    response = setup.admin.post("/channels/stable/plans", {"release_version": "5.3.0", "steps": steps})
    assert response.status_code == 201, response.json
    return response.json


def test_a_healthy_plan_advances_step_by_step_on_the_clock_and_never_skips(setup):
    plan = start(setup)
    assert rollout_of(setup) == (2, 1)
    clock = Clock()
    clock.now = utcnow()
    assert run(setup, clock)[0]["did"] == "wait"
    add_reports(setup.app, setup.partner.id, clock.now + timedelta(minutes=5), "succeeded", 10)
    clock.now += timedelta(hours=24, minutes=1)
    assert run(setup, clock) == [{"plan": plan["id"], "did": "advance", "step": 1}]
    assert rollout_of(setup) == (3, 10)
    # far past every hold: still one step per pass (and this step has no successes of its own yet)
    add_reports(setup.app, setup.partner.id, clock.now + timedelta(minutes=1), "succeeded", 20, start=100)
    clock.now += timedelta(days=30)
    assert run(setup, clock)[0]["did"] == "advance"
    assert rollout_of(setup) == (4, 50)
    add_reports(setup.app, setup.partner.id, clock.now + timedelta(minutes=1), "succeeded", 20, start=200)
    clock.now += timedelta(hours=47)
    assert run(setup, clock)[0]["did"] == "wait"  # 48 h hold
    clock.now += timedelta(hours=2)
    assert run(setup, clock)[0]["did"] == "advance"
    assert rollout_of(setup) == (5, 100)
    body = setup.admin.get(f"/channels/stable/plans/{plan['id']}").json
    assert body["status"] == "completed"
    assert [(e["kind"], e["step"], e["percent"]) for e in body["timeline"]] == [
        ("started", 0, "1"),
        ("advanced", 1, "10"),
        ("advanced", 2, "50"),
        ("advanced", 3, "100"),
        ("completed", 3, "100"),
    ]
    assert run(setup, clock) == []  # nothing left to do


def test_a_plan_pauses_without_enough_successes_and_resumes(setup):
    plan = start(setup)
    clock = Clock()
    add_reports(setup.app, setup.partner.id, clock.now + timedelta(minutes=5), "succeeded", 9)
    clock.now += timedelta(hours=25)
    assert run(setup, clock)[0]["did"] == "pause"
    body = setup.admin.get(f"/channels/stable/plans/{plan['id']}").json
    assert body["status"] == "paused"
    assert body["pause_reason"] == "only 9 of the 10 successful installs this step needs"
    assert rollout_of(setup) == (2, 1)  # the rollout stays where it was
    assert run(setup, clock) == []  # a paused plan is left alone
    response = setup.admin.post(f"/channels/stable/plans/{plan['id']}/resume", {}, etag=body["etag"])
    assert response.status_code == 200 and response.json["status"] == "active"


def test_a_plan_pauses_when_the_guard_breaks_or_the_channel_is_halted(setup):
    plan = start(setup)
    clock = Clock()
    add_reports(setup.app, setup.partner.id, clock.now + timedelta(minutes=5), "succeeded", 45)
    add_reports(setup.app, setup.partner.id, clock.now + timedelta(minutes=5), "failed", 5)  # 10 %
    clock.now += timedelta(hours=1)  # before the hold ends: a broken guard pauses at once
    assert run(setup, clock)[0]["did"] == "pause"
    reason = setup.admin.get(f"/channels/stable/plans/{plan['id']}").json["pause_reason"]
    assert reason == "the guard's threshold was broken during this step (5 of 50 failed)"
    cancel = setup.admin.post(
        f"/channels/stable/plans/{plan['id']}/cancel",
        {},
        etag=setup.admin.get(f"/channels/stable/plans/{plan['id']}").json["etag"],
    )
    assert cancel.status_code == 200 and cancel.json["status"] == "cancelled"
    plan = start(setup, [{"percent": 5, "hold_hours": 1}, {"percent": 100}])
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1"})
    assert run(setup, clock)[0]["did"] == "pause"
    assert (
        setup.admin.get(f"/channels/stable/plans/{plan['id']}")
        .json["pause_reason"]
        .startswith("the channel is halted: INC-1")
    )


def test_plan_input_is_checked(setup):
    for steps in ([], [{"percent": 10}, {"percent": 5}], [{"percent": 0}], [{"percent": 101}]):
        response = setup.admin.post("/channels/stable/plans", {"release_version": "5.3.0", "steps": steps})
        assert response.status_code == 422, (steps, response.json)
    response = setup.admin.post("/channels/stable/plans", {"release_version": "5.9.0", "steps": [{"percent": 1}]})
    assert response.status_code == 409 and response.json["code"] == "plan_conflict"
    start(setup)
    response = setup.admin.post("/channels/stable/plans", {"release_version": "5.3.0", "steps": [{"percent": 1}]})
    assert response.status_code == 409 and response.json["code"] == "plan_conflict"


@pytest.mark.postgres
def test_two_schedulers_racing_fire_each_step_once(make_app, tmp_path):
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = services.create_pg_database("livery_plans")
    try:
        migrate.upgrade(url)
        seeded = make_app()  # settings for the folders; the deployment itself runs on ``url``
        settings = seeded.config["LIVERY"].with_overrides(database_url=url)
        app = create_app(settings)
        app.config["TESTING"] = True
        setup = Setup(app)
        upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 0)))
        steps = [{"percent": p, "hold_hours": 1} for p in (1, 2, 5, 10, 20, 50)] + [{"percent": 100}]
        plan = start(setup, steps)
        clock = Clock()
        for _ in range(len(steps) - 1):
            clock.now += timedelta(hours=2)
            barrier = threading.Barrier(2)
            results: list[list[dict]] = []

            def scheduler(barrier: threading.Barrier, results: list) -> None:
                barrier.wait()
                results.append(run(setup, clock))

            threads = [threading.Thread(target=scheduler, args=(barrier, results)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            did = sorted(r["did"] for result in results for r in result)
            assert did.count("advance") == 1, results  # one scheduler advanced, the other skipped or waited
        with app.app_context():
            events = list(session().scalars(select(PlanEvent).where(PlanEvent.plan_id == plan["id"])))
            advanced = [e.step for e in events if e.kind == "advanced"]
            assert advanced == list(range(1, len(steps)))  # every step once, in order
            assert session().scalars(select(Channel)).one().active_serial == 1 + len(
                steps
            )  # the first file, then one per step
        app.extensions["livery.engine"].dispose()
    finally:
        services.drop_pg_database(url)
