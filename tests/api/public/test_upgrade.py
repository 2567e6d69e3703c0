"""GET /v1/upgrade, /v1/keys and /v1/installers as an installed client sees them: staged rollout,
halt, signatures and key rotation, ETag/304, errors, installer downloads."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.upgrades.signing import SignatureInvalid, verify_envelope
from tests import factories
from tests.api.admin.conftest import make_operator, onboard
from tests.upgrades.catalogue import add_release, control_file, installer_bytes, upload_control_file

POLL = "/v1/upgrade/{code}?platform=windows-x64&version={version}&install_id={install_id}"


class Setup:
    """A live partner with 5.2.0 and 5.3.0 for windows-x64, a published brand on 'stable' and a live code."""

    def __init__(self, app, slug: str = "acme") -> None:
        self.app = app
        self.client = app.test_client()
        self.partner = onboard(make_operator(app), slug)
        self.admin = self.partner.admin
        self.releases = {v: add_release(self.admin, v) for v in ("5.2.0", "5.3.0")}
        self.brand_id = factories.make_brand(app, self.partner.id, product_name="Acme", short_name="Acme")
        self.code = factories.issue(app, self.brand_id, "live")

    def poll(self, version: str = "5.1.0", install_id: str = "install-1", code: str | None = None, **headers):
        url = POLL.format(code=code or self.code, version=version, install_id=install_id)
        return self.client.get(url, headers=headers)

    def keys(self) -> dict[str, str]:
        return {k["key_id"]: k["public_key"] for k in self.client.get("/v1/keys").json["keys"]}


@pytest.fixture
def setup(app) -> Setup:
    return Setup(app)


def _payload(response) -> dict:
    assert response.status_code == 200, response.json
    return response.json["payload"]


def test_not_configured_until_a_control_file_is_active(setup):
    payload = _payload(setup.poll())
    assert payload == {
        "action": "none",
        "reason": "not_configured",
        "serial": 0,
        "channel": "stable",
        "platform": "windows-x64",
        "client_version": "5.1.0",
        "target": None,
    }
    discovery = setup.client.get(f"/v1/discovery/{setup.code}").json
    assert discovery["upgrade"]["enabled"] is False
    upload_control_file(setup.admin, control_file(("5.2.0", 100)))
    assert setup.client.get(f"/v1/discovery/{setup.code}").json["upgrade"]["enabled"] is True
    payload = _payload(setup.poll())
    assert (payload["action"], payload["reason"], payload["serial"]) == ("passive", "offered", 1)
    release = setup.releases["5.2.0"]
    assert payload["target"] == {
        "version": "5.2.0",
        "platform": "windows-x64",
        "installer_url": f"http://livery.test/v1/installers/{release['sha256']}",
        "sha256": release["sha256"],
        "bytes": release["bytes"],
        "release_notes_url": "https://notes.example/5.2.0",
        "file_name": None,
    }


def test_staged_rollout_offers_the_new_release_to_about_a_fifth(setup):
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    offered = Counter()
    for i in range(1000):
        payload = _payload(setup.poll(install_id=f"install-{i:04d}"))
        offered[payload["target"]["version"] if payload["target"] else None] += 1
    assert offered[None] == 0
    assert 160 <= offered["5.3.0"] <= 240, offered
    assert offered["5.3.0"] + offered["5.2.0"] == 1000
    # deterministic: the same install gets the same answer, byte for byte
    assert setup.poll(install_id="install-0007").data == setup.poll(install_id="install-0007").data


def test_halt_stops_every_offer_and_resume_restores_them(setup):
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    before = [setup.poll(install_id=f"i{i}").data for i in range(50)]
    assert setup.admin.post("/channels/stable/halt", {"reason": "crash on start"}).status_code == 200
    for i in range(50):
        payload = _payload(setup.poll(install_id=f"i{i}"))
        assert (payload["action"], payload["reason"], payload["target"]) == ("none", "halted", None)
    # halted is still "enabled": clients keep polling and learn of the resume
    assert setup.client.get(f"/v1/discovery/{setup.code}").json["upgrade"]["enabled"] is True
    setup.admin.post("/channels/stable/resume", {})
    assert [setup.poll(install_id=f"i{i}").data for i in range(50)] == before


def test_answers_verify_with_the_published_keys_and_tampering_fails(setup):
    upload_control_file(setup.admin, control_file(("5.3.0", 100)))
    keys_response = setup.client.get("/v1/keys")
    assert keys_response.status_code == 200
    published = keys_response.json["keys"]
    assert [(k["key_id"], k["status"], k["alg"]) for k in published] == [
        ("k1", "active", "Ed25519"),
        ("k2", "next", "Ed25519"),
    ]
    envelope = setup.poll().json
    assert envelope["signature"]["key_id"] == "k1"
    assert verify_envelope(envelope, setup.keys())["target"]["version"] == "5.3.0"
    tampered = json.loads(json.dumps(envelope))
    tampered["payload"]["target"]["installer_url"] = "https://evil.example/setup.msi"
    with pytest.raises(SignatureInvalid):
        verify_envelope(tampered, setup.keys())
    older = json.loads(json.dumps(envelope))
    older["payload"]["serial"] = 0
    with pytest.raises(SignatureInvalid):
        verify_envelope(older, setup.keys())


def test_rotation_to_the_next_key(make_app):
    first = Setup(make_app())
    upload_control_file(first.admin, control_file(("5.3.0", 100)))
    signed_by_k1 = first.poll().json
    # same key directory, k2 made active: what an operator does after clients have pinned k2
    second = Setup(make_app(signing_active_key="k2"))
    upload_control_file(second.admin, control_file(("5.3.0", 100)))
    signed_by_k2 = second.poll().json
    assert signed_by_k2["signature"]["key_id"] == "k2"
    keys = second.keys()
    assert set(keys) == {"k1", "k2"}
    statuses = {k["key_id"]: k["status"] for k in second.client.get("/v1/keys").json["keys"]}
    assert statuses == {"k2": "active", "k1": "next"}
    verify_envelope(signed_by_k1, keys)  # answers cached by clients or proxies still verify
    verify_envelope(signed_by_k2, keys)
    with pytest.raises(SignatureInvalid):
        verify_envelope(signed_by_k2, {"k2": keys["k1"]})


def test_etag_and_304(setup):
    upload_control_file(setup.admin, control_file(("5.3.0", 100)))
    first = setup.poll()
    etag = first.headers["ETag"]
    assert etag == '"' + hashlib.sha256(first.data).hexdigest()[:32] + '"'
    assert first.headers["Cache-Control"] == "public, max-age=0, s-maxage=1, must-revalidate"
    again = setup.poll(**{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    setup.admin.post("/channels/stable/halt", {"reason": "x"})
    assert setup.poll(**{"If-None-Match": etag}).status_code == 200


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("platform=windows-x64", "version"),
        ("platform=windows-x64&version=v5.3", "version"),
        ("platform=windows-x64&version=5.3.0.0.1", "version"),
        ("version=5.3.0", "platform"),
        ("version=5.3.0&platform=linux", "platform"),
        ("version=5.3.0&platform=windows-x64&install_id=" + "x" * 200, "install_id"),
        ("version=5.3.0&platform=windows-x64&install_id=abc%0A", "install_id"),
        ("version=5.3.0%0A&platform=windows-x64", "version"),
    ],
)
def test_bad_parameters_are_400_problems(setup, query, parameter):
    response = setup.client.get(f"/v1/upgrade/{setup.code}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert f"'{parameter}'" in response.json["detail"]


def test_unknown_and_revoked_codes_answer_like_discovery(setup):
    assert setup.poll(code="NOT-A-REAL-CODE").status_code == 404
    factories.revoke(setup.app, setup.code)
    response = setup.poll()
    assert response.status_code == 410
    assert response.mimetype == "application/problem+json"


def test_code_channel_override_and_test_codes_see_the_draft(setup):
    upload_control_file(setup.admin, control_file(("5.2.0", 100)))
    upload_control_file(setup.admin, control_file(("5.3.0", 100), channel="beta"), channel="beta")
    beta_code = factories.issue(setup.app, setup.brand_id, "live", channel="beta")
    assert _payload(setup.poll(code=beta_code))["target"]["version"] == "5.3.0"
    factories.edit(setup.app, setup.brand_id, upgrade_channel="beta")  # draft only
    test_code = factories.issue(setup.app, setup.brand_id, "test")
    assert _payload(setup.poll(code=test_code))["channel"] == "beta"
    assert _payload(setup.poll())["channel"] == "stable"
    factories.publish(setup.app, setup.brand_id)
    assert _payload(setup.poll())["channel"] == "beta"


def test_yanked_release_stops_being_offered_at_once(setup):
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 100)))
    assert _payload(setup.poll())["target"]["version"] == "5.3.0"
    release = setup.admin.get(f"/releases/{setup.releases['5.3.0']['id']}").json
    setup.admin.patch(f"/releases/{release['id']}", {"status": "yanked"}, etag=release["etag"])
    assert _payload(setup.poll())["target"]["version"] == "5.2.0"


def test_external_installers_are_linked_directly(setup):
    url = "https://downloads.partner.example/5.4.0/setup.msi"
    add_release(setup.admin, "5.4.0", installer_url=url, sha256="b" * 64, bytes=99)
    upload_control_file(setup.admin, control_file(("5.4.0", 100)))
    target = _payload(setup.poll())["target"]
    assert (target["installer_url"], target["sha256"], target["bytes"]) == (url, "b" * 64, 99)


def test_local_installer_download_supports_range(setup):
    release = setup.releases["5.3.0"]
    data = installer_bytes("5.3.0", "windows-x64")
    url = f"/v1/installers/{release['sha256']}"
    response = setup.client.get(url)
    assert response.status_code == 200
    assert response.data == data
    partial = setup.client.get(url, headers={"Range": "bytes=100-199"})
    assert partial.status_code == 206
    assert partial.data == data[100:200]
    assert partial.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert setup.client.get("/v1/installers/" + "0" * 64).status_code == 404
    assert setup.client.get("/v1/installers/nothex").status_code == 404
    assert setup.client.get(f"/v1/installers/{release['sha256']}%0A").status_code == 404


def test_draft_installers_are_not_served(setup):
    draft = add_release(setup.admin, "5.4.0", publish=False)
    assert setup.client.get(f"/v1/installers/{draft['sha256']}").status_code == 404


@pytest.mark.s3
def test_s3_installer_download_redirects_to_a_presigned_url(make_app):
    setup = Setup(make_app(storage="s3"))
    release = setup.releases["5.3.0"]
    response = setup.client.get(f"/v1/installers/{release['sha256']}")
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    expires = int(parse_qs(urlsplit(response.headers["Location"]).query)["Expires"][0])
    assert 0 < expires - time.time() <= 300  # LIVERY_S3_PRESIGN_SECONDS: short-lived
    download = requests.get(response.headers["Location"], timeout=10)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == release["sha256"]


@pytest.mark.parametrize("storage", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_changes_in_another_worker_arrive_within_the_freshness_interval(make_app, storage, monkeypatch):
    setup = Setup(make_app(storage=storage))
    upload_control_file(setup.admin, control_file(("5.3.0", 100)))
    assert _payload(setup.poll())["serial"] == 1
    answers = setup.app.extensions["livery.public"]
    # another process writes: simulate by forgetting our own after-commit notice
    monkeypatch.setattr(answers, "apply", lambda changes: None)
    setup.admin.post("/channels/stable/halt", {"reason": "x"})
    monkeypatch.undo()
    answers._next_poll = 0  # the freshness interval has passed
    assert _payload(setup.poll())["reason"] == "halted"


def test_a_channel_change_re_renders_its_partners_documents_only(app):
    acme, other = Setup(app, "acme"), Setup(app, "other")
    answers = app.extensions["livery.public"]
    for setup in (acme, other):
        assert setup.client.get(f"/v1/discovery/{setup.code}").json["upgrade"]["enabled"] is False
    held = {key: doc for key, doc in answers._documents.items() if key[0] == other.brand_id}
    upload_control_file(acme.admin, control_file(("5.2.0", 100)))
    assert acme.client.get(f"/v1/discovery/{acme.code}").json["upgrade"]["enabled"] is True
    assert held and all(answers._documents.get(key) is doc for key, doc in held.items())  # not rendered again
    upload_control_file(other.admin, control_file(("5.2.0", 100)))
    assert other.client.get(f"/v1/discovery/{other.code}").json["upgrade"]["enabled"] is True
