"""Releases through the admin API, on every database x object store: create, stream an installer
in, publish, yank; validation, concurrency and partner scoping."""

from __future__ import annotations

import hashlib

import pytest

from tests.upgrades.catalogue import add_release, installer_bytes

OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def app(backend_app):
    return backend_app


def test_upload_computes_digest_and_size_and_stores_the_object(app, partner_a):
    admin = partner_a.admin
    response = admin.post("/releases", {"version": "5.3.0", "platform": "macos-arm64"})
    assert response.status_code == 201, response.json
    release = response.json
    assert (release["status"], release["source"], release["sha256"]) == ("draft", "stored", None)
    data = installer_bytes("5.3.0", "macos-arm64", 3 * 1024 * 1024 + 17)
    response = admin.put(f"/releases/{release['id']}/installer", data=data, etag=release["etag"], headers=OCTETS)
    assert response.status_code == 200, response.json
    assert response.json["sha256"] == hashlib.sha256(data).hexdigest()
    assert response.json["bytes"] == len(data)
    stored = app.extensions["livery.stores"].installers.stat(response.json["sha256"])
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_publish_needs_the_installer_and_freezes_it(partner_a):
    admin = partner_a.admin
    release = admin.post("/releases", {"version": "5.3.0", "platform": "windows-x64"}).json
    response = admin.patch(f"/releases/{release['id']}", {"status": "published"}, etag=release["etag"])
    assert response.status_code == 409
    assert response.json["code"] == "installer_missing"
    published = add_release(admin, "5.3.1")
    response = admin.put(f"/releases/{published['id']}/installer", data=b"x", etag=published["etag"], headers=OCTETS)
    assert response.status_code == 409
    assert response.json["code"] == "release_not_draft"


def test_writes_need_if_match(partner_a):
    admin = partner_a.admin
    release = admin.post("/releases", {"version": "5.3.0", "platform": "windows-x64"}).json
    assert admin.put(f"/releases/{release['id']}/installer", data=b"x", headers=OCTETS).status_code == 428
    assert admin.patch(f"/releases/{release['id']}", {"status": "published"}, etag='"stale"').status_code == 412


def test_installer_body_must_be_octet_stream(partner_a):
    admin = partner_a.admin
    release = admin.post("/releases", {"version": "5.3.0", "platform": "windows-x64"}).json
    response = admin.put(
        f"/releases/{release['id']}/installer", data=b"x", etag=release["etag"], headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "v5.3", "platform": "windows-x64"}, "version"),
        ({"version": "5.3.0.1.2", "platform": "windows-x64"}, "version"),
        ({"version": "5.3.0", "platform": "linux-x64"}, "platform"),
        ({"version": "5.3.0", "platform": "windows-x64", "release_notes_url": "http://x.example"}, "release_notes_url"),
        ({"version": "5.3.0", "platform": "windows-x64", "installer_url": "https://cdn.example/a.msi"}, "sha256"),
        ({"version": "5.3.0", "platform": "windows-x64", "sha256": "0" * 64, "bytes": 3}, "external_url"),
    ],
)
def test_invalid_releases_are_refused(partner_a, body, field):
    response = partner_a.admin.post("/releases", body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert partner_a.admin.get("/releases").json["items"] == []


def test_external_installer(partner_a):
    body = {
        "version": "5.3.0",
        "platform": "windows-arm64",
        "installer_url": "https://downloads.partner.example/5.3.0/setup-arm64.msi",
        "sha256": "a" * 64,
        "bytes": 123456,
    }
    release = add_release(partner_a.admin, **body)
    assert (release["source"], release["status"], release["bytes"]) == ("external", "published", 123456)
    assert release["installer_url"] == body["installer_url"]


def test_duplicate_version_and_platform_conflicts(partner_a):
    add_release(partner_a.admin, "5.3.0")
    response = partner_a.admin.post("/releases", {"version": "5.3.0", "platform": "windows-x64"})
    assert response.status_code == 409
    response = partner_a.admin.post("/releases", {"version": "5.3", "platform": "windows-x64"})  # equal version
    assert response.status_code == 409
    assert "5.3.0" in response.json["detail"]
    assert partner_a.admin.post("/releases", {"version": "5.3", "platform": "macos-x64"}).status_code == 201


def test_yank_and_republish(partner_a):
    admin = partner_a.admin
    release = add_release(admin, "5.3.0")
    yanked = admin.patch(f"/releases/{release['id']}", {"status": "yanked"}, etag=release["etag"])
    assert yanked.json["status"] == "yanked"
    back = admin.patch(f"/releases/{release['id']}", {"status": "draft"}, etag=yanked.json["etag"])
    assert back.status_code == 409
    again = admin.patch(f"/releases/{release['id']}", {"status": "published"}, etag=yanked.json["etag"])
    assert again.json["status"] == "published"


def test_partner_scoping(partner_a, partner_b, operator):
    release = add_release(partner_a.admin, "5.3.0")
    assert partner_b.admin.get(f"/releases/{release['id']}").status_code == 404
    assert partner_b.admin.get("/releases").json["items"] == []
    assert partner_a.viewer.post("/releases", {"version": "1.0", "platform": "windows-x64"}).status_code == 403
    assert operator.post("/releases", {"version": "1.0", "platform": "windows-x64"}).status_code == 422
    response = operator.post("/releases", {"version": "1.0", "platform": "windows-x64", "partner_id": partner_b.id})
    assert response.json["partner_id"] == partner_b.id


def test_too_large_installer_is_refused_and_nothing_stored(make_app):
    from tests.api.admin.conftest import make_operator, onboard

    app = make_app(max_installer_bytes=1000)
    admin = onboard(make_operator(app), "small").admin
    release = admin.post("/releases", {"version": "1.0", "platform": "windows-x64"}).json
    response = admin.put(f"/releases/{release['id']}/installer", data=b"x" * 1001, etag=release["etag"], headers=OCTETS)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert admin.get(f"/releases/{release['id']}").json["sha256"] is None
    assert list(app.extensions["livery.stores"].installers.keys()) == []
