"""POST /v1/upgrade/{code}/reports with a batch ({"reports": [...]}): accepted as a whole and counted
in the channel's health, idempotent with single reports, refused as a whole (a bad item named by
its index, too many items, the per-install cap counted per report), codes refused like discovery."""

from __future__ import annotations

import json

import pytest

from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file
from tests.upgrades.test_install_reports import REPORT, minute_total, post, rows


def item(**changes) -> dict:
    return {**REPORT, **changes}


def batch(setup: Setup, reports: list, code: str | None = None, **extra):
    return post(setup, body=json.dumps({"reports": reports, **extra}), code=code)


def releases(setup: Setup) -> list[dict]:
    response = setup.admin.get("/channels/stable/health")
    assert response.status_code == 200, response.json
    return response.json["releases"]


@pytest.fixture
def setup(make_app) -> Setup:
    setup = Setup(make_app(upgrade_reports_flush_seconds=0))  # write-through: written before the 202
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    return setup


def test_a_batch_is_accepted_and_counted_in_the_channels_health(setup):
    reports = [item(install_id=f"i-{n}", outcome="started") for n in range(3)]
    reports += [item(install_id="i-0"), item(install_id="i-1", outcome="failed", error_code="MSI-1603")]
    response = batch(setup, reports)
    assert response.status_code == 202
    assert response.json == {"accepted": True, "reports": 5}
    assert response.headers["Cache-Control"] == "no-store"
    (health,) = releases(setup)
    assert (health["version"], health["started"], health["succeeded"], health["failed"]) == ("5.3.0", 3, 1, 1)
    assert {(r.install_id, r.outcome, r.error_code) for r in rows(setup.app)} == {
        ("i-0", "started", None),
        ("i-1", "started", None),
        ("i-2", "started", None),
        ("i-0", "succeeded", None),
        ("i-1", "failed", "MSI-1603"),
    }


def test_a_batch_of_one_answers_as_a_batch(setup):
    response = batch(setup, [item()])
    assert (response.status_code, response.json) == (202, {"accepted": True, "reports": 1})


def test_repeats_count_once_across_single_reports_and_batches(setup):
    assert post(setup).status_code == 202  # install-1 succeeded, sent alone
    response = batch(setup, [item(), item(outcome="started"), item(outcome="started")])
    assert (response.status_code, response.json) == (202, {"accepted": True, "reports": 3})
    assert batch(setup, [item(outcome="started"), item()]).status_code == 202  # the whole outbox again
    assert post(setup, outcome="started").status_code == 202
    assert sorted(r.outcome for r in rows(setup.app)) == ["started", "succeeded"]
    assert minute_total(setup.app) == 2
    (health,) = releases(setup)
    assert (health["started"], health["succeeded"]) == (1, 1)


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"outcome": "exploded"}, ["reports.1.outcome"]),
        ({"platform": "amiga", "serial": -1}, ["reports.1.platform", "reports.1.serial"]),
        ({"colour": "red"}, ["reports.1.colour"]),
    ],
)
def test_one_bad_item_refuses_the_whole_batch_naming_its_index(setup, bad, names):
    response = batch(setup, [item(install_id="ok-1"), item(**bad), item(install_id="ok-2")])
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "validation_failed"
    assert sorted(response.json["errors"]) == names
    assert names[0] in response.json["detail"]
    assert rows(setup.app) == [] and minute_total(setup.app) == 0


def test_every_bad_item_is_named(setup):
    response = batch(setup, [item(outcome="x"), "not a report", item(), 7])
    assert response.status_code == 422
    assert sorted(response.json["errors"]) == ["reports.0.outcome", "reports.1", "reports.3"]
    assert rows(setup.app) == []


@pytest.mark.parametrize(
    "body",
    [{"reports": []}, {"reports": {"install_id": "x"}}, {"reports": None}, {"reports": [REPORT], "extra": 1}],
    ids=["empty", "object", "null", "extra-member"],
)
def test_a_batch_of_the_wrong_shape_is_422(setup, body):
    response = post(setup, body=json.dumps(body))
    assert response.status_code == 422
    assert set(response.json["errors"]) & {"reports", "extra"}
    assert rows(setup.app) == []


def test_a_batch_over_20_reports_is_refused_whole(setup):
    response = batch(setup, [item(install_id=f"i-{n}") for n in range(21)])
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "batch_too_large"
    assert "20" in response.json["detail"]
    assert rows(setup.app) == []
    assert batch(setup, [item(install_id=f"i-{n}") for n in range(20)]).status_code == 202
    assert len(rows(setup.app)) == 20


def test_a_batch_body_over_32_kib_is_413_and_one_report_keeps_its_4_kib(setup):
    padded = json.dumps({"reports": [item()]}) + " " * (32 * 1024)
    response = post(setup, body=padded)
    assert (response.status_code, response.json["code"]) == (413, "payload_too_large")
    single = json.dumps(REPORT) + " " * 4096  # valid, but over one report's limit
    response = post(setup, body=single)
    assert (response.status_code, response.json["code"]) == (413, "payload_too_large")
    # the same report in a batch of its own is within the batch's limit
    assert post(setup, body=json.dumps({"reports": [REPORT]}) + " " * 4096).status_code == 202
    assert len(rows(setup.app)) == 1


def test_the_per_install_cap_counts_reports_not_requests(make_app):
    setup = Setup(make_app(upgrade_reports_flush_seconds=0, upgrade_reports_per_install_hour=5))
    six = [item(to_version=f"5.3.{n}") for n in range(6)]
    response = batch(setup, six)
    assert response.status_code == 429 and response.json["code"] == "too_many_reports"
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert rows(setup.app) == []  # refused before any was counted or stored
    assert batch(setup, [*six[:4], six[0]]).status_code == 202  # 4 distinct (a repeat inside is free)
    assert batch(setup, six[4:]).status_code == 429  # 2 more would make 6
    assert post(setup, to_version="5.3.4").status_code == 202  # the fifth
    assert post(setup, to_version="5.3.5").status_code == 429
    others = [item(install_id=f"other-{n}") for n in range(5)]  # other installs are not affected
    assert batch(setup, others).status_code == 202
    assert len(rows(setup.app)) == 10


def test_a_batch_with_a_capped_install_is_refused_whole(make_app):
    setup = Setup(make_app(upgrade_reports_flush_seconds=0, upgrade_reports_per_install_hour=2))
    assert batch(setup, [item(to_version="5.3.0"), item(to_version="5.3.1")]).status_code == 202
    response = batch(setup, [item(install_id="fresh"), item(to_version="5.3.2")])
    assert response.status_code == 429
    assert [r.install_id for r in rows(setup.app)] == ["install-1", "install-1"]


def test_unknown_codes_answer_batches_like_discovery(setup):
    for code in ("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", "not a code"):
        response = batch(setup, [item()], code=code)
        assert response.status_code == 404
        assert response.json == setup.client.get(f"/v1/discovery/{code}").json
    assert rows(setup.app) == []
