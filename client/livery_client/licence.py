"""Licence checks: ask, verify the signed answer and its nonce, keep the lease for offline use.

A lease is the service's signed permission to run until ``lease_until``. Each licensed answer's
envelope is stored (per user); when the service cannot be reached, or answers ``unavailable``,
a stored lease that still verifies with the pinned keys and has not expired lets the client
run. An answer that says the user is not licensed deletes that user's stored lease.

At launch (``when_due``) a lease in the first half of its life answers without a request. Past
half, it still answers the launch, and the renewal is scheduled *after* the launch at a random
moment within the renewal spread (``renew_at``), never later than the point where the lease would
have a quarter of its life left; only a launch with no usable lease, or with less than a quarter
of it left (a renewal that did not happen), checks in the launch. So a fleet started together at
9 am does not send its renewals inside its launches (docs/client-protocol.md § 7).
"""

from __future__ import annotations

import random
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
DEFAULT_RENEWAL_SPREAD = 600.0  # seconds: a launch's renewal happens within this long after it
MAX_RENEWAL_SPREAD = 3600.0


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
    reused: bool = False  # True: the stored lease answered this launch (when_due), nothing was asked
    # epoch seconds: renew the lease then (after the launch), or None: nothing to renew yet
    renew_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)

    def renewal_delay(self, now: float) -> float | None:
        """Seconds from ``now`` until the renewal is due (0: due now), or None: no renewal due."""
        return None if self.renew_at is None else max(0.0, self.renew_at - now)


def check_spread(spread: float | None) -> float | None:
    """``spread`` if it is a valid renewal spread (0 to MAX_RENEWAL_SPREAD seconds, or None), else ValueError."""
    if spread is not None and not 0 <= spread <= MAX_RENEWAL_SPREAD:
        raise ValueError(f"renewal spread must be between 0 and {MAX_RENEWAL_SPREAD:.0f} seconds, or None")
    return spread


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


def lease_fraction_passed(lease: Licence, now: float) -> float:
    """How much of the lease's life has passed at ``now`` (0 at issue, 1 at its end)."""
    issued, until = _epoch(lease.issued_at), _epoch(lease.lease_until)
    if now < issued or until <= issued:
        return 1.0  # issued in the future (a clock set back) or no life at all: treat as used up
    return (now - issued) / (until - issued)


def lease_in_first_half(
    cache: ClientCache, key: str, canonical_code: str, public_keys: Mapping[str, str] | None, now: float
) -> Licence | None:
    """The stored lease while less than half its life has passed (a launch need not ask then), else None."""
    lease = stored_lease(cache, key, canonical_code, public_keys, now)
    return lease if lease is not None and lease_fraction_passed(lease, now) < 0.5 else None


def renewal_time(lease: Licence, now: float, spread: float, rng: random.Random | None = None) -> float:
    """When to renew a lease past half its life: a random moment within ``spread`` seconds of ``now``,
    never later than the point where the lease has a quarter of its life left."""
    issued, until = _epoch(lease.issued_at), _epoch(lease.lease_until)
    latest = issued + 0.75 * (until - issued)
    return max(now, min(now + (rng or random).uniform(0, spread), latest))


def launch_lease(
    cache: ClientCache,
    key: str,
    canonical_code: str,
    public_keys: Mapping[str, str] | None,
    now: float,
    spread: float | None,
    rng: random.Random | None = None,
) -> Licence | None:
    """The stored lease if it can answer a launch without a request, with its ``renew_at``; else None.

    First half of its life: no renewal. Past half with more than a quarter left (and a spread):
    the renewal time recorded at an earlier launch, or a new one (recorded); a recorded time
    already past means "renew right after this launch". Otherwise None: the launch checks.
    """
    lease = stored_lease(cache, key, canonical_code, public_keys, now)
    if lease is None:
        return None
    passed = lease_fraction_passed(lease, now)
    if passed < 0.5:
        return Licence(**{**lease.to_dict(), "reused": True})
    if spread is None or passed >= 0.75:
        return None
    renew_at = cache.load_lease_renewal(key)
    if renew_at is None:
        renew_at = renewal_time(lease, now, spread, rng)
        cache.store_lease_renewal(key, renew_at)
    return Licence(**{**lease.to_dict(), "reused": True, "renew_at": renew_at})


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
    renewal_spread: float | None = DEFAULT_RENEWAL_SPREAD,
    rng: random.Random | None = None,
) -> Licence:
    """Check ``user_id``; offline (or on ``unavailable``) fall back to a stored unexpired lease.

    ``when_due`` (a launch): a stored lease answers without a request (``reused``) while less than
    half its life has passed; past half it still answers, with ``renew_at`` set (a moment within
    ``renewal_spread`` seconds, at most three quarters into the lease): the caller renews then,
    after the launch (:func:`check_licence` without ``when_due``). With no usable lease, or less
    than a quarter of it left, the launch asks. ``renewal_spread=None`` is the behaviour before
    the spread: past half its life, the launch itself asks.

    A not-licensed answer is a Licence with ``licensed=False``, not an exception. Raises
    ServiceUnavailable when the service is unreachable and no unexpired lease is stored, and a
    VerificationError when the answer's signature, nonce, code, installation or user do not match.
    """
    key = user_key(user_id)
    if when_due and (lease := launch_lease(cache, key, canonical_code, public_keys, clock(), renewal_spread, rng)):
        return lease
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
