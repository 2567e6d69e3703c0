"""The contract between the licence check and the methods that answer it (pure).

The check normalises the user id, picks the method the brand announces, asks it for a
``Verdict`` and turns that into the signed answer and lease. A method never signs, never
writes usage facts and never raises for "not licensed": that is a verdict too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

STATUSES = ("valid", "not_licensed", "suspended", "seat_limit", "grace", "unavailable")
Status = Literal["valid", "not_licensed", "suspended", "seat_limit", "grace", "unavailable"]


@dataclass(frozen=True)
class Verdict:
    """What a method found for one user: the status, the licence type and where it came from."""

    status: Status
    licence_type: str | None = None
    # where the answer came from, for the explain tool: e.g. {"kind": "cache", "age_seconds": 12}
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def licensed(self) -> bool:
        """True when the client may run: a valid answer or a grace answer from a last known good one."""
        return self.status in ("valid", "grace")


@dataclass(frozen=True)
class CheckRequest:
    """One licence check as a method sees it: the partner, the normalised user id, optional proof."""

    partner_id: int
    user_id: str
    proof: str | None
    now: datetime


class LicensingMethod(Protocol):
    """A way of answering licence checks for one partner, configured by its settings."""

    name: str

    def check(self, request: CheckRequest, settings: Mapping[str, Any]) -> Verdict:
        """The verdict for one user; bounded in time, never raises for an unreachable backend."""
        ...
