"""Install reports from the reference client: sent around download/install, queued on disk and
sent again later when the service is unreachable or busy; the CLI's ``report`` command."""

from __future__ import annotations

import json

import pytest
from conftest import CODE
from livery_client.cli.main import main
from livery_client.reports import queue_report


def test_download_reports_started_and_the_app_reports_the_outcome(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    client.download(decision, tmp_path / "dl")
    counts = client.report_install(decision, "succeeded")
    assert counts == {"sent": 1, "dropped": 0, "pending": 0}
    install_id = client.install_id()
    assert livery.reports == [
        {
            "install_id": install_id,
            "from_version": "5.2.0",
            "to_version": "5.3.0",
            "platform": "windows-x64",
            "outcome": outcome,
            "serial": 5,
        }
        for outcome in ("started", "succeeded")
    ]
    assert livery.hits(f"/v1/upgrade/{client.access_code}/reports")


def test_a_failed_download_is_reported_failed(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    livery.truncate_at = 1000
    with pytest.raises(Exception):  # noqa: B017 (the download's own error; what matters is the report)
        client.download(decision, tmp_path / "dl")
    assert [(r["outcome"], r.get("error_code")) for r in livery.reports] == [("started", None), ("failed", "download")]


def test_reports_wait_while_the_service_is_unreachable_and_go_later(livery, make_client):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    livery.report_status = 503
    assert client.report_install(decision, "failed", error_code="MSI-1603")["pending"] == 1
    livery.report_status = 429
    assert client.report_install(decision, "rolled_back")["pending"] == 2
    assert livery.reports == []
    livery.report_status = 202
    assert client.send_reports() == {"sent": 2, "dropped": 0, "pending": 0}
    assert [(r["outcome"], r.get("error_code")) for r in livery.reports] == [
        ("failed", "MSI-1603"),
        ("rolled_back", None),
    ]
    assert client.cache.load_reports() == []


def test_a_report_refused_for_good_is_dropped_and_repeats_are_queued_once(livery, make_client):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    livery.report_status = 503
    for _ in range(3):
        client.report_install(decision, "succeeded")
    assert len(client.cache.load_reports()) == 1
    livery.report_status = 422
    assert client.send_reports() == {"sent": 0, "dropped": 1, "pending": 0}


def test_offline_reports_survive_a_restart(livery, make_client):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    livery.stop()
    assert client.report_install(decision, "succeeded")["pending"] == 1
    again = make_client()  # a new process on the same cache folder
    assert again.cache.load_reports()[0]["outcome"] == "succeeded"


def test_cli_report_and_send_pending(livery, cache_dir, capsys):
    base = ["--base-url", livery.base_url, "--code", CODE, "--cache-dir", str(cache_dir)]
    args = ["report", "--from", "5.2.0", "--to", "5.3.0", "--platform", "windows-x64", "--outcome", "failed"]
    livery.report_status = 503
    assert main([*base, *args, "--serial", "5", "--error-code", "MSI-1603"]) == 0
    assert "1 waiting" in capsys.readouterr().out
    livery.report_status = 202
    assert main([*base, "report", "--send-pending", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sent": 1, "dropped": 0, "pending": 0}
    assert livery.reports[0]["error_code"] == "MSI-1603" and livery.reports[0]["serial"] == 5
    assert main([*base, "report", "--to", "5.3.0"]) == 2  # usage: what is missing is named
    assert "--from" in capsys.readouterr().err


def _outbox_of(client, livery, count: int, outcome: str = "failed") -> None:
    """``count`` reports queued while the service answered 503 (an outage)."""
    livery.report_status = 503
    for n in range(count):
        report = {**_report(client), "to_version": f"5.3.{n}", "outcome": outcome}
        queue_report(client.cache, report)
    livery.report_status = 202


def _report(client) -> dict:
    return {"install_id": client.install_id(), "from_version": "5.2.0", "to_version": "5.3.0",
            "platform": "windows-x64", "outcome": "succeeded", "serial": 5}  # fmt: skip


def _report_posts(livery) -> list:
    # (the fake records a POST's JSON body where a GET's query goes)
    return [r.query for r in livery.requests if r.method == "POST" and r.path.endswith("/reports")]


def test_an_outbox_is_flushed_in_batches_of_20(livery, make_client):
    client = make_client()
    _outbox_of(client, livery, 45)
    assert client.send_reports() == {"sent": 45, "dropped": 0, "pending": 0}
    posts = _report_posts(livery)
    assert [len(body["reports"]) for body in posts] == [20, 20, 5]
    assert [r["to_version"] for r in livery.reports] == [f"5.3.{n}" for n in range(45)]  # in order
    assert client.cache.load_reports() == []


def test_reports_sent_as_they_happen_go_one_by_one(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    client.download(decision, tmp_path / "dl")
    client.report_install(decision, "succeeded")
    assert [sorted(body) for body in _report_posts(livery)] == [sorted(_report(client))] * 2  # no batch of one
    assert [r["outcome"] for r in livery.reports] == ["started", "succeeded"]


def test_an_older_livery_gets_each_report_alone(livery, make_client):
    client = make_client()
    livery.report_batches = False  # it answers a batch 422, like a Livery before batches
    _outbox_of(client, livery, 25)
    assert client.send_reports() == {"sent": 25, "dropped": 0, "pending": 0}
    posts = _report_posts(livery)
    assert ["reports" in body for body in posts] == [True] + [False] * 20 + [True] + [False] * 5
    assert [r["to_version"] for r in livery.reports] == [f"5.3.{n}" for n in range(25)]


@pytest.mark.parametrize("status", [400, 404, 405, 413, 415])
def test_other_refusals_of_the_batch_form_fall_back_too(livery, make_client, status):
    client = make_client()
    _outbox_of(client, livery, 3)
    livery.report_status = status
    counts = client.send_reports()
    final = status in (400, 404, 413)  # each report alone is refused for good too: dropped, as before
    assert counts == ({"sent": 0, "dropped": 3, "pending": 0} if final else {"sent": 0, "dropped": 0, "pending": 3})
    assert ["reports" in body for body in _report_posts(livery)] == [True, False, False, False][: 4 if final else 2]


def test_one_bad_report_in_a_batch_is_dropped_and_the_others_are_sent(livery, make_client):
    client = make_client()
    _outbox_of(client, livery, 4)
    livery.report_invalid = lambda report: report["to_version"] == "5.3.1"
    assert client.send_reports() == {"sent": 3, "dropped": 1, "pending": 0}
    assert [r["to_version"] for r in livery.reports] == ["5.3.0", "5.3.2", "5.3.3"]


@pytest.mark.parametrize("status", [429, 503])
def test_a_batch_the_service_cannot_take_now_stays_in_the_outbox(livery, make_client, status):
    client = make_client()
    _outbox_of(client, livery, 25)
    livery.report_status = status
    assert client.send_reports() == {"sent": 0, "dropped": 0, "pending": 25}
    assert len(_report_posts(livery)) == 1  # no fallback to single reports, no second batch
    livery.report_status = 202
    assert client.send_reports() == {"sent": 25, "dropped": 0, "pending": 0}


def test_a_batch_is_kept_when_the_network_fails(livery, make_client):
    client = make_client()
    _outbox_of(client, livery, 5)
    livery.stop()
    assert client.send_reports() == {"sent": 0, "dropped": 0, "pending": 5}
    assert len(client.cache.load_reports()) == 5
