"""Upgrade-answer signatures: canonical bytes, Ed25519 verification against pinned keys.

A client trusts the keys it was built with, not whatever ``/v1/keys`` says today: an attacker who
can answer for the service could answer that endpoint too. Rotation works because the service
publishes the *next* key long before it signs with it, and builds pin both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from livery_client.errors import SignatureError

ALGORITHM = "Ed25519"


def canonical_bytes(payload: Any) -> bytes:
    """The signed bytes of ``payload``: sorted keys, no whitespace, UTF-8 (RFC 8785 for this data)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_base64(value: str, length: int, what: str) -> bytes:
    """Strict base64 of exactly ``length`` bytes; ValueError otherwise."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes, not {len(raw)}")
    return raw


def load_public_key(value: str) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 of its raw 32 bytes; ValueError when malformed."""
    return Ed25519PublicKey.from_public_bytes(decode_base64(value, 32, "public key"))


def key_fingerprint(value: str) -> str:
    """A short, comparable fingerprint of a base64 public key (for trust-on-first-use prompts)."""
    return hashlib.sha256(decode_base64(value, 32, "public key")).hexdigest()[:16]


def parse_keys_document(document: Any) -> dict[str, str]:
    """key_id → base64 public key from a ``/v1/keys`` document (active and next Ed25519 keys)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a keys document")
    keys: dict[str, str] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("alg") != ALGORITHM:
            continue
        if entry.get("status", "active") not in ("active", "next"):
            continue
        key_id, public = entry.get("key_id"), entry.get("public_key")
        if isinstance(key_id, str) and isinstance(public, str):
            load_public_key(public)  # refuse to pin garbage
            keys[key_id] = public
    return keys


def verify_envelope(envelope: Any, public_keys: Mapping[str, str] | None) -> tuple[dict[str, Any], str]:
    """The verified (payload, key_id) of a signed envelope; SignatureError when it cannot be trusted."""
    if not isinstance(envelope, dict):
        raise SignatureError("the upgrade answer is not a signed envelope")
    payload, signature = envelope.get("payload"), envelope.get("signature")
    if not isinstance(payload, dict) or not isinstance(signature, dict):
        raise SignatureError("the upgrade answer has no payload or no signature")
    if signature.get("alg") != ALGORITHM:
        raise SignatureError(f"unsupported signature algorithm {signature.get('alg')!r}")
    key_id = signature.get("key_id")
    if not isinstance(key_id, str) or not public_keys or key_id not in public_keys:
        raise SignatureError(f"no pinned public key with id {key_id!r}; pinned: {sorted(public_keys or {})}")
    try:
        value = decode_base64(signature.get("value"), 64, "signature")
        load_public_key(public_keys[key_id]).verify(value, canonical_bytes(payload))
    except ValueError as exc:
        raise SignatureError(f"malformed signature or key {key_id!r}: {exc}") from exc
    except InvalidSignature as exc:
        raise SignatureError(f"the upgrade answer's signature does not verify with key {key_id!r}") from exc
    return payload, key_id
