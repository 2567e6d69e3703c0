"""Go-live verification through the admin API (SQLite and PostgreSQL) against a loopback partner."""

from __future__ import annotations

import time

from app.config import Settings
from app.db import session
from app.licensing.webservice.caller import PartnerCaller
from app.licensing.webservice.contract import WebServiceSettings
from app.licensing.webservice.services import KEPT_PER_PARTNER, last_verification_passed
from app.licensing.webservice.verification import p95, verify_web_service
from app.outbound.egress import EgressPolicy
from app.outbound.signing import new_secret
from tests.api.admin.conftest import onboard


def checks_of(report: dict) -> dict[str, bool]:
    return {check["name"]: check["passed"] for check in report["checks"]}


def test_a_conforming_service_passes_and_the_result_is_stored(verify_app, operator, configure, partner):
    acme = onboard(operator, "acme")
    configure(acme.id, partner.url_template)
    response = acme.admin.post(f"/partners/{acme.id}/licensing/verify", {"known_user_id": "alice@example.com"})
    assert response.status_code == 200, response.json
    report = response.json
    assert report["passed"] is True, report
    assert checks_of(report) == dict.fromkeys(
        ["tls", "known_user", "unknown_user", "odd_ids", "latency", "answer_shape"], True
    )
    assert report["calls"] == 1 + 1 + 4 + 20 and report["p95_ms"] < 1000
    latency = next(c for c in report["checks"] if c["name"] == "latency")
    assert len(latency["latencies_ms"]) == 20
    assert "alice" not in str(report).lower()  # the known user's id is not stored
    again = acme.viewer.get(f"/partners/{acme.id}/licensing/verify")
    assert again.status_code == 200 and again.json == report
    with verify_app.app_context():
        assert last_verification_passed(session(), acme.id) is True
    paths = [r["path"] for r in partner.requests]
    assert "/licences/zo%C3%AB.%E5%90%8D%E5%89%8D-livery%40%E4%BE%8B%E3%81%88.jp" in paths
    assert "/licences/dept%2Fteam%2Flivery-verify" in paths


def test_a_service_that_breaks_the_contract_fails_and_blocks(verify_app, operator, configure, partner):
    acme = onboard(operator, "acme")
    configure(acme.id, partner.url_template)
    partner.mode = "raw_echo"  # forgets to percent-decode the id
    report = acme.admin.post(f"/partners/{acme.id}/licensing/verify", {"known_user_id": "nobody"}).json
    assert report["passed"] is False
    results = checks_of(report)
    assert results["known_user"] is False and results["odd_ids"] is False and results["answer_shape"] is False
    assert results["unknown_user"] is True and results["tls"] is True
    with verify_app.app_context():
        assert last_verification_passed(session(), acme.id) is False
    partner.mode = "not_found"  # "not licensed" as 404 is not the contract
    report = acme.admin.post(f"/partners/{acme.id}/licensing/verify", {"known_user_id": "alice@example.com"}).json
    assert checks_of(report)["unknown_user"] is False
    assert "HTTP 404" in next(c["detail"] for c in report["checks"] if c["name"] == "unknown_user")


def test_a_slow_service_fails_latency_without_making_all_twenty_calls(verify_app, operator, configure, partner):
    acme = onboard(operator, "acme")
    configure(acme.id, partner.url_template)
    partner.slow_users, partner.delay = {"alice@example.com"}, 1.05
    started = time.monotonic()
    report = acme.admin.post(f"/partners/{acme.id}/licensing/verify", {"known_user_id": "alice@example.com"}).json
    assert time.monotonic() - started < 6
    latency = next(c for c in report["checks"] if c["name"] == "latency")
    assert latency["passed"] is False and len(latency["latencies_ms"]) == 2 and "p95" in latency["detail"]
    assert report["passed"] is False


def test_only_the_last_runs_are_kept_and_the_latest_decides(verify_app, operator, configure, partner):
    acme = onboard(operator, "acme")
    configure(acme.id, partner.url_template)
    partner.mode = "garbage"
    for _ in range(KEPT_PER_PARTNER + 1):
        assert acme.admin.post(f"/partners/{acme.id}/licensing/verify", {"known_user_id": "x"}).json["passed"] is False
    partner.mode = "ok"
    assert acme.admin.post(f"/partners/{acme.id}/licensing/verify", {"known_user_id": "alice@example.com"}).json[
        "passed"
    ]
    with verify_app.app_context():
        from sqlalchemy import func, select

        from app.licensing.webservice.models import LicensingVerification

        assert session().scalar(select(func.count()).select_from(LicensingVerification)) == KEPT_PER_PARTNER
        assert last_verification_passed(session(), acme.id) is True


def test_scoping_roles_and_bad_input(verify_app, operator, configure, partner):
    acme, other = onboard(operator, "acme"), onboard(operator, "other")
    configure(acme.id, partner.url_template)
    body = {"known_user_id": "alice@example.com"}
    assert other.admin.post(f"/partners/{acme.id}/licensing/verify", body).status_code == 404
    assert other.admin.get(f"/partners/{acme.id}/licensing/verify").status_code == 404
    assert acme.viewer.post(f"/partners/{acme.id}/licensing/verify", body).status_code == 403
    assert acme.admin.get(f"/partners/{acme.id}/licensing/verify").status_code == 404  # never ran
    for bad in ({}, {"known_user_id": ""}, {"known_user_id": "x" * 257}, {"known_user_id": 5}):
        response = acme.admin.post(f"/partners/{acme.id}/licensing/verify", bad)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        assert "known_user_id" in response.json["errors"]
    response = other.admin.post(f"/partners/{other.id}/licensing/verify", body)  # nothing configured
    assert response.status_code == 409 and response.json["code"] == "licensing_not_configured"
    assert operator.post(f"/partners/{acme.id}/licensing/verify", body).json["passed"] is True


def test_plain_http_fails_tls_when_private_egress_is_off(partner):
    caller = PartnerCaller(EgressPolicy(allow_private=False))
    settings = WebServiceSettings.from_mapping(1, {"url_template": partner.url_template, "secrets": [new_secret()]})
    report = verify_web_service(caller, settings, "alice@example.com")
    assert report["passed"] is False and checks_of(report)["tls"] is False
    assert partner.requests == []


def test_the_run_stays_within_its_budget(partner):
    partner.mode = "hang"
    caller = PartnerCaller(EgressPolicy(allow_private=True), timeout=Settings().licensing_timeout)
    settings = WebServiceSettings.from_mapping(1, {"url_template": partner.url_template, "secrets": [new_secret()]})
    started = time.monotonic()
    report = verify_web_service(caller, settings, "alice@example.com", budget=3)
    assert time.monotonic() - started < 3.5
    assert report["passed"] is False and "ran out of time" in str(report)


def test_p95_is_the_nearest_rank():
    assert p95(list(range(1, 21))) == 19
    assert p95([5]) == 5
