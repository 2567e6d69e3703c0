"""Upgrade decisions from a static root's signed manifest, and every reason to ask the API instead."""

from __future__ import annotations

import json

import pytest
from conftest import CANONICAL, INSTALLER
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_livery import sign
from livery_client.codes import code_digest
from livery_client.errors import CodeRevoked
from livery_client.manifest import decide_from_manifest, rollout_bucket

FILE = f"upgrade/{code_digest(CANONICAL)}/manifest.json"
TARGET = {
    "version": "5.3.0",
    "platform": "windows-x64",
    "installer_url": "https://cdn.example/Acme-5.3.0.msi",
    "sha256": "ab" * 32,
    "bytes": len(INSTALLER),
    "release_notes_url": None,
}


def manifest(serial: int = 7, rollout_bp: int = 10_000, **fields) -> dict:
    return {
        "kind": "upgrade_manifest",
        "access_code_digest": code_digest(CANONICAL),
        "channel": "stable",
        "serial": serial,
        "halted": False,
        "configured": True,
        "default_mode": "passive",
        "minimum_version": "5.0.0",
        "blocked_versions": ["5.2.1"],
        "releases": [
            {"version": "5.3.0", "rollout_bp": rollout_bp, "available_from": None, "critical": False,
             "targets": {"windows-x64": TARGET}},
        ],
        **fields,
    }  # fmt: skip


@pytest.fixture
def publish(livery):
    def put(payload: dict, key: Ed25519PrivateKey | None = None) -> None:
        envelope = sign(payload, key or livery.signing_key, livery.key_id)
        livery.static_files[FILE] = json.dumps(envelope).encode()

    return put


@pytest.fixture
def static_client(livery, make_client):
    return lambda: make_client(static_base_url=f"{livery.base_url}/static")


def test_the_decision_is_made_from_the_manifest_without_the_api(livery, publish, static_client):
    publish(manifest())
    decision = static_client().check_upgrade("5.2.0", "windows-x64")
    assert (decision.action, decision.reason, decision.origin, decision.serial) == ("passive", "offered", "static", 7)
    assert decision.target.installer_url == TARGET["installer_url"] and livery.hits("/v1/upgrade") == []

    blocked = static_client().check_upgrade("5.2.1", "windows-x64")
    below = static_client().check_upgrade("4.9.0", "windows-x64")
    assert blocked.action == below.action == "dynamic"
    assert static_client().check_upgrade("5.3.0", "windows-x64").reason == "up_to_date"
    assert static_client().check_upgrade("5.2.0", "macos-arm64").reason == "up_to_date"


@pytest.mark.parametrize(
    "trouble",
    ["missing", "unsigned_key", "tampered", "other_code", "older_serial", "not_a_manifest", "bad_version"],
)
def test_the_api_decides_whenever_the_manifest_fails_a_check(livery, publish, static_client, trouble):
    version = "5.2.0"
    if trouble == "unsigned_key":
        publish(manifest(), key=Ed25519PrivateKey.generate())
    elif trouble == "tampered":
        publish(manifest())
        livery.static_files[FILE] = livery.static_files[FILE].replace(b'"passive"', b'"dynamic"')
    elif trouble == "other_code":
        publish(manifest(access_code_digest="0" * 64))
    elif trouble == "older_serial":
        static_client().check_upgrade(version, "windows-x64")  # the API: serial 5 accepted
        publish(manifest(serial=4))
    elif trouble == "not_a_manifest":
        publish({"kind": "something_else", "serial": 9})
    elif trouble == "bad_version":
        publish(manifest())
        version = "v5"  # not a version the manifest's rules can compare: the API answers (a real one: 400)

    calls = len(livery.hits("/v1/upgrade"))
    decision = static_client().check_upgrade(version, "windows-x64")
    assert decision.origin == "api" and decision.client_version == version
    assert len(livery.hits("/v1/upgrade")) == calls + 1


def test_a_partial_rollout_follows_the_install_buckets(livery, publish, static_client):
    publish(manifest(rollout_bp=2_000))
    client = static_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    inside = rollout_bucket(client.install_id(), "5.3.0") < 2_000
    assert decision.reason == ("offered" if inside else "not_in_rollout")


def test_halted_and_unconfigured_manifests_offer_nothing():
    for fields, reason in (({"halted": True}, "halted"), ({"configured": False}, "not_configured")):
        answer = decide_from_manifest(manifest(**fields), version="4.0", platform="windows-x64", install_id="x")
        assert (answer["action"], answer["reason"], answer["target"]) == ("none", reason, None)


def test_the_manifest_is_revalidated_with_its_etag(livery, publish, static_client):
    publish(manifest())
    client = static_client()
    first = client.check_upgrade("5.2.0", "windows-x64")
    second = client.check_upgrade("5.2.0", "windows-x64")
    assert first.origin == second.origin == "static" and second.action == "passive"
    hits = livery.hits(f"/static/{FILE}")
    assert "If-None-Match" not in hits[0].headers and hits[1].headers.get("If-None-Match")
    assert livery.hits("/v1/upgrade") == []

    publish(manifest(serial=8, halted=True))  # a new file: a new ETag, a 200, a new decision
    assert client.check_upgrade("5.2.0", "windows-x64").reason == "halted"


def test_without_a_static_root_the_api_manifest_decides_and_the_install_id_stays_home(livery, publish, make_client):
    publish(manifest(rollout_bp=2_000))  # the API's /v1/upgrade-manifest serves the same bytes
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    in_rollout = rollout_bucket(client.install_id(), "5.3.0") < 2_000
    assert decision.origin == "manifest" and decision.action == ("passive" if in_rollout else "none")
    again = client.check_upgrade("5.2.0", "windows-x64")  # revalidated: 304, the cached copy
    assert again.action == decision.action
    hits = livery.hits(f"/v1/upgrade-manifest/{CANONICAL}")
    assert len(hits) == 2 and hits[0].query == {} and hits[1].headers.get("If-None-Match")
    assert livery.hits("/v1/upgrade") == []
    assert client.install_id() not in repr(livery.requests)  # the install id never left the machine


def test_a_revoked_code_falls_back_to_the_poll_and_clears_the_cache(livery, publish, make_client):
    publish(manifest())
    client = make_client()
    assert client.check_upgrade("5.2.0", "windows-x64").origin == "manifest"
    livery.code_status[CANONICAL] = 410
    with pytest.raises(CodeRevoked):
        client.check_upgrade("5.2.0", "windows-x64")
    assert len(livery.hits("/v1/upgrade")) == 1 and client.cache.load_manifest() is None


def test_an_older_server_without_manifests_answers_the_poll(livery, make_client):
    livery.upgrade[CANONICAL] = lambda query: {"action": "none", "reason": "up_to_date", "serial": 1,
                                             "channel": "stable", "platform": "windows-x64",
                                             "client_version": "5.2.0", "target": None}  # fmt: skip
    decision = make_client().check_upgrade("5.2.0", "windows-x64")
    assert decision.origin == "api" and len(livery.hits("/v1/upgrade")) == 1
