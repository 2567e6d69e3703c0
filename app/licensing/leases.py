"""Leases (pure): how long a check's answer lets a client run offline, and the answer's payload."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from app.licensing.methods import Verdict

DEFAULT_LEASE_DAYS = 7
DEFAULT_GRACE_LEASE_HOURS = 24
# an "unavailable" answer is valid this long; it carries no permission (licensed is false), it
# tells the client when to ask again; a client keeps running on an older unexpired lease
UNAVAILABLE_LEASE = timedelta(minutes=15)


def quantised(moment: datetime) -> datetime:
    """The start of ``moment``'s minute: a check without a nonce is answered as issued then
    (``lease_until`` follows), so such checks of one user and installation within a minute get
    the same signed bytes (check.SignedAnswers)."""
    return moment.replace(second=0, microsecond=0)


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 with whole seconds and ``Z``."""
    m = moment.astimezone(UTC)  # formatted by hand: strftime costs more than the rest of a lease
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def lease_until(verdict: Verdict, now: datetime, settings: Mapping[str, Any]) -> datetime:
    """Until when the answer holds: ``lease_days`` when valid, ``grace_lease_hours`` in grace,
    a short time when unavailable, and no time at all (``now``) when not licensed."""
    now = now.replace(microsecond=0)
    if verdict.status == "valid":
        return now + timedelta(days=settings.get("lease_days", DEFAULT_LEASE_DAYS))
    if verdict.status == "grace":
        return now + timedelta(hours=settings.get("grace_lease_hours", DEFAULT_GRACE_LEASE_HOURS))
    if verdict.status == "unavailable":
        return now + UNAVAILABLE_LEASE
    return now


def check_payload(
    verdict: Verdict,
    *,
    method: str,
    user_key: str,
    access_code_digest: str,
    install_id: str,
    nonce: str | None,
    now: datetime,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The signed payload of a licence check answer (the public protocol's exact fields)."""
    return {
        "licensed": verdict.licensed,
        "status": verdict.status,
        "licence_type": verdict.licence_type if verdict.licensed else None,
        "user_id": user_key,
        "method": method,
        "access_code_digest": access_code_digest,
        "install_id": install_id,
        "nonce": nonce,
        "issued_at": rfc3339(now),
        "lease_until": rfc3339(lease_until(verdict, now, settings)),
    }
