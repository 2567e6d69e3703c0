"""Static upgrade manifests: signed, bound to a code, kept in step with the channel, and deciding
in the reference client exactly what the API answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from livery_client.manifest import decide_from_manifest
from livery_client.signing import verify_envelope

from app.api.public.answers import UPGRADE_CACHE_CONTROL
from app.branding.codes import code_digest, normalise_code
from tests import factories
from tests.api.admin.conftest import make_operator, onboard
from tests.upgrades.catalogue import add_release, control_file, upload_control_file

VERSIONS = ["4.9.0", "5.0.0", "5.1.0-beta.1", "5.1.5", "5.2", "5.2.0", "5.2.5", "5.3.0", "6.0.0"]
PLATFORMS = ["windows-x64", "macos-arm64", "windows-arm64"]


class Channel:
    """A live partner with 5.2.0 (windows, macOS) and 5.3.0 (windows), a published brand and a live code."""

    def __init__(self, make_app, tmp_path) -> None:
        self.root = tmp_path / "static-root"
        self.app = make_app(static_publish_root=str(self.root))
        self.client = self.app.test_client()
        partner = onboard(make_operator(self.app), "acme")
        self.admin = partner.admin
        for version, platform in (("5.2.0", "windows-x64"), ("5.2.0", "macos-arm64"), ("5.3.0", "windows-x64")):
            add_release(self.admin, version, platform)
        self.brand_id = factories.make_brand(self.app, partner.id, product_name="Acme", short_name="Acme")
        self.code = factories.issue(self.app, self.brand_id, "live")
        self.digest = code_digest(normalise_code(self.code))

    @property
    def manifest_path(self):
        return self.root / "upgrade" / self.digest / "manifest.json"

    def manifest(self) -> dict:
        keys = {k["key_id"]: k["public_key"] for k in self.client.get("/v1/keys").json["keys"]}
        payload, _key_id = verify_envelope(json.loads(self.manifest_path.read_bytes()), keys)
        return payload

    def api(self, version: str, platform: str, install_id: str | None) -> dict:
        query = f"platform={platform}&version={version}" + (f"&install_id={install_id}" if install_id else "")
        response = self.client.get(f"/v1/upgrade/{self.code}?{query}")
        assert response.status_code == 200, response.json
        return response.json["payload"]


@pytest.fixture
def channel(make_app, tmp_path) -> Channel:
    return Channel(make_app, tmp_path)


def _assert_same_decisions(channel: Channel, installs: int = 60) -> set[tuple[str, str]]:
    manifest, seen = channel.manifest(), set()
    for version in VERSIONS:
        for platform in PLATFORMS:
            for install_id in [None, *(f"install-{n}" for n in range(installs))]:
                api = channel.api(version, platform, install_id)
                local = decide_from_manifest(manifest, version=version, platform=platform, install_id=install_id)
                assert local == api, (version, platform, install_id)
                seen.add((api["action"], api["reason"]))
    return seen


def test_a_manifest_decides_what_the_api_answers(channel):
    assert channel.manifest()["configured"] is False
    assert _assert_same_decisions(channel, installs=2) == {("none", "not_configured")}

    document = control_file(("5.2.0", 100), ("5.3.0", 20), minimum_version="5.0.0", blocked_versions=["5.2.5"])
    document["releases"][1]["critical"] = True
    assert upload_control_file(channel.admin, document).status_code == 201
    manifest = channel.manifest()
    assert (manifest["serial"], manifest["access_code_digest"], manifest["halted"]) == (1, channel.digest, False)
    assert [r["version"] for r in manifest["releases"]] == ["5.3.0", "5.2.0"]

    seen = _assert_same_decisions(channel)
    assert {("dynamic", "offered"), ("passive", "offered"), ("none", "not_in_rollout"), ("none", "up_to_date")} <= seen


def test_halt_and_a_future_release_reach_the_manifest(channel):
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = control_file(("5.2.0", 100), ("5.3.0", 100))
    document["releases"][1]["available_from"] = later
    upload_control_file(channel.admin, document)
    assert channel.manifest()["releases"][0]["available_from"] == later
    assert _assert_same_decisions(channel, installs=3) >= {("passive", "offered")}

    before = channel.manifest_path.stat().st_mtime_ns
    assert channel.admin.post("/channels/stable/halt", {"reason": "crash on start"}).status_code == 200
    assert channel.manifest()["halted"] is True and channel.manifest()["releases"] == []
    assert _assert_same_decisions(channel, installs=2) == {("none", "halted")}
    assert channel.manifest_path.stat().st_mtime_ns != before


def test_a_revoked_code_loses_its_manifest(channel):
    assert channel.manifest_path.exists()
    factories.revoke(channel.app, channel.code)
    assert not channel.manifest_path.exists()


def test_a_channel_change_rewrites_only_that_partners_files(channel):
    other = factories.seed_ci_c(channel.app, "other")  # another partner, its own codes and files
    other_file = channel.root / "upgrade" / code_digest(normalise_code(other.live_code)) / "manifest.json"
    assert other_file.exists()
    publisher = channel.app.extensions["livery.publisher"]
    partner_id = channel.app.extensions["livery.public"].code(channel.digest).partner_id

    counts = publisher.publish_changes([("channel", f"{partner_id}:stable")])

    assert counts.written + counts.unchanged == 2  # the one code's discovery document and manifest
    assert upload_control_file(channel.admin, control_file(("5.2.0", 100))).status_code == 201
    assert channel.manifest()["serial"] == 1 and other_file.exists()


def test_the_api_serves_the_manifest_bytes_of_the_static_root(channel):
    """GET /v1/upgrade-manifest/{code}: the same signed bytes, so every decision test above holds for it."""
    assert upload_control_file(channel.admin, control_file(("5.2.0", 100), ("5.3.0", 20))).status_code == 201
    path = f"/v1/upgrade-manifest/{channel.code}"
    response = channel.client.get(path)
    assert response.status_code == 200 and response.data == channel.manifest_path.read_bytes()
    assert response.headers["Cache-Control"] == UPGRADE_CACHE_CONTROL
    etag = response.headers["ETag"]
    assert channel.client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert channel.client.get(path.lower()).data == response.data  # codes read as the API reads them

    assert channel.admin.post("/channels/stable/halt", {"reason": "crash on start"}).status_code == 200
    halted = channel.client.get(path, headers={"If-None-Match": etag})
    assert halted.status_code == 200 and halted.json["payload"]["halted"] is True
    assert halted.data == channel.manifest_path.read_bytes()

    factories.revoke(channel.app, channel.code)
    assert channel.client.get(path).status_code == 410
    assert channel.client.get("/v1/upgrade-manifest/NOT-A-CODE").status_code == 404
