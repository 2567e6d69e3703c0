"""Signed upgrade answers: Ed25519 over canonical JSON, key rings and their key files.

A signed answer is an envelope ``{"payload": {...}, "signature": {"alg", "key_id", "value"}}``;
the signature covers ``canonical_bytes(payload)``, so a client can verify an answer wherever it
was served from (origin, CDN, a file) with the public keys of ``GET /v1/keys``.

Rotation: a ring holds several keys; one is *active* (signs), the others are published as
*next* so that clients already trust a key before it signs anything, and keep trusting a retired
one until the answers it signed have expired. Keys live as ``<key_id>.pem`` files (PKCS8).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.formats import canonical_json

ALG = "Ed25519"
KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
DEV_KEY_IDS = ("k1", "k2")
# RFC 8785 (JCS) writes numbers as ECMAScript does; integers beyond 2**53 would lose precision there.
_MAX_SAFE_INT = 2**53 - 1
_FLAT_TYPES = frozenset({str, bool, type(None)})


class SignatureInvalid(ValueError):
    """An envelope that does not verify; the message says why, for logs (never for clients)."""


class KeyConfigError(ValueError):
    """Signing keys are missing or unusable; the message names the directory or file."""


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _canonical(value: Any, where: str) -> Any:
    if isinstance(value, float):
        raise TypeError(f"{where}: floats are not allowed in signed payloads; use an int or a string")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INT:
        raise TypeError(f"{where}: integer {value} is beyond 2**53 - 1; use a string")
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{where}: object keys must be strings")
        # JCS orders keys by UTF-16 code units; for keys within the BMP that is Python's own order.
        return {key: _canonical(value[key], f"{where}.{key}") for key in sorted(value, key=_utf16_key)}
    raise TypeError(f"{where}: {type(value).__name__} is not allowed in signed payloads")


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    """The signed form of ``payload``: RFC 8785 (JCS) JSON for str, int, bool, None, list and dict values.

    It is ``json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in
    UTF-8, which equals JCS when there are no floats (refused, TypeError: their text form differs
    between languages), no integers beyond 2**53 (refused) and keys ordered by UTF-16 code units
    (done here; it only differs from Python's order for keys mixing astral and high-BMP
    characters). Lone surrogates cannot be encoded and raise UnicodeEncodeError.
    """
    if not isinstance(payload, dict):
        raise TypeError("a signed payload must be a JSON object (dict)")
    if all(type(v) in _FLAT_TYPES for v in payload.values()) and all(type(k) is str and k.isascii() for k in payload):
        # a flat object of strings, booleans and nulls with ASCII keys (e.g. a licence answer) has
        # nothing to refuse or reorder beyond sorting: skip the walk (the hot path signs per request)
        return canonical_json(payload)
    return canonical_json(_canonical(payload, "payload"), sort_keys=False)  # _canonical ordered the keys


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 private key and the id clients know its public half by."""

    key_id: str
    private: Ed25519PrivateKey

    def public_b64(self) -> str:
        """The raw 32-byte public key, standard base64."""
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    def sign(self, data: bytes) -> str:
        """The 64-byte Ed25519 signature of ``data``, standard base64."""
        return base64.b64encode(self.private.sign(data)).decode("ascii")


class KeyRing:
    """The published signing keys, one of them active."""

    def __init__(self, keys: list[SigningKey], active_id: str) -> None:
        ids = [key.key_id for key in keys]
        if not keys:
            raise KeyConfigError("A key ring needs at least one key.")
        if len(set(ids)) != len(ids):
            raise KeyConfigError(f"Duplicate key ids in the key ring: {sorted(ids)}.")
        if active_id not in ids:
            raise KeyConfigError(f"The active key {active_id!r} is not among the keys: {', '.join(sorted(ids))}.")
        self.keys = sorted(keys, key=lambda key: key.key_id)
        self.active_id = active_id

    @property
    def active(self) -> SigningKey:
        """The key that signs now."""
        return next(key for key in self.keys if key.key_id == self.active_id)

    def public_keys(self) -> list[dict[str, str]]:
        """Every public key with its status, the active one first (what ``GET /v1/keys`` shows)."""
        ordered = sorted(self.keys, key=lambda key: (key.key_id != self.active_id, key.key_id))
        return [
            {
                "key_id": key.key_id,
                "alg": ALG,
                "public_key": key.public_b64(),
                "status": "active" if key.key_id == self.active_id else "next",
            }
            for key in ordered
        ]


def sign_payload(ring: KeyRing, payload: dict[str, Any]) -> dict[str, Any]:
    """The envelope of ``payload`` signed with the ring's active key."""
    key = ring.active
    return {
        "payload": payload,
        "signature": {"alg": ALG, "key_id": key.key_id, "value": key.sign(canonical_bytes(payload))},
    }


def signed_envelope_bytes(ring: KeyRing, payload: dict[str, Any]) -> bytes:
    """``canonical_bytes(sign_payload(ring, payload))``, walking the payload once instead of twice.

    The envelope's canonical form is its two members in key order, the payload's canonical bytes
    being exactly what the signature covers; per-request answers (licence checks) pay this once.
    """
    data = canonical_bytes(payload)
    key = ring.active
    signature = canonical_bytes({"alg": ALG, "key_id": key.key_id, "value": key.sign(data)})
    return b'{"payload":' + data + b',"signature":' + signature + b"}"


def _b64(value: Any, length: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length:
        raise SignatureInvalid(f"{what} is not {length} bytes of standard base64")
    return raw


def verify_envelope(envelope: Mapping[str, Any], public_keys: Mapping[str, str]) -> dict[str, Any]:
    """The payload of ``envelope`` when its signature verifies with ``public_keys`` (key id → base64)."""
    if not isinstance(envelope, Mapping) or set(envelope) != {"payload", "signature"}:
        raise SignatureInvalid("not an envelope: expected exactly 'payload' and 'signature'")
    payload, signature = envelope["payload"], envelope["signature"]
    if not isinstance(payload, dict) or not isinstance(signature, Mapping):
        raise SignatureInvalid("payload and signature must be objects")
    if signature.get("alg") != ALG:
        raise SignatureInvalid(f"unsupported algorithm {signature.get('alg')!r}")
    key_id = signature.get("key_id")
    if not isinstance(key_id, str) or key_id not in public_keys:
        raise SignatureInvalid(f"unknown key id {key_id!r}")
    value = _b64(signature.get("value"), 64, "the signature")
    public = Ed25519PublicKey.from_public_bytes(_b64(public_keys[key_id], 32, f"public key {key_id!r}"))
    try:
        public.verify(value, canonical_bytes(payload))
    except (InvalidSignature, TypeError, ValueError) as exc:
        raise SignatureInvalid(f"the signature does not match the payload (key {key_id!r})") from exc
    return payload


def _key_path(directory: Path, key_id: str) -> Path:
    if not isinstance(key_id, str) or not KEY_ID_RE.fullmatch(key_id):
        raise KeyConfigError(f"Key id {key_id!r} must be 1 to 64 letters, digits, '.', '_' or '-'.")
    return directory / f"{key_id}.pem"


def generate_key_file(directory: str | os.PathLike[str], key_id: str) -> Path:
    """Create a new private key as ``<directory>/<key_id>.pem`` (mode 0600); FileExistsError if it exists."""
    directory = Path(directory)
    path = _key_path(directory, key_id)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written in full to a private temporary file (mkstemp: O_EXCL, 0600), then hard-linked into
    # place: link() refuses an existing name, so a racing process never clobbers a key, and a
    # reader never sees a half-written one.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key_id}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path


def _load_key(path: Path) -> SigningKey:
    key_id = path.stem
    _key_path(path.parent, key_id)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyConfigError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyConfigError(f"{path} holds a {type(private).__name__}, not an Ed25519 key.")
    return SigningKey(key_id, private)


def load_key_ring(directory: str | os.PathLike[str], active_id: str | None) -> KeyRing:
    """Every ``*.pem`` key of ``directory``; the active one is ``active_id`` or else the smallest id."""
    directory = Path(directory)
    paths = sorted(directory.glob("*.pem")) if directory.is_dir() else []
    if not paths:
        raise KeyConfigError(f"No signing key (*.pem) in {directory}; create one with generate_key_file.")
    keys = [_load_key(path) for path in paths]
    active = active_id or min(key.key_id for key in keys)
    if active not in {key.key_id for key in keys}:
        raise KeyConfigError(f"The active signing key {active!r} is not in {directory}.")
    return KeyRing(keys, active)


def ensure_dev_keys(directory: str | os.PathLike[str]) -> None:
    """Create keys k1 (active) and k2 (next) when ``directory`` holds no key, so a fresh checkout can sign."""
    directory = Path(directory)
    present = {path.stem for path in directory.glob("*.pem")} if directory.is_dir() else set()
    if present - set(DEV_KEY_IDS) or present >= set(DEV_KEY_IDS):
        return  # the common case writes nothing, so a read-only key directory is fine
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The workers of a fresh checkout start together: under the lock "empty? then create both" is
    # one step, and a worker that saw k1 without k2 waits here for k2, so every worker loads and
    # publishes the same keys.
    with open(directory / ".dev-keys.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if any(directory.glob("*.pem")):
            return
        for key_id in DEV_KEY_IDS:
            # A process creating keys by hand may still get there first: its key is as good as ours.
            with contextlib.suppress(FileExistsError):
                generate_key_file(directory, key_id)
