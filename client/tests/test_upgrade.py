"""Upgrade checks: Ed25519 signatures against pinned keys, anti-replay, install id, 304 reuse."""

from __future__ import annotations

import copy

import pytest
from conftest import CANONICAL, upgrade_payload
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_livery import public_key_b64, sign
from livery_client import (
    AnswerMismatchError,
    BadRequest,
    CodeRevoked,
    ReplayError,
    ServiceUnavailable,
    SignatureError,
    verify_envelope,
)
from livery_client.transport import parse_retry_after


def test_signed_answer_is_verified_and_returned(livery, make_client):
    decision = make_client().check_upgrade("5.2.0", "windows-x64")

    assert decision.action == "passive" and decision.reason == "offered"
    assert decision.key_id == "k1" and decision.serial == 5 and decision.channel == "stable"
    assert decision.target.version == "5.3.0" and decision.target.platform == "windows-x64"
    query = livery.hits("/v1/upgrade")[0].query
    assert query["version"] == "5.2.0" and query["platform"] == "windows-x64" and query["install_id"]


def test_poll_url_comes_from_the_discovery_template(livery, make_client):
    client = make_client()
    client.launch()
    client.check_upgrade("5.2.0", "windows-x64")
    assert livery.hits("/v1/upgrade")[0].path == f"/v1/upgrade/{CANONICAL}"


def test_tampered_payload_is_rejected(livery, make_client, cache_dir):
    def tamper(envelope):
        envelope = copy.deepcopy(envelope)
        envelope["payload"]["target"]["installer_url"] = "https://evil.example/malware.exe"
        return envelope

    livery.envelope_hook = tamper
    with pytest.raises(SignatureError, match="does not verify"):
        make_client().check_upgrade("5.2.0", "windows-x64")
    assert not (cache_dir / "upgrade" / "state.json").exists()  # nothing from it was remembered


def test_unknown_key_id_is_rejected(livery, make_client):
    other = Ed25519PrivateKey.generate()
    livery.envelope_hook = lambda envelope: sign(envelope["payload"], other, "k9")
    with pytest.raises(SignatureError, match="no pinned public key"):
        make_client().check_upgrade("5.2.0", "windows-x64")


def test_no_pinned_keys_means_no_trust(livery, make_client):
    with pytest.raises(SignatureError):
        make_client(public_keys=None).check_upgrade("5.2.0", "windows-x64")


def test_rotation_accepts_the_pinned_next_key(livery, make_client):
    nxt = Ed25519PrivateKey.generate()
    livery.envelope_hook = lambda envelope: sign(envelope["payload"], nxt, "k2")
    keys = {"k1": livery.public_key, "k2": public_key_b64(nxt)}
    assert make_client(public_keys=keys).check_upgrade("5.2.0", "windows-x64").key_id == "k2"


def test_lower_serial_is_rejected_as_replay(livery, make_client):
    make_client().check_upgrade("5.2.0", "windows-x64")  # serial 5 accepted
    livery.upgrade[CANONICAL] = lambda query: upgrade_payload(query, serial=4, action="none")

    with pytest.raises(ReplayError):
        make_client().check_upgrade("5.2.0", "windows-x64")

    livery.upgrade[CANONICAL] = lambda query: upgrade_payload(query, serial=6, action="none")
    assert make_client().check_upgrade("5.2.0", "windows-x64").serial == 6


def test_answer_to_another_question_is_rejected(livery, make_client):
    livery.upgrade[CANONICAL] = lambda query: upgrade_payload({**query, "version": "4.0.0"}, url="https://x/i.msi")
    with pytest.raises(AnswerMismatchError):
        make_client().check_upgrade("5.2.0", "windows-x64")


def test_answer_for_another_code_is_rejected(livery, make_client):
    livery.upgrade[CANONICAL] = lambda query: {
        **upgrade_payload(query, url="https://x/i.msi"),
        "access_code_digest": "0" * 64,
    }
    with pytest.raises(AnswerMismatchError, match="another access code"):
        make_client().check_upgrade("5.2.0", "windows-x64")


def test_install_id_is_stable_across_clients(livery, make_client):
    first = make_client().install_id()
    make_client().check_upgrade("5.2.0", "windows-x64")
    make_client().check_upgrade("5.2.0", "windows-x64")
    sent = {hit.query["install_id"] for hit in livery.hits("/v1/upgrade")}
    assert sent == {first}


def test_not_modified_reuses_the_verified_answer(livery, make_client):
    first = make_client().check_upgrade("5.2.0", "windows-x64")
    second = make_client().check_upgrade("5.2.0", "windows-x64")

    assert "If-None-Match" in livery.hits("/v1/upgrade")[1].headers
    assert second.from_cache and not first.from_cache
    assert {**second.to_dict(), "from_cache": False} == first.to_dict()


def test_bad_version_is_a_bad_request(livery, make_client):
    with pytest.raises(BadRequest):
        make_client().check_upgrade("", "windows-x64")


def test_verify_envelope_rejects_a_malformed_signature(livery):
    envelope = sign({"a": 1}, livery.signing_key, "k1")
    envelope["signature"]["value"] = "not base64!"
    with pytest.raises(SignatureError, match="malformed"):
        verify_envelope(envelope, {"k1": livery.public_key})


def test_revoked_code_on_upgrade_clears_the_cache(livery, make_client, cache_dir):
    make_client().check_upgrade("5.2.0", "windows-x64")
    livery.code_status[CANONICAL] = 410
    with pytest.raises(CodeRevoked):
        make_client().check_upgrade("5.2.0", "windows-x64")
    assert not cache_dir.exists()


def test_rate_limiting_carries_retry_after(livery, make_client):
    livery.fail_status, livery.retry_after = 429, "120"
    with pytest.raises(ServiceUnavailable) as info:
        make_client().check_upgrade("5.2.0", "windows-x64")
    assert info.value.status == 429 and info.value.retry_after == 120


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Sun, 29 Nov 2026 01:00:30 GMT", now=1795914000.0) == 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
