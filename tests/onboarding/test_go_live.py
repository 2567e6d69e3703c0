"""Onboarding to go-live through HTTP: readiness checks, the go-live gate, live codes before and after."""

from __future__ import annotations

import json
import threading
import time

import pytest

from app.onboarding.readiness import BrandFacts, ReadinessFacts, readiness_checks
from tests import factories
from tests.api.admin.conftest import make_operator, onboard
from tests.api.public.parity import both
from tests.api.public.test_fast_licences import _flask_calls
from tests.upgrades.catalogue import add_release, control_file, upload_control_file

CHECKS = ["brand_published", "licensing_configured", "upgrade_channels", "signing_keys_published", "test_code_launched"]


def _readiness(operator, partner_id) -> dict[str, bool]:
    response = operator.get(f"/partners/{partner_id}/readiness")
    assert response.status_code == 200, response.json
    assert [c["name"] for c in response.json["checks"]] == CHECKS
    assert all(c["why"] for c in response.json["checks"])
    return {c["name"]: c["passed"] for c in response.json["checks"]}


def _go_live(operator, partner_id):
    current = operator.get(f"/partners/{partner_id}")
    return operator.patch(f"/partners/{partner_id}", {"status": "live"}, etag=current.headers["ETag"])


def _launch(app, client, code: str):
    response = client.get(f"/v1/discovery/{code}")
    # the launch writer records it moments after the answer; waiting for it here keeps this test's
    # one database connection (PostgreSQL runs each test in a transaction) to one thread at a time
    app.extensions["livery.public"].flush_launches()
    return response


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_live_codes_refused_until_readiness_passes_and_go_live(make_app, db):
    app = make_app(db=db)
    client = app.test_client()
    operator = make_operator(app)
    partner = onboard(operator, "newco", live=False)
    assert operator.get(f"/partners/{partner.id}").json["status"] == "onboarding"

    # nothing done: every check fails, go-live is refused with the failing checks
    assert _readiness(operator, partner.id) == {name: name == "signing_keys_published" for name in CHECKS}
    refused = _go_live(operator, partner.id)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.json["code"] == "partner_not_ready"
    assert [f["name"] for f in refused.json["failing"]] == [n for n in CHECKS if n != "signing_keys_published"]

    # a brand, published, with a live and a test code
    brand = partner.admin.post("/brands", {"name": "NewCo CRM", "draft": {"product_name": "NewCo CRM"}})
    assert brand.status_code == 201, brand.json
    brand_id = brand.json["id"]
    assert (
        partner.admin.post(f"/brands/{brand_id}/publish", headers={"If-Match": brand.headers["ETag"]}).status_code
        == 201
    )
    live_code = partner.admin.post(f"/brands/{brand_id}/access-codes", {"kind": "live"}).json["code"]
    test_code = partner.admin.post(f"/brands/{brand_id}/access-codes", {"kind": "test"}).json["code"]
    checks = _readiness(operator, partner.id)
    assert checks["brand_published"] and checks["licensing_configured"]
    assert not checks["upgrade_channels"] and not checks["test_code_launched"]

    # before go-live: live codes answer 403 partner_not_live on discovery and upgrade, on both paths alike
    for path, query in (
        (f"/v1/discovery/{live_code}", ""),
        (f"/v1/upgrade/{live_code}", "platform=windows-x64&version=5.0.0"),
    ):
        fast, flask = both(app, path, query)
        assert fast == flask, path
        assert fast[0].startswith("403") and b'"partner_not_live"' in fast[2]
    body = json.dumps({"access_code": live_code, "user_id": "anna@example.com", "install_id": "i"}).encode()
    whole, flask, calls = _flask_calls(app, body)  # the licence check, through the same core
    assert calls == 0 and whole == flask and whole[0].startswith("403") and b'"partner_not_live"' in whole[2]
    # test codes work throughout
    assert _launch(app, client, test_code).status_code == 200
    assert _readiness(operator, partner.id)["test_code_launched"]

    # the upgrade channel: a valid active control file passes (halting it would too: upgrades off)
    add_release(partner.admin, "5.2.0")
    assert upload_control_file(partner.admin, control_file(("5.2.0", 100))).status_code == 201
    assert all(_readiness(operator, partner.id).values())

    went = _go_live(operator, partner.id)
    assert went.status_code == 200 and went.json["status"] == "live"
    assert client.get(f"/v1/discovery/{live_code}").status_code == 200
    fast, flask = both(app, f"/v1/upgrade/{live_code}", "platform=windows-x64&version=5.0.0")
    assert fast == flask and fast[0].startswith("200")


def test_each_check_names_what_is_missing(app):
    operator = make_operator(app)
    partner = onboard(operator, "webco", live=False)
    brand = partner.admin.post("/brands", {"name": "Web", "draft": {"product_name": "Web"}})
    partner.admin.post(f"/brands/{brand.json['id']}/publish", headers={"If-Match": brand.headers["ETag"]})
    checks = {c["name"]: c for c in operator.get(f"/partners/{partner.id}/readiness").json["checks"]}
    assert checks["licensing_configured"]["passed"] and "portal" in checks["licensing_configured"]["why"]
    assert "stable" in checks["upgrade_channels"]["why"]
    # an active control file on the brand's channel passes
    add_release(partner.admin, "5.2.0")
    assert upload_control_file(partner.admin, control_file(("5.2.0", 100))).status_code == 201
    checks = {c["name"]: c for c in operator.get(f"/partners/{partner.id}/readiness").json["checks"]}
    assert checks["upgrade_channels"]["passed"]
    # the partner reads its own readiness; another partner's is 404
    assert partner.viewer.get(f"/partners/{partner.id}/readiness").status_code == 200
    other = onboard(operator, "otherco")
    assert other.admin.get(f"/partners/{partner.id}/readiness").status_code == 404


def test_a_web_service_brand_needs_the_last_verification_passed():
    """Publishing web_service already needs a passed verification; a later failed one fails readiness."""
    brand = BrandFacts("Web", True, "web_service", "stable", True, False)
    failed = ReadinessFacts((brand,), web_service_verified=False, signing_keys=1, test_launched=True)
    check = next(c for c in readiness_checks(failed) if c.name == "licensing_configured")
    assert not check.passed and "verification" in check.why
    passed = ReadinessFacts((brand,), web_service_verified=True, signing_keys=1, test_launched=True)
    assert all(c.passed for c in readiness_checks(passed))


def _test_code(operator, name: str) -> tuple:
    partner = onboard(operator, name, live=False)
    brand_id = partner.admin.post("/brands", {"name": name, "draft": {"product_name": name}}).json["id"]
    return partner, partner.admin.post(f"/brands/{brand_id}/access-codes", {"kind": "test"}).json["code"]


def test_a_test_launch_is_answered_without_waiting_for_its_write(app, monkeypatch):
    """The launch is written by the worker's launch writer after the answer: a slow database write
    (many test codes launching at once) never holds a discovery answer."""
    import app.api.public.cache as cache

    operator = make_operator(app)
    partner, code = _test_code(operator, "quickco")
    record, writing, release = cache.record_test_launches, threading.Event(), threading.Event()

    def slow_record(*args):
        writing.set()
        release.wait(10)
        return record(*args)

    monkeypatch.setattr(cache, "record_test_launches", slow_record)
    answered: list[int] = []
    request = threading.Thread(
        target=lambda: answered.append(app.test_client().get(f"/v1/discovery/{code}").status_code)
    )
    request.start()
    request.join(5)
    assert answered == [200] and writing.wait(5)  # answered while its launch is still being written
    assert not _readiness(operator, partner.id)["test_code_launched"]
    release.set()
    deadline = time.monotonic() + 5  # no other request, no poll: the writer finishes on its own
    while not _readiness(operator, partner.id)["test_code_launched"]:
        assert time.monotonic() < deadline, "the launch was never written"
        time.sleep(0.01)


def test_a_test_launch_whose_write_fails_waits_for_the_next_poll(app, monkeypatch):
    """The first sight of a test code queues its launch; when the write fails, the next poll writes it."""
    import app.api.public.cache as cache

    operator = make_operator(app)
    partner, first = _test_code(operator, "slowco")
    public = app.extensions["livery.public"]
    record, tried = cache.record_test_launches, threading.Event()

    def failing(*args):
        tried.set()
        raise RuntimeError("down")

    monkeypatch.setattr(cache, "record_test_launches", failing)
    client = app.test_client()
    failed = client.get(f"/v1/discovery/{first}")
    assert failed.status_code == 200  # never fails the answer
    assert tried.wait(5) and not _readiness(operator, partner.id)["test_code_launched"]
    monkeypatch.setattr(cache, "record_test_launches", record)
    again = client.get(f"/v1/discovery/{first}")
    assert again.data == failed.data and not _readiness(operator, partner.id)["test_code_launched"]  # a set lookup
    public.flush_launches()  # as the next freshness poll does
    assert _readiness(operator, partner.id)["test_code_launched"]


def test_live_code_of_a_partner_made_live_by_the_factory_answers(app):
    """The factories make partners live (so other tests need no onboarding); their live codes answer."""
    partner_id = factories.make_partner(app, "oldco")
    code = factories.issue(app, factories.make_brand(app, partner_id), kind="live")
    assert app.test_client().get(f"/v1/discovery/{code}").status_code == 200
    factories.set_status(app, partner_id, "suspended")
    assert app.test_client().get(f"/v1/discovery/{code}").status_code == 410  # suspension still wins
