"""Launch from a static-publish root first, with the API as the authoritative fallback."""

from __future__ import annotations

import json

import pytest
from conftest import CANONICAL, build_document
from livery_client import CodeRevoked
from livery_client.codes import code_digest

FILE = f"discovery/{code_digest(CANONICAL)}.json"


@pytest.fixture
def static_client(livery, make_client):
    """A client whose static root is the fake's /static/ tree; publishes the code's document there."""
    livery.static_files[FILE] = json.dumps(livery.documents[CANONICAL]).encode()

    def make(**overrides):
        return make_client(static_base_url=f"{livery.base_url}/static", **overrides)

    return make


def test_the_static_root_answers_and_revalidates_without_the_api(livery, static_client):
    first = static_client().launch()
    assert (first.status, first.origin, first.first_launch) == ("fresh", "static", True)
    assert first.branding["product"]["name"] == "Acme CRM Connect"
    assert sorted(first.downloaded_assets) == ["app_icon_windows", "splash", "tray_icon"]

    second = static_client().launch()
    assert (second.status, second.downloaded_assets) == ("not_modified", [])
    asked = livery.hits(f"/static/{FILE}")
    assert asked[-1].headers["If-None-Match"] == first.etag
    assert livery.hits("/v1/discovery") == []


def test_the_api_down_does_not_matter_while_the_static_root_answers(livery, static_client):
    static_client().launch()
    livery.fail_status = 503
    livery.static_files[FILE] = json.dumps(build_document(livery, name="Acme CRM Connect 2")).encode()

    result = static_client().launch()

    assert (result.status, result.origin, result.changed_fields) == ("fresh", "static", ["product.name"])


@pytest.mark.parametrize("trouble", ["missing", "static_down", "garbled"])
def test_the_api_answers_when_the_static_root_cannot(livery, static_client, trouble):
    if trouble == "missing":  # a code issued a moment ago: its file is not written yet
        del livery.static_files[FILE]
    elif trouble == "static_down":
        livery.static_fail_status = 502
    else:
        livery.static_files[FILE] = b"<html>CDN error page</html>"

    result = static_client().launch()

    assert (result.status, result.origin) == ("fresh", "api")
    assert len(livery.hits("/v1/discovery")) == 1


def test_an_etag_goes_back_only_to_the_origin_that_made_it(livery, static_client):
    from_static = static_client().launch()
    livery.static_fail_status = 503

    from_api = static_client().launch()  # the static tag means nothing to the API: no If-None-Match
    assert from_api.origin == "api" and "If-None-Match" not in livery.hits("/v1/discovery")[-1].headers
    assert from_api.etag != from_static.etag

    livery.static_fail_status = None
    static_client().launch()  # and the API's tag is not sent to the static root
    assert "If-None-Match" not in livery.hits(f"/static/{FILE}")[-1].headers


def test_a_revoked_code_whose_file_is_gone_is_told_by_the_api(livery, static_client, cache_dir):
    static_client().launch()
    del livery.static_files[FILE]  # the publisher deletes the file at revocation
    livery.code_status[CANONICAL] = 410

    with pytest.raises(CodeRevoked):
        static_client().launch()
    assert not (cache_dir / "discovery.json").exists()


def test_everything_down_gives_the_cached_branding_marked_stale(livery, static_client):
    static_client().launch()
    livery.fail_status, livery.static_fail_status = 503, 503

    result = static_client().launch()

    assert result.status == "stale" and result.branding["product"]["name"] == "Acme CRM Connect"
