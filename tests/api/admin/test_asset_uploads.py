"""Bad uploads: each refused with a 4xx problem, and nothing stored (no row, no object, no event).

Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from app.audit.models import AuditEvent
from app.branding.models import Asset
from app.db import session
from tests import images
from tests.api.admin.conftest import make_operator, onboard


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims enormous dimensions (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32"/></svg>'
PNG = images.png(640, 360)

BAD_UPLOADS = {
    "png renamed .ico": ("tray_icon", images.png(32, 32), "tray.ico", "application/octet-stream", 422),
    "png as windows icon": ("app_icon_windows", images.png(32, 32), "app.png", "image/png", 422),
    "text file": ("splash", b"hello, this is not an image\n" * 20, "splash.png", "image/png", 422),
    "truncated image": ("splash", PNG[: len(PNG) // 2], "splash.png", "image/png", 422),
    "50 MB upload": ("splash", b"\0" * (50 * 1024 * 1024), "splash.png", "image/png", 413),
    "huge dimensions": ("splash", huge_png(), "splash.png", "image/png", 422),
    "svg": ("splash", SVG, "splash.svg", "image/svg+xml", 422),
    "path in filename": ("splash", PNG, "../../etc/splash.png", "image/png", 422),
    "absolute path in filename": ("splash", PNG, "/var/www/splash.png", "image/png", 422),
    "wrong declared type": ("splash", PNG, "splash.png", "image/vnd.microsoft.icon", 422),
    "unknown role": ("favicon", PNG, "splash.png", "image/png", 422),
    "too small for role": ("splash", images.png(32, 32), "splash.png", "image/png", 422),
}


@pytest.fixture
def uploader(db_app):
    return onboard(make_operator(db_app), "acme").admin


def nothing_stored(app) -> None:
    with app.app_context():
        assert session().query(Asset).count() == 0
        assert session().query(AuditEvent).filter(AuditEvent.action == "asset.create").count() == 0
    assert list(app.extensions["livery.stores"].assets.keys()) == []


@pytest.mark.parametrize("case", list(BAD_UPLOADS.values()), ids=list(BAD_UPLOADS))
def test_bad_upload_is_refused_and_nothing_is_stored(db_app, uploader, case):
    role, data, filename, content_type, status = case

    response = uploader.upload(role, data, filename, content_type)

    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"]
    if status == 422:
        assert set(response.json["errors"]) <= {"file", "role"}
    nothing_stored(db_app)


def test_non_multipart_upload_is_415(db_app, uploader):
    response = uploader.post("/assets", {"role": "splash", "file": "iVBORw0KGgo="})
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    nothing_stored(db_app)


def test_text_field_instead_of_file_part_is_422(db_app, uploader):
    response = uploader.client.post(
        "/admin/v1/assets",
        data={"role": "splash", "file": "not a file"},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {uploader.key}"},
    )
    assert response.status_code == 422, response.json
    assert "file" in response.json["errors"]
    nothing_stored(db_app)


def test_good_upload_is_stored_once(db_app, uploader):
    first = uploader.upload("splash", PNG, "splash.png", "image/png")
    second = uploader.upload("splash", PNG, "other-name.png")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["sha256"] == second.json["sha256"]
    assert first.json["width"] == 640 and first.json["media_type"] == "image/png"
    assert list(db_app.extensions["livery.stores"].assets.keys()) == [first.json["sha256"]]
    assert uploader.get(f"/assets/{first.json['sha256']}").json["role"] == "splash"


class CountingStream:
    """A request body of ``size`` zero bytes that counts how much of it the server reads."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.read_bytes = size, 0, 0

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:  # the test client measures the body
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        self.pos += n
        self.read_bytes += n
        return b"\0" * n


def test_oversized_upload_is_refused_before_its_body_is_read(db_app, uploader):
    body = CountingStream(50 * 1024 * 1024)
    response = uploader.client.post(
        "/admin/v1/assets",
        input_stream=body,
        content_type="multipart/form-data; boundary=x",
        headers={"Authorization": f"Bearer {uploader.key}", "Content-Length": str(body.size)},
    )
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert body.read_bytes == 0
    nothing_stored(db_app)


def test_upload_without_content_length_is_cut_off_at_the_limit(db_app, uploader):
    body = CountingStream(50 * 1024 * 1024)
    response = uploader.client.post(
        "/admin/v1/assets",
        input_stream=body,
        content_type="multipart/form-data; boundary=x",
        headers={"Authorization": f"Bearer {uploader.key}"},
        # what gunicorn passes for a chunked request: no length, but a terminated stream
        environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    limit = db_app.config["LIVERY"].max_asset_bytes
    assert 0 < body.read_bytes <= limit + 1024 * 1024  # read, and stopped near the limit
    nothing_stored(db_app)


def test_storage_outage_during_upload_is_a_503_and_stores_nothing(app, partner_a, monkeypatch):
    from app.storage import StorageError

    def unreachable(*_args, **_kw):
        raise StorageError("connection refused")

    monkeypatch.setattr(app.extensions["livery.stores"].assets, "put_file", unreachable)
    response = partner_a.admin.upload("splash", images.png(640, 360), "splash.png", "image/png")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "storage_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert partner_a.admin.get("/assets").json["items"] == []


@pytest.mark.s3
def test_an_s3_client_error_during_upload_is_a_503(make_app):
    """A real S3 server refusing the upload (here: the bucket is missing) is an outage, not a 500."""
    app = make_app(storage="s3")
    server = app.extensions["livery.stores"].assets
    server.client.delete_bucket(Bucket=server.bucket)  # empty: nothing was uploaded yet
    partner = onboard(make_operator(app), "alpha")
    response = partner.admin.upload("splash", images.png(640, 360), "splash.png", "image/png")

    assert response.status_code == 503, response.json
    assert response.json["code"] == "storage_unavailable"
    assert partner.admin.get("/assets").json["items"] == []
