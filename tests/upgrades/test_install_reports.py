"""POST /v1/upgrade/{code}/reports: accepted (202), idempotent, refused like discovery, validated,
capped per install, buffered and flushed (the fast path's parity: tests/api/public/test_fast_reports.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.db import session
from app.upgrades.models import InstallReport, InstallReportMinute
from tests import factories
from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file

REPORT = {
    "install_id": "install-1",
    "from_version": "5.1.0",
    "to_version": "5.3.0",
    "platform": "windows-x64",
    "outcome": "succeeded",
    "serial": 1,
}


def post(setup: Setup, body=None, code: str | None = None, **changes):
    data = body if body is not None else json.dumps({**REPORT, **changes})
    return setup.client.post(
        f"/v1/upgrade/{code or setup.code}/reports", data=data, headers={"Content-Type": "application/json"}
    )


def rows(app) -> list[InstallReport]:
    with app.app_context():
        return list(session().scalars(select(InstallReport).order_by(InstallReport.id)))


def minute_total(app) -> int:
    with app.app_context():
        return session().scalar(select(func.coalesce(func.sum(InstallReportMinute.count), 0)))


@pytest.fixture
def setup(make_app) -> Setup:
    setup = Setup(make_app(upgrade_reports_flush_seconds=0))  # write-through: each report written before its 202
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    return setup


def test_a_report_is_accepted_and_stored_under_the_codes_channel(setup):
    response = post(setup, error_code=None)
    assert response.status_code == 202
    assert response.json == {"accepted": True}
    assert response.headers["Cache-Control"] == "no-store"
    (row,) = rows(setup.app)
    assert (row.partner_id, row.channel, row.install_id, row.to_version, row.outcome, row.serial) == (
        setup.partner.id,
        "stable",
        "install-1",
        "5.3.0",
        "succeeded",
        1,
    )
    assert minute_total(setup.app) == 1


def test_reports_are_idempotent_per_install_target_and_outcome(setup):
    for _ in range(3):
        assert post(setup).status_code == 202
    assert post(setup, outcome="started").status_code == 202
    assert post(setup, to_version="5.2.0").status_code == 202
    assert len(rows(setup.app)) == 3
    assert minute_total(setup.app) == 3  # a repeat is counted once


def test_unknown_revoked_and_malformed_codes_are_refused_like_discovery(setup):
    for code in ("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", "not a code", "x" * 80):
        response = post(setup, code=code)
        assert response.status_code == 404
        assert response.json == setup.client.get(f"/v1/discovery/{code}").json
    factories.revoke(setup.app, setup.code)
    response = post(setup)
    assert response.status_code == 410
    assert response.json == setup.client.get(f"/v1/discovery/{setup.code}").json
    assert rows(setup.app) == []


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_a_json_object_is_400(setup, body):
    response = post(setup, body=body)
    assert response.status_code in (400, 413)
    assert response.content_type == "application/problem+json"
    if response.status_code == 400:
        assert response.json["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"install_id": ""}, "install_id"),
        ({"install_id": "a b"}, "install_id"),
        ({"install_id": 7}, "install_id"),
        ({"from_version": "five"}, "from_version"),
        ({"to_version": None}, "to_version"),
        ({"platform": "amiga"}, "platform"),
        ({"outcome": "exploded"}, "outcome"),
        ({"error_code": "x" * 65}, "error_code"),
        ({"error_code": "bad\u0000code"}, "error_code"),
        ({"serial": -1}, "serial"),
        ({"serial": True}, "serial"),
        ({"serial": 2**40}, "serial"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_field_is_422_naming_it(setup, changes, field):
    response = post(setup, **changes)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert rows(setup.app) == []


def test_a_body_over_the_limit_is_413(setup):
    response = post(setup, error_code=None, install_id="i", colour="x" * 5000)
    assert response.status_code == 413


def test_a_flood_from_one_install_is_capped(make_app):
    setup = Setup(make_app(upgrade_reports_flush_seconds=0, upgrade_reports_per_install_hour=5))
    statuses = [post(setup, to_version=f"5.3.{i}").status_code for i in range(12)]
    assert statuses == [202] * 5 + [429] * 7
    response = post(setup, to_version="5.9.0")
    assert response.json["code"] == "too_many_reports"
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert post(setup, install_id="install-2").status_code == 202  # other installs are not affected
    assert len(rows(setup.app)) == 6


def test_the_per_install_cap_starts_afresh_each_clock_hour(make_app, monkeypatch):
    setup = Setup(make_app(upgrade_reports_flush_seconds=0, upgrade_reports_per_install_hour=2))
    now = [7_199.0]  # one second before the second hour ends
    monkeypatch.setattr(setup.app.extensions["livery.reports"], "_clock", lambda: now[0])
    assert [post(setup, to_version=f"5.3.{i}").status_code for i in range(3)] == [202, 202, 429]
    assert post(setup, to_version="5.3.3").headers["Retry-After"] == "1"
    now[0] = 7_200.0
    assert post(setup, to_version="5.3.4").status_code == 202


def test_reports_wait_in_the_buffer_until_a_flush(make_app):
    setup = Setup(make_app(upgrade_reports_flush_seconds=5))
    recorder = setup.app.extensions["livery.reports"]
    for i in range(10):
        assert post(setup, install_id=f"install-{i}").status_code == 202
    assert recorder.pending() == 10 and rows(setup.app) == []
    recorder.close()  # what gunicorn's worker_exit does
    assert recorder.pending() == 0 and len(rows(setup.app)) == 10


def test_a_full_buffer_is_written_at_once(make_app):
    setup = Setup(make_app(upgrade_reports_flush_seconds=5, upgrade_reports_max_pending=10))
    for i in range(10):
        assert post(setup, install_id=f"install-{i}").status_code == 202
    assert len(rows(setup.app)) == 10
    setup.app.extensions["livery.reports"].close()


def test_an_operator_erases_one_installs_reports(setup):
    for outcome in ("started", "failed"):
        assert post(setup, outcome=outcome).status_code == 202
    assert post(setup, install_id="install-2").status_code == 202
    runner = setup.app.test_cli_runner()
    result = runner.invoke(args=["upgrades", "forget-install", "--partner", "acme", "install-1"])
    assert result.exit_code == 0 and "deleted 2 install reports" in result.output
    assert [r.install_id for r in rows(setup.app)] == ["install-2"]
    assert minute_total(setup.app) == 3  # the counts name no install and stay


def test_the_scheduler_command_runs_one_pass(setup):
    result = setup.app.test_cli_runner().invoke(args=["upgrades", "run-scheduled"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"plans": [], "webhooks": {"delivered": 0, "retrying": 0}, "reports_pruned": 0}
