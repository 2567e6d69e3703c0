"""``POST /channels/{name}/control-files?dry_run=true``: the readiness report, and nothing changes.

Nothing: no channel created, no serial, no stored object, no audit event, no change announced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.admin.conftest import make_operator, onboard
from tests.upgrades.catalogue import add_release, control_file


@pytest.fixture
def partner(db_app):
    partner = onboard(make_operator(db_app), "acme")
    add_release(partner.admin, "5.2.0")
    return partner


def _dry_run(caller, document, channel="stable"):

    raw = json.dumps(document) if isinstance(document, dict) else document
    return caller.post(
        f"/channels/{channel}/control-files?dry_run=true", data=raw, headers={"Content-Type": "application/json"}
    )


def _state(db_app, caller) -> tuple:
    channels = caller.get("/channels").json["items"]
    events = caller.get("/audit-events").json["items"]
    stored = sorted(str(p) for p in Path(db_app.config["LIVERY"].control_files_dir).rglob("*") if p.is_file())
    return channels, [e["id"] for e in events], stored


def test_a_ready_file_is_reported_and_nothing_is_created(db_app, partner):
    admin = partner.admin
    before = _state(db_app, admin)
    report = _dry_run(admin, control_file(("5.2.0", 100)))
    assert report.status_code == 200, report.json
    assert report.json["ready"] is True and report.json["serial"] == 1 and report.json["problems"] == []
    assert report.json["active_serial"] is None
    assert report.json["control_file"]["releases"][0]["platforms"] == ["windows-x64"]
    assert _state(db_app, admin) == before
    assert admin.get("/channels/stable").status_code == 404  # not created by a dry run

    # the real upload afterwards gets the serial the report announced
    real = admin.post(
        "/channels/stable/control-files",
        data=json.dumps(control_file(("5.2.0", 100))),
        headers={"Content-Type": "application/json"},
    )
    assert real.status_code == 201 and real.json["serial"] == 1
    before = _state(db_app, admin)
    again = _dry_run(admin, control_file(("5.2.0", 50)))
    assert again.json["ready"] is True and again.json["serial"] == 2 and again.json["active_serial"] == 1
    assert _state(db_app, admin) == before
    assert admin.get("/channels/stable").json["active_serial"] == 1


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        pytest.param(control_file(("5.9.0", 100)), "releases[0].version", "unknown release 5.9.0", id="unknown"),
        pytest.param(b'{"schema_version": 1, "channel": ', "", "Malformed JSON", id="malformed-json"),
        pytest.param(control_file(("5.2.0", 100), channel="beta"), "channel", "not 'stable'", id="channel"),
    ],
)
def test_a_file_that_is_not_ready_is_reported_with_every_problem(db_app, partner, document, path, message):
    admin = partner.admin
    before = _state(db_app, admin)
    report = _dry_run(admin, document)
    assert report.status_code == 200, report.json
    assert report.json["ready"] is False and report.json["serial"] is None
    assert any(path in p["path"] and message in p["message"] for p in report.json["problems"]), report.json
    assert _state(db_app, admin) == before


def test_a_dry_run_needs_an_admin_key_and_a_valid_channel_name(db_app, partner):
    assert _dry_run(partner.viewer, control_file(("5.2.0", 100))).status_code == 403
    response = _dry_run(partner.admin, control_file(("5.2.0", 100)), channel="Not_A_Name")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    bad_flag = partner.admin.post("/channels/stable/control-files?dry_run=maybe", data="{}")
    assert bad_flag.status_code == 422 and bad_flag.mimetype == "application/problem+json"
