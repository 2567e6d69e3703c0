"""Install reports below Flask (fast.py), one or a batch, answer with the same status, header list and
bytes as the Flask route — accepted, refused (counted like discovery), capped per install — and hand every
other request to Flask with the body it sent; the request log names them as Flask does."""

from __future__ import annotations

import json
import logging

import pytest

from app.observability import REQUEST_LOGGER, ObservedRequests
from tests import factories
from tests.api.public.parity import both, declined, fast_path, run
from tests.api.public.test_upgrade import Setup
from tests.upgrades.test_install_reports import REPORT, rows


def _body(**changes) -> bytes:
    return json.dumps({**REPORT, **changes}).encode()


def _batch(*reports: dict) -> bytes:
    return json.dumps({"reports": [{**REPORT, **changes} for changes in reports]}).encode()


def _path(code: str) -> str:
    return f"/v1/upgrade/{code}/reports"


@pytest.fixture
def setup(make_app) -> Setup:
    # the flusher waits 5 s: a report sent twice (whole app, then Flask alone) stays one pending report
    return Setup(make_app(upgrade_reports_flush_seconds=5))


def test_an_accepted_report_is_identical_and_buffered_once(setup):
    fast, flask = both(setup.app, _path(setup.code), method="POST", data=_body())
    assert fast == flask
    assert fast[0] == "202 ACCEPTED" and fast[2] == b'{"accepted":true}'
    assert dict(fast[1])["Cache-Control"] == "no-store"
    recorder = setup.app.extensions["livery.reports"]
    assert recorder.pending() == 1  # Flask's repeat of the same report changed nothing
    recorder.close()
    assert [(r.install_id, r.channel, r.outcome) for r in rows(setup.app)] == [("install-1", "stable", "succeeded")]


def test_refused_codes_are_identical_to_flasks(setup):
    revoked = factories.issue(setup.app, setup.brand_id, "live")
    factories.revoke(setup.app, revoked)
    onboarding = factories.make_partner(setup.app, "newco", status="onboarding")
    not_live = factories.issue(setup.app, factories.make_brand(setup.app, onboarding), "live")
    for code, status in (("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", "404"), (revoked, "410"), (not_live, "403")):
        fast, flask = both(setup.app, _path(code), method="POST", data=_body())
        assert fast == flask, code
        assert fast[0].startswith(status) and fast[2] == setup.client.get(f"/v1/discovery/{code}").data
    assert setup.app.extensions["livery.reports"].pending() == 0


def test_unknown_codes_count_against_the_same_limit_as_discovery(make_app):
    setup = Setup(make_app(ratelimit_public_not_found="3 per minute"))
    assert both(setup.app, _path("NOPE-1"), method="POST", data=_body())[0][0].startswith("404")  # two counted
    assert both(setup.app, "/v1/discovery/NOPE-2")[0][0].startswith("404")  # the third (the fourth: Flask's)
    fast, flask = both(setup.app, _path("NOPE-3"), method="POST", data=_body())
    assert fast[0] == flask[0] == "429 TOO MANY REQUESTS"
    assert [name for name, _ in fast[1]] == [name for name, _ in flask[1]]
    assert json.loads(fast[2])["code"] == "too_many_requests"
    # a known code keeps being accepted from the same address
    assert both(setup.app, _path(setup.code), method="POST", data=_body())[0][0] == "202 ACCEPTED"


def test_the_per_install_cap_answers_flasks_429(make_app, monkeypatch):
    setup = Setup(make_app(upgrade_reports_flush_seconds=5, upgrade_reports_per_install_hour=2))
    recorder = setup.app.extensions["livery.reports"]
    monkeypatch.setattr(recorder, "_clock", lambda: 1_000.0)  # one instant: the same Retry-After on both paths
    for version in ("5.3.0", "5.3.1"):
        assert both(setup.app, _path(setup.code), method="POST", data=_body(to_version=version))[0][0].startswith("202")
    for _ in range(2):  # the second from the fast path's replies
        fast, flask = both(setup.app, _path(setup.code), method="POST", data=_body(to_version="5.3.2"))
        assert fast == flask
        assert fast[0].startswith("429") and dict(fast[1])["Retry-After"] == "2600"
        assert json.loads(fast[2])["code"] == "too_many_reports"
    assert both(setup.app, _path(setup.code), method="POST", data=_body(install_id="install-2"))[0][0].startswith("202")
    assert recorder.pending() == 3


def test_an_accepted_batch_is_identical_and_buffered_once(setup):
    data = _batch({"install_id": "install-1"}, {"install_id": "install-2"}, {"install_id": "install-2"})
    fast, flask = both(setup.app, _path(setup.code), method="POST", data=data)
    assert fast == flask
    assert fast[0] == "202 ACCEPTED" and json.loads(fast[2]) == {"accepted": True, "reports": 3}
    fast_one, flask_one = both(setup.app, _path(setup.code), method="POST", data=_batch({"install_id": "install-3"}))
    assert fast_one == flask_one and json.loads(fast_one[2]) == {"accepted": True, "reports": 1}
    assert both(setup.app, _path(setup.code), method="POST", data=_body())[0][2] == b'{"accepted":true}'
    recorder = setup.app.extensions["livery.reports"]
    assert recorder.pending() == 3
    recorder.close()
    assert sorted(r.install_id for r in rows(setup.app)) == ["install-1", "install-2", "install-3"]


def test_a_batch_over_the_per_install_cap_answers_flasks_429(make_app, monkeypatch):
    setup = Setup(make_app(upgrade_reports_flush_seconds=5, upgrade_reports_per_install_hour=2))
    recorder = setup.app.extensions["livery.reports"]
    monkeypatch.setattr(recorder, "_clock", lambda: 1_000.0)
    data = _batch({"to_version": "5.3.0"}, {"to_version": "5.3.1"}, {"to_version": "5.3.2"})
    fast, flask = both(setup.app, _path(setup.code), method="POST", data=data)
    assert fast == flask and fast[0].startswith("429")
    assert json.loads(fast[2])["code"] == "too_many_reports"
    assert recorder.pending() == 0


BIG = "x" * 5000


@pytest.mark.parametrize(
    ("data", "overrides", "status"),
    [
        (b"not json", None, "400"),
        (b"[1, 2]", None, "400"),
        (b"", None, "400"),
        (_body(platform="amiga"), None, "422"),  # the detail names the field: Flask read the body
        (_body(colour=BIG), None, "413"),
        (_batch({}, {"outcome": "exploded"}), None, "422"),  # the detail names reports.1.outcome
        (_batch(*[{"install_id": f"i-{n}"} for n in range(21)]), None, "413"),
        (_batch({}) + b" " * 32 * 1024, None, "413"),
        (_body(), {"CONTENT_LENGTH": ""}, "400"),  # no length (chunked): Flask reads nothing
        (_body(), {"CONTENT_LENGTH": "1_0"}, "400"),
        (_body(), {"CONTENT_LENGTH": str(len(_body()) + 10)}, "400"),  # fewer bytes came than announced
    ],
    ids=[
        "malformed",
        "array",
        "empty",
        "invalid-field",
        "oversized",
        "batch-invalid-item",
        "batch-of-21",
        "batch-oversized",
        "no-length",
        "odd-length",
        "short",
    ],
)
def test_what_the_fast_path_does_not_take_goes_to_flask_with_its_body(setup, data, overrides, status):
    whole, flask = declined(setup.app, _path(setup.code), "", "POST", data=data, overrides=overrides)
    assert whole == flask
    assert whole[0].startswith(status) and dict(whole[1])["Content-Type"] == "application/problem+json"
    assert setup.app.extensions["livery.reports"].pending() == 0


def test_the_request_log_names_the_route_and_the_partner_as_flask_does(setup, caplog):
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    fast = fast_path(setup.app)
    flask_only = ObservedRequests(setup.app, fast.wsgi_app, log_requests=True)
    whole = ObservedRequests(setup.app, fast, log_requests=True)
    sent = [(setup.code, _body()), ("NOPE", _body()), (setup.code, _body(platform="amiga"))]
    lines = {}
    for name, wsgi in (("whole", whole), ("flask", flask_only)):
        caplog.clear()
        for code, data in sent:
            run(wsgi, _path(code), method="POST", data=data)
        records = [r for r in caplog.records if r.name == REQUEST_LOGGER]
        lines[name] = [(r.fields["route"], r.fields["status"], r.fields["partner_id"]) for r in records]
    assert (
        lines["whole"]
        == lines["flask"]
        == [
            ("public.report", 202, setup.partner.id),
            ("public.report", 404, None),
            ("public.report", 422, setup.partner.id),
        ]
    )
