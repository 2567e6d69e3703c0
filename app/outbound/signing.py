"""Standard Webhooks signatures for requests Livery sends (symmetric ``v1``, HMAC-SHA256).

Each request carries ``webhook-id`` (unique per message), ``webhook-timestamp`` (Unix seconds)
and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. A secret is
``whsec_`` + base64 of 32 random bytes, shown to the partner once; during a rotation a receiver
accepts either of two secrets, and Livery signs with the newest. The receiving side's recipe is
in docs/licensing-webservice.md; :func:`verify` is the same recipe, for Livery's own tests and
for any Livery endpoint that receives such requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random_source
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 300


class SignatureInvalid(ValueError):
    """The request's signature headers are missing, stale or do not verify."""


def new_secret() -> str:
    """A fresh signing secret (``whsec_`` + base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(32)).decode()


def secret_hint(secret: str) -> str:
    """The first characters of a secret: what reads and the audit log show of it."""
    return secret[: len(SECRET_PREFIX) + 4] + "…"


def new_message_id() -> str:
    """A unique ``webhook-id`` for one request."""
    return "msg_" + random_source.token_urlsafe(18)


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("A signing secret starts with 'whsec_'.")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, body: bytes, timestamp: int, message_id: str | None = None) -> dict[str, str]:
    """The three headers that sign a request with ``secret`` (the newest one during a rotation)."""
    message_id = message_id or new_message_id()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: int) -> None:
    """Raise SignatureInvalid unless one signature matches one of ``secrets`` and the timestamp is fresh."""
    lower = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp, signatures = (lower.get(n) for n in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (message_id and timestamp and signatures and timestamp.isdigit()):
        raise SignatureInvalid("webhook-id, webhook-timestamp and webhook-signature are required.")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureInvalid("The timestamp is outside the tolerance.")
    offered = signatures.split(" ")
    for secret in secrets:
        expected = signature(secret, message_id, int(timestamp), body)
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise SignatureInvalid("No signature matches.")
