"""GET /v1/assets/{sha256}: immutable, content-addressed image bytes."""

from __future__ import annotations

import hashlib

import pytest

from tests import factories, images


@pytest.fixture
def icon(backend_app):
    partner_id = factories.make_partner(backend_app)
    data = images.ico(48)
    return factories.upload(backend_app, partner_id, "tray_icon", data), data


def test_asset_bytes_with_immutable_caching(backend_app, icon):
    sha, data = icon
    response = backend_app.test_client().get(f"/v1/assets/{sha}")
    assert response.status_code == 200
    assert response.data == data
    assert hashlib.sha256(response.data).hexdigest() == sha
    assert response.headers["ETag"] == f'"{sha}"'
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.mimetype == "image/vnd.microsoft.icon"


def test_if_none_match_answers_304(backend_app, icon):
    sha, _ = icon
    client = backend_app.test_client()
    for header in (f'"{sha}"', f'W/"{sha}"', "*"):
        response = client.get(f"/v1/assets/{sha}", headers={"If-None-Match": header})
        assert response.status_code == 304 and response.data == b""
        assert response.headers["ETag"] == f'"{sha}"'


@pytest.mark.parametrize("path", ["0" * 64, "ABC", "../../etc/passwd", "0" * 63 + "g"])
def test_unknown_or_malformed_digest_is_404_problem(app, path):
    response = app.test_client().get(f"/v1/assets/{path}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_the_same_image_uploaded_twice_is_stored_once(app):
    partner_id = factories.make_partner(app)
    data = images.png(64, 64)
    assert factories.upload(app, partner_id, "splash", data) == factories.upload(app, partner_id, "splash", data)
    stored = list(app.extensions["livery.stores"].assets.keys())
    assert stored == [hashlib.sha256(data).hexdigest()]
