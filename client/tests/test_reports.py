"""Install reports from the reference client: sent around download/install, queued on disk and
sent again later when the service is unreachable or busy; the CLI's ``report`` command."""

from __future__ import annotations

import json

import pytest
from conftest import CODE
from livery_client.cli.main import main


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
