"""Throttling of failures per client address (app/throttling.py), in memory and on Redis.

Unknown codes on the public API and failed admin authentication are counted per address; beyond
the limit the answer is 429 problem+json with Retry-After, and the address is refused until the
window ends. Successful answers never reach the counters.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from app.throttling import client_address
from tests import factories
from tests.api.admin.conftest import make_operator
from tests.services import redis_unavailable_reason

REDIS_URL = "redis://127.0.0.1:6379/0"
STORAGES = [
    pytest.param("", id="memory"),
    pytest.param(REDIS_URL, id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=STORAGES)
def storage_url(request) -> str:
    if request.param.startswith("redis"):
        reason = redis_unavailable_reason(request.param)
        if reason:
            pytest.skip(reason)
    return request.param


def _address() -> str:
    # fresh per test: Redis keeps counters between runs
    return f"192.0.2.{uuid.uuid4().int % 250 + 1}/{uuid.uuid4().hex[:8]}"


def _get(client, path: str, address: str, **headers):
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address})


def _assert_too_many(response) -> None:
    assert response.status_code == 429, response.data[:200]
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "too_many_requests"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


@pytest.fixture
def public(make_app, storage_url):
    app = make_app(ratelimit_storage_url=storage_url, ratelimit_public_not_found="5 per minute")
    partner_id = factories.make_partner(app)
    code = factories.issue(app, factories.make_brand(app, partner_id), "live")
    return app, code


def test_unknown_codes_beyond_the_limit_are_429_for_that_address_only_and_known_codes_still_answer(public):
    app, code = public
    client = app.test_client()
    guesser, other = _address(), _address()
    for i in range(5):
        assert _get(client, f"/v1/discovery/NOPE-{i}", guesser).status_code == 404
    _assert_too_many(_get(client, "/v1/discovery/NOPE-5", guesser))
    _assert_too_many(_get(client, "/v1/upgrade/NOPE?platform=windows-x64&version=5.0&utm=x", guesser))
    # known codes keep answering from the same address (many desktops share one NAT address: one
    # misconfigured build among them must not stop the others), on the fast path and through Flask
    assert _get(client, f"/v1/discovery/{code}", guesser).status_code == 200
    assert _get(client, f"/v1/upgrade/{code}?platform=windows-x64&version=5.0&utm=x", guesser).status_code == 200
    # another address is untouched
    assert _get(client, f"/v1/discovery/{code}", other).status_code == 200
    assert _get(client, "/v1/discovery/NOPE", other).status_code == 404


def test_upgrade_polls_through_flask_count_too(public):
    app, _code = public
    client = app.test_client()
    guesser = _address()
    for i in range(5):  # an unknown parameter sends these to Flask instead of the fast path
        response = _get(client, f"/v1/upgrade/NOPE-{i}?platform=windows-x64&version=5.0&x=1", guesser)
        assert response.status_code == 404
    _assert_too_many(_get(client, "/v1/upgrade/NOPE?platform=windows-x64&version=5.0&x=1", guesser))


def test_successful_answers_never_touch_the_counters(public, monkeypatch):
    app, code = public
    throttle = app.extensions["livery.throttle"]
    hits = []
    original = throttle.strategy.hit
    monkeypatch.setattr(throttle.strategy, "hit", lambda *a: hits.append(a) or original(*a))
    client = app.test_client()
    address = _address()
    etag = _get(client, f"/v1/discovery/{code}", address).headers["ETag"]
    for _ in range(50):
        assert _get(client, f"/v1/discovery/{code}", address).status_code == 200
        assert _get(client, f"/v1/discovery/{code}", address, **{"If-None-Match": etag}).status_code == 304
        assert _get(client, f"/v1/upgrade/{code}?platform=windows-x64&version=5.0", address).status_code == 200
    assert hits == []
    _get(client, "/v1/discovery/NOPE", address)
    assert len(hits) == 1


def test_failed_admin_authentication_beyond_the_limit_is_429(make_app, storage_url):
    app = make_app(ratelimit_storage_url=storage_url, ratelimit_admin_auth="3 per minute")
    operator = make_operator(app)
    client = app.test_client()
    guesser, other = _address(), _address()
    wrong = {"Authorization": "Bearer lvk_wrong"}
    for headers in (wrong, {}, wrong):
        response = _get(client, "/admin/v1/partners", guesser, **headers)
        assert response.status_code == 401
    _assert_too_many(_get(client, "/admin/v1/partners", guesser, **wrong))
    # refused even with a good key until the window ends; other addresses are not affected
    _assert_too_many(_get(client, "/admin/v1/partners", guesser, Authorization=f"Bearer {operator.key}"))
    assert _get(client, "/admin/v1/partners", other, Authorization=f"Bearer {operator.key}").status_code == 200
    assert _get(client, "/admin/v1/partners", other, **wrong).status_code == 401


def test_good_keys_are_not_counted(make_app, storage_url):
    app = make_app(ratelimit_storage_url=storage_url, ratelimit_admin_auth="3 per minute")
    operator = make_operator(app)
    client = app.test_client()
    address = _address()
    for _ in range(10):
        assert _get(client, "/admin/v1/partners", address, Authorization=f"Bearer {operator.key}").status_code == 200


def test_forwarded_for_is_believed_only_for_the_configured_proxy_hops(make_app):
    app = make_app(ratelimit_admin_auth="2 per minute", trusted_proxy_hops=1)
    client = app.test_client()
    proxy = _address()
    for i in range(6):  # six clients behind our proxy: each has its own count
        headers = {"X-Forwarded-For": f"spoofed, 198.51.100.{i}"}
        assert _get(client, "/admin/v1/partners", proxy, **headers).status_code == 401
    assert client_address({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "a, b, c"}, 2) == "b"
    assert client_address({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "c"}, 2) == "10.0.0.1"
    assert client_address({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "c"}, 0) == "10.0.0.1"

    direct = make_app(ratelimit_admin_auth="2 per minute").test_client()  # no proxy trusted: the header is ignored
    for i in range(2):
        _get(direct, "/admin/v1/partners", proxy, **{"X-Forwarded-For": f"198.51.100.{i}"})
    _assert_too_many(_get(direct, "/admin/v1/partners", proxy, **{"X-Forwarded-For": "198.51.100.99"}))


def test_addresses_are_never_logged(make_app, caplog):
    app = make_app(ratelimit_admin_auth="1 per minute")
    client = app.test_client()
    address = "203.0.113.77"
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            _get(client, "/admin/v1/partners", address)
    assert "throttling admin_auth failures from address" in caplog.text
    assert address not in caplog.text


def test_an_unreachable_storage_lets_requests_through_quickly(make_app, caplog):
    app = make_app(ratelimit_storage_url="redis://127.0.0.1:1/0", ratelimit_admin_auth="1 per minute")
    client = app.test_client()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert _get(client, "/admin/v1/partners", _address()).status_code == 401
            assert _get(client, "/v1/discovery/NOPE", _address()).status_code == 404
    assert time.monotonic() - started < 5
    assert caplog.text.count("throttling storage unreachable") == 1  # once per outage, not per request


def test_refusals_are_counted_in_the_metrics(make_app):
    from app.metrics import THROTTLED

    app = make_app(ratelimit_admin_auth="1 per minute")
    client = app.test_client()
    before = THROTTLED.labels("admin_auth")._value.get()
    address = _address()
    for _ in range(4):  # one 401, then three 429s
        _get(client, "/admin/v1/partners", address)
    assert THROTTLED.labels("admin_auth")._value.get() - before == 3


def test_local_fixed_windows_count_like_limits_memory_storage(monkeypatch):
    from limits import parse

    from app import throttling

    now = [1000.0]
    windows = throttling.LocalFixedWindows(clock=lambda: now[0])
    limit = parse("3 per minute")
    assert [windows.hit(limit, "kind", "a") for _ in range(4)] == [True, True, True, False]
    assert windows.hit(limit, "kind", "b") and windows.hit(limit, "other", "a")  # per kind and address
    assert windows.get_window_stats(limit, "kind", "a") == (1060.0, 0)
    now[0] = 1059.9
    assert not windows.hit(limit, "kind", "a")
    now[0] = 1060.0  # the window opened at the first hit has ended: a new one opens
    assert windows.hit(limit, "kind", "a")
    assert windows.get_window_stats(limit, "kind", "a") == (1120.0, 2)
    monkeypatch.setattr(throttling, "MAX_WINDOWS", 3)
    for address in "cdefg":
        windows.hit(limit, "kind", address)
    assert len(windows._windows) <= 3  # bounded
