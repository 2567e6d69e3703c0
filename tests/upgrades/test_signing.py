"""Signing: canonical bytes, envelopes, rotation and key files."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from app.upgrades import signing
from app.upgrades.signing import (
    KeyConfigError,
    KeyRing,
    SignatureInvalid,
    SigningKey,
    canonical_bytes,
    ensure_dev_keys,
    generate_key_file,
    load_key_ring,
    sign_payload,
    signed_envelope_bytes,
    verify_envelope,
)

PAYLOAD = {"action": "passive", "target": {"version": "5.3.0", "bytes": 73400320}, "serial": 12, "notes": "Grüße"}


def key(key_id: str) -> SigningKey:
    return SigningKey(key_id, Ed25519PrivateKey.generate())


def published(ring: KeyRing) -> dict[str, str]:
    return {k["key_id"]: k["public_key"] for k in ring.public_keys()}


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing([key("k1"), key("k2")], "k1")


def test_canonical_bytes_are_sorted_compact_utf8():
    assert canonical_bytes({"b": [1, True, None], "a": "é", "c": {"z": 1, "y": "\n"}}) == (
        '{"a":"é","b":[1,true,null],"c":{"y":"\\n","z":1}}'.encode()
    )


def test_canonical_bytes_match_the_plain_json_dumps_form():
    expected = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert canonical_bytes(PAYLOAD) == expected


def test_keys_are_ordered_by_utf16_code_units_as_in_jcs():
    # U+FF61 sorts before U+1F600 by code point, after it by UTF-16 code unit (0xD83D).
    assert canonical_bytes({"\uff61": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\uff61":1}'.encode()


@pytest.mark.parametrize(
    "payload",
    [
        {"percent": 12.5},
        {"nested": [{"x": 1.0}]},
        {"big": 2**53},
        {1: "int key"},
        {"when": object()},
        ["not", "a dict"],
    ],
    ids=["float", "nested-float", "big-int", "int-key", "object", "list"],
)
def test_non_canonical_values_are_refused(payload):
    with pytest.raises(TypeError):
        canonical_bytes(payload)


def test_sign_then_verify_with_the_published_key(ring):
    envelope = sign_payload(ring, PAYLOAD)
    assert envelope["signature"]["alg"] == "Ed25519" and envelope["signature"]["key_id"] == "k1"
    assert len(base64.b64decode(envelope["signature"]["value"])) == 64
    assert verify_envelope(json.loads(json.dumps(envelope)), published(ring)) == PAYLOAD


def test_public_keys_list_the_active_key_first(ring):
    keys = ring.public_keys()
    assert [(k["key_id"], k["status"], k["alg"]) for k in keys] == [
        ("k1", "active", "Ed25519"),
        ("k2", "next", "Ed25519"),
    ]
    assert all(len(base64.b64decode(k["public_key"])) == 32 for k in keys)
    assert ring.active.key_id == "k1"


def tampered(envelope: dict, change) -> dict:
    envelope = copy.deepcopy(envelope)
    change(envelope)
    return envelope


def _flip_signature_bit(envelope: dict) -> None:
    raw = bytearray(base64.b64decode(envelope["signature"]["value"]))
    raw[0] ^= 1
    envelope["signature"]["value"] = base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda e: e["payload"].update(serial=13), "does not match"),
        (lambda e: e["payload"]["target"].update(version="5.3.1"), "does not match"),
        (lambda e: e["payload"].update(extra="x"), "does not match"),
        (_flip_signature_bit, "does not match"),
        (lambda e: e["signature"].update(value="not base64!"), "base64"),
        (lambda e: e["signature"].update(value=base64.b64encode(b"short").decode()), "64 bytes"),
        (lambda e: e["signature"].update(key_id="k9"), "unknown key id"),
        (lambda e: e["signature"].update(key_id="k2"), "does not match"),
        (lambda e: e["signature"].update(alg="HS256"), "unsupported algorithm"),
        (lambda e: e.update(extra=1), "not an envelope"),
        (lambda e: e.pop("signature"), "not an envelope"),
        (lambda e: e.update(payload=[1]), "must be objects"),
        (lambda e: e["payload"].update(serial=12.0), "does not match"),
    ],
    ids=["payload", "nested-payload", "added-field", "signature-bit", "signature-garbage", "signature-short",
         "unknown-key", "other-key", "alg", "extra-envelope-field", "no-signature", "payload-not-object",
         "float-payload"],
)  # fmt: skip
def test_tampering_fails(ring, change, says):
    envelope = tampered(sign_payload(ring, PAYLOAD), change)
    with pytest.raises(SignatureInvalid, match=says):
        verify_envelope(envelope, published(ring))


def test_a_bad_published_key_fails_cleanly(ring):
    envelope = sign_payload(ring, PAYLOAD)
    with pytest.raises(SignatureInvalid, match="public key"):
        verify_envelope(envelope, {"k1": "AAAA"})


def test_rotation_keeps_old_answers_valid():
    k1, k2 = key("k1"), key("k2")
    before = KeyRing([k1, k2], "k1")
    old_answer = sign_payload(before, PAYLOAD)
    after = KeyRing([k1, k2], "k2")  # k1 retired from signing but still published
    new_answer = sign_payload(after, PAYLOAD | {"serial": 13})
    assert new_answer["signature"]["key_id"] == "k2"
    assert verify_envelope(old_answer, published(after)) == PAYLOAD
    assert verify_envelope(new_answer, published(after))["serial"] == 13
    assert verify_envelope(new_answer, published(before))["serial"] == 13  # clients trusted k2 before it signed
    assert [k["status"] for k in after.public_keys()] == ["active", "next"]


@pytest.mark.parametrize(
    ("keys", "active", "says"),
    [([], "k1", "at least one"), (["k1", "k1"], "k1", "Duplicate"), (["k1"], "k2", "not among")],
)
def test_key_ring_misconfiguration(keys, active, says):
    with pytest.raises(KeyConfigError, match=says):
        KeyRing([key(k) for k in keys], active)


def test_key_file_is_private_pkcs8_pem(tmp_path):
    path = generate_key_file(tmp_path / "keys", "k1")
    assert path == tmp_path / "keys" / "k1.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in path.parent.iterdir()) == ["k1.pem"]  # no temporary file left


def test_key_file_mode_ignores_a_lax_umask(tmp_path):
    previous = os.umask(0)
    try:
        path = generate_key_file(tmp_path, "k1")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_generating_an_existing_key_never_clobbers_it(tmp_path):
    first = generate_key_file(tmp_path, "k1")
    original = first.read_bytes()
    with pytest.raises(FileExistsError):
        generate_key_file(tmp_path, "k1")
    assert first.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.pem"]


def test_racing_generators_leave_exactly_one_intact_key(tmp_path):
    outcomes: list[object] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        try:
            outcomes.append(generate_key_file(tmp_path, "k1"))
        except FileExistsError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Path) for o in outcomes) == 1
    assert sum(isinstance(o, FileExistsError) for o in outcomes) == 7
    ring = load_key_ring(tmp_path, None)  # the winner's file is complete and loadable
    assert ring.active.key_id == "k1"


def test_load_key_ring_from_files(tmp_path):
    for key_id in ["b", "a", "c.2026-11"]:
        generate_key_file(tmp_path, key_id)
    ring = load_key_ring(tmp_path, None)
    assert ring.active.key_id == "a"  # the smallest id when none is named
    assert [k["key_id"] for k in ring.public_keys()] == ["a", "b", "c.2026-11"]
    chosen = load_key_ring(tmp_path, "c.2026-11")
    assert chosen.active.key_id == "c.2026-11"
    envelope = sign_payload(chosen, PAYLOAD)
    assert verify_envelope(envelope, published(load_key_ring(tmp_path, "b"))) == PAYLOAD


@pytest.mark.parametrize(
    ("setup", "active", "says"),
    [
        (lambda d: None, None, "No signing key"),
        (lambda d: d.mkdir(), None, "No signing key"),
        (lambda d: generate_key_file(d, "k1"), "k2", "'k2' is not in"),
        (lambda d: (d.mkdir(), (d / "k1.pem").write_text("garbage")), None, "not an unencrypted PEM"),
        (lambda d: (generate_key_file(d, "k1"), (d / "bad name.pem").write_bytes((d / "k1.pem").read_bytes())), None,
         "must be 1 to 64"),
    ],
    ids=["no-directory", "empty-directory", "active-missing", "not-pem", "bad-key-id"],
)  # fmt: skip
def test_key_configuration_errors(tmp_path, setup, active, says):
    directory = tmp_path / "keys"
    setup(directory)
    with pytest.raises(KeyConfigError, match=says):
        load_key_ring(directory, active)


@pytest.mark.parametrize("key_id", ["", "../k1", "a/b", "x" * 65, "k 1"])
def test_key_ids_are_checked_before_any_file_is_written(tmp_path, key_id):
    with pytest.raises(KeyConfigError):
        generate_key_file(tmp_path, key_id)
    assert list(tmp_path.iterdir()) == []


def test_dev_keys_give_an_active_and_a_next_key(tmp_path):
    directory = tmp_path / "var" / "keys"
    ensure_dev_keys(directory)
    ring = load_key_ring(directory, None)
    assert [(k["key_id"], k["status"]) for k in ring.public_keys()] == [("k1", "active"), ("k2", "next")]
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    ensure_dev_keys(directory)  # a second start changes nothing
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before


def test_workers_starting_together_all_see_both_dev_keys(tmp_path, monkeypatch):
    directory = tmp_path / "keys"
    barrier = threading.Barrier(8)
    real_generate = signing.generate_key_file

    def slow_generate(*args):
        path = real_generate(*args)
        time.sleep(0.05)  # widen the window between k1 and k2 that other workers must not see
        return path

    monkeypatch.setattr(signing, "generate_key_file", slow_generate)
    seen: list[list[str]] = []

    def start_worker(delay: float) -> None:
        barrier.wait()
        time.sleep(delay)  # some arrive while the first is still between k1 and k2
        ensure_dev_keys(directory)
        seen.append([k["key_id"] for k in load_key_ring(directory, None).public_keys()])

    threads = [threading.Thread(target=start_worker, args=(n * 0.02,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [["k1", "k2"]] * 8


def test_dev_keys_are_not_added_beside_real_ones(tmp_path):
    generate_key_file(tmp_path, "prod-2026")
    ensure_dev_keys(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod-2026.pem"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_json_payload_round_trips_through_an_envelope(payload):
    ring = KeyRing([SigningKey("k1", _PROPERTY_KEY)], "k1")
    envelope = json.loads(canonical_bytes(sign_payload(ring, payload)))
    assert verify_envelope(envelope, published(ring)) == payload
    assert json.loads(canonical_bytes(payload)) == payload


_PROPERTY_KEY = Ed25519PrivateKey.generate()


def test_signed_envelope_bytes_equal_the_canonical_envelope(ring):
    for payload in (PAYLOAD, {"nonce": None, "é": "ü", "n": [1, {"b": True, "a": None}]}):
        assert signed_envelope_bytes(ring, payload) == canonical_bytes(sign_payload(ring, payload))
