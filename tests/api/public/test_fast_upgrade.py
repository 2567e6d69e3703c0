"""The upgrade poll below Flask (fast.py) answers with the same status, header list and bytes as
the Flask route, for every outcome it takes on, and declines everything else to Flask."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from app.api.public.fast import plain_query
from tests import factories
from tests.api.public.parity import both, declined
from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file

QUERY = "platform=windows-x64&version={version}&install_id={install_id}"


@pytest.fixture
def setup(app) -> Setup:
    return Setup(app)


def _poll(setup: Setup, version: str = "5.1.0", install_id: str = "install-1") -> tuple[str, str]:
    return f"/v1/upgrade/{setup.code}", QUERY.format(version=version, install_id=install_id)


def test_not_configured_200_and_304_are_identical(setup):
    path, query = _poll(setup)
    fast, flask = both(setup.app, path, query)
    assert fast == flask
    assert fast[0] == "200 OK"
    header_names = [name for name, _ in fast[1]]
    for name in ("ETag", "Cache-Control", "X-Content-Type-Options", "X-Frame-Options", "Strict-Transport-Security"):
        assert name in header_names
    etag = dict(fast[1])["ETag"]
    fast, flask = both(setup.app, path, query, **{"If-None-Match": etag})
    assert fast == flask
    assert (fast[0], fast[2]) == ("304 NOT MODIFIED", b"")
    assert both(setup.app, path, query, **{"If-None-Match": f'W/{etag}, "other"'}) == (flask, flask)
    fast, flask = both(setup.app, path, query, method="HEAD")
    assert fast == flask


def test_offers_under_a_staged_rollout_are_identical_for_every_install(setup):
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    targets = set()
    for i in range(60):
        path, query = _poll(setup, install_id=f"install-{i:03d}")
        # alternate which side answers first: the memo is shared and must not matter
        fast, flask = both(setup.app, path, query) if i % 2 else reversed(both(setup.app, path, query))
        assert fast == flask
        targets.add(dict(fast[1])["ETag"])
    assert len(targets) == 2  # 5.3.0 for about a fifth, 5.2.0 for the rest
    for version in ("5.2.0", "5.3.0", "5.4.0", "4.0"):
        path, query = _poll(setup, version=version)
        fast, flask = both(setup.app, path, query)
        assert fast == flask


def test_a_repeat_poll_is_not_signed_again(setup, monkeypatch):
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    upgrades = setup.app.extensions["livery.upgrades"]
    signed = []
    original = upgrades.sign
    monkeypatch.setattr(upgrades, "sign", lambda payload: signed.append(payload) or original(payload))
    bodies = {setup.poll(install_id=f"i{i}").data for i in range(200)}
    assert len(bodies) == len(signed) == 2  # one signature per distinct answer, whatever the install
    setup.admin.post("/channels/stable/halt", {"reason": "x"})
    assert setup.poll().json["payload"]["reason"] == "halted"
    assert len(signed) == 3


def test_halted_is_identical(setup):
    upload_control_file(setup.admin, control_file(("5.3.0", 100)))
    assert setup.admin.post("/channels/stable/halt", {"reason": "crash on start"}).status_code == 200
    path, query = _poll(setup)
    fast, flask = both(setup.app, path, query)
    assert fast == flask
    assert b'"halted"' in fast[2]


def test_404_and_410_are_identical(setup):
    for code in ("NOT-A-REAL-CODE", "x"):
        for method in ("GET", "HEAD"):
            fast, flask = both(setup.app, f"/v1/upgrade/{code}", QUERY.format(version="5.1.0", install_id="a"), method)
            assert fast == flask
            assert fast[0] == "404 NOT FOUND"
    unpublished = factories.make_brand(setup.app, setup.partner.id, publish=False, product_name="Draft only")
    code = factories.issue(setup.app, unpublished, "live")
    fast, flask = both(setup.app, f"/v1/upgrade/{code}", QUERY.format(version="5.1.0", install_id="a"))
    assert fast == flask
    assert fast[0] == "404 NOT FOUND"
    factories.revoke(setup.app, setup.code)
    path, query = _poll(setup)
    fast, flask = both(setup.app, path, query)
    assert fast == flask
    assert fast[0] == "410 GONE"


@pytest.mark.parametrize(
    "query",
    [
        "platform=windows-x64",  # 400s quote the input: Flask builds them
        "platform=windows-x64&version=v5.3",
        "version=5.3.0&platform=linux",
        "version=5.3.0&platform=windows-x64&install_id=" + "x" * 200,
        "version=5.3.0&platform=windows-x64&install_id=abc%0A",
        "version=5.3.0%0A&platform=windows-x64",
        "version=5.3.0&platform=windows-x64&version=5.0",  # duplicates: Flask picks
        "version=5.3.0&platform=windows%2Dx64",  # escapes: Flask decodes
        "version=5.3.0&platform=windows-x64&install_id=a+b",
        "version=5.3.0&platform=windows-x64&utm_source=x",  # unknown parameters
    ],
)
def test_anything_unusual_goes_to_flask_unchanged(setup, query):
    whole, flask = declined(setup.app, f"/v1/upgrade/{setup.code}", query)
    assert whole == flask


def test_storage_outage_goes_to_flask(setup, monkeypatch):
    from app.storage import StorageError

    upgrades = setup.app.extensions["livery.upgrades"]

    def broken(partner_id, name):
        raise StorageError("down")

    monkeypatch.setattr(upgrades, "channel", broken)
    path, query = _poll(setup)
    whole, flask = declined(setup.app, path, query)
    assert whole == flask
    assert whole[0].startswith("503")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "version=5.3.0&platform=windows-x64&install_id=abc",
        "install_id=a=b&version=5&platform=macos-x64",
        "version&platform=",
        "&&version=1.0&&platform=windows-x64&",
        "version=1;platform=x",
        "platform=windows-x64&version=1#frag",
    ],
)
def test_plain_query_is_parse_qsl_on_plain_strings(query):
    assert plain_query(query) == dict(parse_qsl(query, keep_blank_values=True))


@pytest.mark.parametrize("query", ["version=1&version=2", "a=1", "version=%31", "install_id=a+b", "version=é"])
def test_plain_query_declines_anything_else(query):
    assert plain_query(query) is None
