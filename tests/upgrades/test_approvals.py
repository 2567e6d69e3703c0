"""Two-person activation: with the partner option on, an activation or a resume needs a second
key's approval of exactly that file / that halt; any change after the approval voids it."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from app import migrate
from app.upgrades.approvals import AlreadyAsked, request_approval, resume_digest
from app.upgrades.services import find_channel
from tests import services
from tests.api.admin.conftest import Caller
from tests.api.public.test_upgrade import Setup
from tests.conftest import DATABASES
from tests.upgrades.catalogue import control_file, upload_control_file


@pytest.fixture
def setup(app) -> Setup:
    return two_person_setup(app)


def two_person_setup(app, slug: str = "acme") -> Setup:
    """A live partner with two admin keys (``admin``, ``second``), two-person activation on and stable active."""
    setup = Setup(app, slug)
    upload_control_file(setup.admin, control_file(("5.2.0", 100)))
    response = setup.admin.post("/api-keys", {"role": "admin", "label": "second person"})  # a second person
    assert response.status_code == 201, response.json
    setup.second = Caller(setup.client, response.json["key"])
    policy = setup.admin.put("/upgrade-policy", {"two_person": True})
    assert policy.status_code == 200 and policy.json["two_person"] is True
    return setup


def ask(setup: Setup, document: bytes, caller=None):
    return (caller or setup.admin).post(
        "/channels/stable/approvals?action=activate", data=document, headers={"Content-Type": "application/json"}
    )


def approve(setup: Setup, approval_id: int, document: bytes = b"", caller=None):
    return (caller or setup.second).post(
        f"/channels/stable/approvals/{approval_id}/approve", data=document, headers={"Content-Type": "application/json"}
    )


def test_activation_needs_a_second_persons_approval_of_exactly_this_file(setup):
    document = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 20))).encode()
    refused = upload_control_file(setup.admin, document)
    assert refused.status_code == 409 and refused.json["code"] == "approval_required"
    approval = ask(setup, document).json
    assert approval["status"] == "pending"
    assert approve(setup, approval["id"], document, caller=setup.admin).status_code == 409  # not the asker
    assert upload_control_file(setup.admin, document).status_code == 409  # pending is not approved
    approved = approve(setup, approval["id"], document)
    assert approved.status_code == 200 and approved.json["status"] == "approved", approved.json
    other = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 21))).encode()
    assert upload_control_file(setup.admin, other).status_code == 409  # another file: not approved
    response = upload_control_file(setup.admin, document)
    assert response.status_code == 201, response.json
    assert upload_control_file(setup.admin, document).status_code == 409  # used up
    statuses = [a["status"] for a in setup.admin.get("/channels/stable/approvals").json["items"]]
    assert statuses == ["used"]


def test_an_approval_is_void_after_any_change(setup):
    document = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 20))).encode()
    approval = ask(setup, document).json
    changed = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 50))).encode()
    response = approve(setup, approval["id"], changed)  # the approver reviewed another file
    assert response.status_code == 409
    assert setup.admin.get("/channels/stable/approvals").json["items"][0]["status"] == "void"
    # approved, then the channel changes (another activation) before it is used: no longer matches
    approval = ask(setup, document).json
    assert approve(setup, approval["id"], document).json["status"] == "approved"
    rollback = json.dumps(control_file(("5.2.0", 100), notes="hotfix")).encode()
    second = ask(setup, rollback, caller=setup.second).json
    assert approve(setup, second["id"], rollback, caller=setup.admin).json["status"] == "approved"
    assert upload_control_file(setup.admin, rollback).status_code == 201
    assert upload_control_file(setup.admin, document).status_code == 409  # the active serial moved on


def test_resume_needs_an_approval_bound_to_the_halt(setup):
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1"})  # halting never waits for anyone
    assert setup.admin.post("/channels/stable/resume", {}).json["code"] == "approval_required"
    approval = setup.admin.post("/channels/stable/approvals?action=resume").json
    assert approve(setup, approval["id"]).json["status"] == "approved"
    setup.admin.post("/channels/stable/halt", {"reason": "INC-2: worse than we thought"})  # the halt changed
    assert setup.admin.post("/channels/stable/resume", {}).status_code == 409
    approval = setup.admin.post("/channels/stable/approvals?action=resume").json
    assert approve(setup, approval["id"]).json["status"] == "approved"
    response = setup.admin.post("/channels/stable/resume", {})
    assert response.status_code == 200 and response.json["halted"] is False


def test_without_the_option_one_person_suffices(setup):
    etag = setup.admin.get("/upgrade-policy").json["etag"]
    assert setup.admin.put("/upgrade-policy", {"two_person": False}).status_code == 428
    assert setup.admin.put("/upgrade-policy", {"two_person": False}, etag=etag).status_code == 200
    document = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 20))).encode()
    assert upload_control_file(setup.admin, document).status_code == 201


def test_plans_cannot_run_under_two_person_activation(setup):
    response = setup.admin.post("/channels/stable/plans", {"release_version": "5.2.0", "steps": [{"percent": 100}]})
    assert response.status_code == 409 and response.json["code"] == "approval_required"


def test_a_halt_has_one_open_resume_request_however_often_it_is_asked(setup):
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1"})
    first = setup.admin.post("/channels/stable/approvals?action=resume")
    assert first.status_code == 201, first.json
    for caller in (setup.admin, setup.second):  # a double click, or a second person asking too
        again = caller.post("/channels/stable/approvals?action=resume")
        assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
        assert again.json["code"] == "approval_already_asked" and again.json["approval_id"] == first.json["id"]
        assert "waiting for a second person's approval" in again.json["detail"]
    assert [a["status"] for a in setup.admin.get("/channels/stable/approvals").json["items"]] == ["pending"]
    assert approve(setup, first.json["id"]).json["status"] == "approved"
    again = setup.admin.post("/channels/stable/approvals?action=resume")  # approved, not used yet: still open
    assert again.status_code == 409 and "it can be used now" in again.json["detail"]
    # another halt is another request; the one of the earlier halt no longer counts
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1: worse than we thought"})
    second = setup.admin.post("/channels/stable/approvals?action=resume")
    assert second.status_code == 201 and second.json["id"] != first.json["id"]
    assert setup.second.post("/channels/stable/approvals?action=resume").json["approval_id"] == second.json["id"]


def test_the_same_control_file_is_asked_for_once(setup):
    document = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 20))).encode()
    first = ask(setup, document)
    assert first.status_code == 201
    again = ask(setup, document, caller=setup.second)
    assert again.status_code == 409 and again.json["code"] == "approval_already_asked"
    other = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 30))).encode()
    assert ask(setup, other).status_code == 201  # another file is another request


@pytest.fixture(params=DATABASES)
def racing_app(request, make_app):
    """The app on each database with its own connections (committed, not rolled back), so requests can race.

    On PostgreSQL in a database of its own, dropped afterwards: its commits must not show in the
    session's shared database, where other tests count rows.
    """
    if request.param == "sqlite":
        return make_app()
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = services.create_pg_database("livery_race")
    request.addfinalizer(lambda: services.drop_pg_database(url))
    migrate.upgrade(url)
    return make_app(database_url=url)


def test_two_resume_requests_at_the_same_moment_make_one(racing_app):
    """The second request waits for the first one's commit, then sees it (not a check-then-insert race)."""
    setup = two_person_setup(racing_app, f"race-{uuid.uuid4().hex[:8]}")  # committed for good on PostgreSQL
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1"})
    make_session = setup.app.extensions["livery.sessionmaker"]
    first = make_session()
    channel = find_channel(first, setup.partner.id, "stable")
    request_approval(first, channel, "resume", resume_digest(channel), actor="partner:first")  # not committed yet
    outcome: list[object] = []

    def second_person() -> None:
        with make_session() as second:
            row = find_channel(second, setup.partner.id, "stable")
            try:
                request_approval(second, row, "resume", resume_digest(row), actor="partner:second")
                second.commit()
                outcome.append("asked")
            except AlreadyAsked as exc:
                second.rollback()
                outcome.append(exc.code)

    thread = threading.Thread(target=second_person)
    thread.start()
    time.sleep(0.5)  # the second request is now waiting for the channel's lock
    assert outcome == []
    first.commit()
    first.close()
    thread.join(10)
    assert outcome == ["approval_already_asked"]
    assert [a["status"] for a in setup.admin.get("/channels/stable/approvals").json["items"]] == ["pending"]


def test_approvals_are_refused_while_two_person_activation_is_off(setup):
    """Off, nothing waits for a second person: asking or approving answers 409 two_person_off and
    stores nothing; a request asked while it was on waits, and can be approved once it is on again."""
    document = json.dumps(control_file(("5.2.0", 100), ("5.3.0", 20))).encode()
    asked = ask(setup, document).json
    policy = setup.admin.get("/upgrade-policy")
    off = setup.admin.put("/upgrade-policy", {"two_person": False}, etag=policy.headers["ETag"])
    assert off.status_code == 200 and off.json["two_person"] is False

    refused = ask(setup, json.dumps(control_file(("5.2.0", 100), ("5.3.0", 50))).encode())
    assert refused.status_code == 409 and refused.json["code"] == "two_person_off"
    assert refused.headers["Content-Type"] == "application/problem+json"
    resume = setup.admin.post("/channels/stable/approvals?action=resume")
    assert resume.status_code == 409 and resume.json["code"] == "two_person_off"
    not_approved = approve(setup, asked["id"], document)
    assert not_approved.status_code == 409 and not_approved.json["code"] == "two_person_off"
    listed = setup.admin.get("/channels/stable/approvals").json["items"]
    assert [(a["id"], a["status"]) for a in listed] == [(asked["id"], "pending")]  # nothing added, nothing spent

    setup.admin.put("/upgrade-policy", {"two_person": True}, etag=off.headers["ETag"])
    assert approve(setup, asked["id"], document).json["status"] == "approved"


def test_a_hostile_file_asked_for_is_a_problem_and_stores_nothing(setup):
    nested = "[" * 5000 + "]" * 5000
    response = setup.admin.post(
        "/channels/stable/approvals?action=activate", data=nested, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert setup.admin.get("/channels/stable/approvals").json["items"] == []
