"""Licence checks below Flask (fast.py) answer with the same status, header list and bytes as the
Flask route for 200, 404 and 410, and hand everything else to Flask with the body intact; the
request log names them as Flask does."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.api.public.fast import FastPublicPath
from app.observability import REQUEST_LOGGER, ObservedRequests
from tests import factories
from tests.api.public.parity import fast_path
from tests.licensing.world import CHECK, LicensingWorld


def _run(wsgi, body: bytes):
    environ = EnvironBuilder(path=CHECK, method="POST", data=body, content_type="application/json").get_environ()
    app_iter, status, headers = run_wsgi_app(wsgi, environ)
    data = b"".join(app_iter)
    if hasattr(app_iter, "close"):
        app_iter.close()
    return status, list(headers.to_wsgi_list()), data


def _flask_calls(app, body: bytes):
    """(whole app's answer, Flask's own answer, how many times the fast path called Flask)."""
    fast: FastPublicPath = fast_path(app)  # under the request observer
    flask_app = fast.wsgi_app
    calls = []

    def counting(environ, start_response):
        calls.append(1)
        return flask_app(environ, start_response)

    fast.wsgi_app = counting
    try:
        whole = _run(fast, body)
    finally:
        fast.wsgi_app = flask_app
    return whole, _run(flask_app, body), len(calls)


@pytest.fixture
def world(app) -> LicensingWorld:
    world = LicensingWorld(app)
    world.license("anna@example.com")
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    app.extensions["livery.licensing"].clock = lambda: moment  # Ed25519 is deterministic: same bytes
    return world


def _body(world, **fields) -> bytes:
    return json.dumps({"access_code": world.code, "user_id": "anna@example.com", "install_id": "i", **fields}).encode()


@pytest.mark.parametrize("user_id", ["anna@example.com", "nobody@example.com"])
def test_answers_are_identical_and_flask_is_not_called(world, user_id):
    whole, flask, calls = _flask_calls(world.app, _body(world, user_id=user_id, nonce="n1"))
    assert calls == 0 and whole == flask and whole[0].startswith("200")


def test_404_and_410_are_identical(world):
    revoked = factories.issue(world.app, world.brand_id, "live")
    factories.revoke(world.app, revoked)
    for code, status in (("NOPE", "404"), (revoked, "410")):
        whole, flask, calls = _flask_calls(world.app, _body(world, access_code=code))
        assert calls == 0 and whole == flask and whole[0].startswith(status)


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", json.dumps({"access_code": "x", "user_id": ""}).encode()],
    ids=["malformed", "array", "invalid-field"],
)
def test_errors_are_left_to_flask_with_the_body_intact(world, body):
    whole, flask, calls = _flask_calls(world.app, body)
    assert calls == 1 and whole == flask and whole[0][:3] in ("400", "422")


def test_the_request_log_names_a_fast_check_as_flask_does(world, caplog):
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    fast: FastPublicPath = fast_path(world.app)
    for wsgi in (ObservedRequests(world.app, fast, log_requests=True),
                 ObservedRequests(world.app, fast.wsgi_app, log_requests=True)):  # fmt: skip
        _run(wsgi, _body(world))
    records = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    assert [(r.fields["route"], r.fields["status"]) for r in records] == [("public.check", 200)] * 2
