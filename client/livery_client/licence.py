"""Licence checks: ask, verify the signed answer and its nonce, keep the lease for offline use.

A lease is the service's signed permission to run until ``lease_until``. Each licensed answer's
envelope is stored (per user); when the service cannot be reached, or answers ``unavailable``,
a stored lease that still verifies with the pinned keys and has not expired lets the client
run. An answer that says the user is not licensed deletes that user's stored lease.
"""

from __future__ import annotations

import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import requests

from livery_client.cache import ClientCache
from livery_client.codes import code_digest
from livery_client.errors import AnswerMismatchError, ServiceUnavailable, SignatureError
from livery_client.signing import verify_envelope
from livery_client.transport import ACCEPT_JSON, post_json, raise_for_status

STATUSES = ("valid", "not_licensed", "suspended", "seat_limit", "grace", "unavailable")


def user_key(user_id: str) -> str:
    """The user id as the service matches it: NFC, trimmed, case-folded (docs/licensing.md)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", user_id).strip().casefold())


@dataclass(frozen=True)
class Licence:
    """A verified licence answer (fresh, or a stored lease used offline)."""

    licensed: bool
    status: str
    licence_type: str | None
    user_id: str
    method: str
    issued_at: str
    lease_until: str
    key_id: str
    offline: bool = False  # True: the service was not reachable; this is the stored lease
    offline_reason: str | None = None
    reused: bool = False  # True: the stored lease is in the first half of its life, so nothing was asked

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)


def _epoch(stamp: Any) -> float:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _licence(payload: dict[str, Any], key_id: str, **extra: Any) -> Licence:
    if payload.get("status") not in STATUSES or not isinstance(payload.get("licensed"), bool):
        raise AnswerMismatchError("the licence answer has no known status")
    return Licence(
        licensed=payload["licensed"],
        status=payload["status"],
        licence_type=payload.get("licence_type"),
        user_id=str(payload.get("user_id")),
        method=str(payload.get("method")),
        issued_at=str(payload.get("issued_at")),
        lease_until=str(payload.get("lease_until")),
        key_id=key_id,
        **extra,
    )


def stored_lease(
    cache: ClientCache, key: str, canonical_code: str, public_keys: Mapping[str, str] | None, now: float
) -> Licence | None:
    """The stored lease of ``key`` if it verifies, is about this code and user, and has not expired."""
    envelope = cache.load_lease(key)
    if envelope is None:
        return None
    try:
        payload, key_id = verify_envelope(envelope, public_keys)
    except SignatureError:
        return None
    if payload.get("access_code_digest") != code_digest(canonical_code) or payload.get("user_id") != key:
        return None
    if payload.get("licensed") is not True or _epoch(payload.get("lease_until")) <= now:
        return None
    return _licence(payload, key_id)


def lease_in_first_half(
    cache: ClientCache, key: str, canonical_code: str, public_keys: Mapping[str, str] | None, now: float
) -> Licence | None:
    """The stored lease while less than half its life has passed (a launch need not ask then), else None."""
    lease = stored_lease(cache, key, canonical_code, public_keys, now)
    if lease is None:
        return None
    issued, until = _epoch(lease.issued_at), _epoch(lease.lease_until)
    return lease if issued <= now < issued + (until - issued) / 2 else None


def check_licence(
    session: requests.Session,
    cache: ClientCache,
    url: str,
    *,
    user_id: str,
    install_id: str,
    canonical_code: str,
    public_keys: Mapping[str, str] | None,
    timeout: float,
    clock: Callable[[], float] = time.time,
    when_due: bool = False,
) -> Licence:
    """Check ``user_id``; offline (or on ``unavailable``) fall back to a stored unexpired lease.

    ``when_due`` (a launch): a stored lease less than half through its life is used without asking
    (``reused``); the service is asked once half of it has passed, long before it runs out.

    A not-licensed answer is a Licence with ``licensed=False``, not an exception. Raises
    ServiceUnavailable when the service is unreachable and no unexpired lease is stored, and a
    VerificationError when the answer's signature, nonce, code, installation or user do not match.
    """
    key = user_key(user_id)
    if when_due and (lease := lease_in_first_half(cache, key, canonical_code, public_keys, clock())):
        return Licence(**{**lease.to_dict(), "reused": True})
    nonce = secrets.token_urlsafe(18)
    body = {"access_code": canonical_code, "user_id": user_id, "install_id": install_id, "nonce": nonce}
    try:
        response = post_json(session, url, body, timeout=timeout, headers={"Accept": ACCEPT_JSON})
        raise_for_status(response)
    except ServiceUnavailable as exc:
        lease = stored_lease(cache, key, canonical_code, public_keys, clock())
        if lease is None:
            raise ServiceUnavailable(f"{exc}; and no unexpired lease is stored for this user") from exc
        return Licence(**{**lease.to_dict(), "offline": True, "offline_reason": str(exc)})
    try:
        envelope = response.json()
    except ValueError as exc:
        raise ServiceUnavailable("the licence answer is not JSON") from exc
    payload, key_id = verify_envelope(envelope, public_keys)
    if payload.get("nonce") != nonce:
        raise AnswerMismatchError("the licence answer does not echo this request's nonce (a replay?)")
    if payload.get("access_code_digest") != code_digest(canonical_code) or payload.get("install_id") != install_id:
        raise AnswerMismatchError("the licence answer is about another access code or installation")
    if payload.get("user_id") != key:
        raise AnswerMismatchError("the licence answer is about another user")
    licence = _licence(payload, key_id)
    if licence.licensed:
        cache.store_lease(key, envelope)
    elif licence.status == "unavailable":
        lease = stored_lease(cache, key, canonical_code, public_keys, clock())
        if lease is not None:
            return Licence(
                **{**lease.to_dict(), "offline": True, "offline_reason": "the licensing method is unavailable"}
            )
    else:
        cache.drop_lease(key)
    return licence
