"""The portal method's decision (pure): a licensed user's row and seats -> a verdict.

Seats: when a customer (or its reseller) has a seat cap, its active users are seated oldest
first (ascending id); a user whose rank among them exceeds the cap answers ``seat_limit``.
Lowering a cap therefore turns away the newest users, never the established ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.licensing.methods import Verdict


@dataclass(frozen=True)
class PortalUser:
    """What the portal knows about one user id at one partner."""

    licensed_user_id: int | None  # None when answered from the index (it keeps no row ids)
    status: str
    licence_type: str
    customer_id: int
    customer_cap: int | None
    reseller_id: int | None
    reseller_cap: int | None
    customer_rank: int | None = None  # 1-based rank among the customer's active users, when capped
    reseller_rank: int | None = None


def decide_portal(user: PortalUser | None) -> Verdict:
    """The verdict for a user found (or not) among the partner's licensed users."""
    if user is None:
        return Verdict("not_licensed", source={"kind": "allocation", "found": False})
    source = {"kind": "allocation", "found": True}
    if user.licensed_user_id is not None:
        source["licensed_user_id"] = user.licensed_user_id
    if user.status != "active":
        return Verdict("suspended", source=source)
    for rank, cap, what in (
        (user.customer_rank, user.customer_cap, "customer"),
        (user.reseller_rank, user.reseller_cap, "reseller"),
    ):
        if cap is not None and rank is not None and rank > cap:
            return Verdict("seat_limit", source={**source, "seat_limit_of": what, "cap": cap, "rank": rank})
    return Verdict("valid", licence_type=user.licence_type, source=source)
