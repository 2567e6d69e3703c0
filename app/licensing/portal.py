"""The portal method: the partner's licensed users, from the worker's index (portal_index.py).

The database is asked only to rank the users of a customer or reseller with a seat cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.licensing.methods import CheckRequest, Verdict
from app.licensing.models import Customer, LicensedUser, Reseller
from app.licensing.portal_index import PortalIndex
from app.licensing.portal_rules import PortalUser, decide_portal

_LOOKUP = (
    select(
        LicensedUser.id,
        LicensedUser.status,
        LicensedUser.licence_type,
        LicensedUser.customer_id,
        Customer.seat_cap,
        LicensedUser.reseller_id,
        Reseller.seat_cap,
    )
    .join(Customer, Customer.id == LicensedUser.customer_id)
    .outerjoin(Reseller, Reseller.id == LicensedUser.reseller_id)
)


def _rank(session: Session, column: Any, owner_id: int, user_id: int) -> int:
    """1-based rank of ``user_id`` among the active users of ``owner_id`` (customer or reseller)."""
    count = select(func.count()).where(
        and_(column == owner_id, LicensedUser.status == "active", LicensedUser.id <= user_id)
    )
    return session.scalar(count) or 0


def find_portal_user(session: Session, partner_id: int, user_key: str) -> PortalUser | None:
    """The portal's record of ``user_key`` at ``partner_id``, seats ranked only where a cap applies."""
    row = session.execute(
        _LOOKUP.where(LicensedUser.partner_id == partner_id, LicensedUser.user_key == user_key)
    ).first()
    if row is None:
        return None
    user_id, status, licence_type, customer_id, customer_cap, reseller_id, reseller_cap = row
    active = status == "active"
    return PortalUser(
        licensed_user_id=user_id,
        status=status,
        licence_type=licence_type,
        customer_id=customer_id,
        customer_cap=customer_cap,
        reseller_id=reseller_id,
        reseller_cap=reseller_cap,
        customer_rank=_rank(session, LicensedUser.customer_id, customer_id, user_id)
        if active and customer_cap is not None
        else None,
        reseller_rank=_rank(session, LicensedUser.reseller_id, reseller_id, user_id)
        if active and reseller_cap is not None
        else None,
    )


class PortalMethod:
    """Answers from the licensed users of the admin API and SCIM (bound to one app's database)."""

    name = "portal"

    def __init__(self, make_session: sessionmaker, index: PortalIndex) -> None:
        self._make_session = make_session
        self.index = index

    def check(self, request: CheckRequest, settings: Mapping[str, Any]) -> Verdict:
        """The portal's verdict for one user: from memory, unless a seat cap needs the ranks."""
        seat = self.index.lookup(request.partner_id, request.user_id)
        capped = seat is not None and (
            seat.customer_id in self.index.customer_caps or seat.reseller_id in self.index.reseller_caps
        )
        if seat is None or seat.status != "active" or not capped:
            user = None if seat is None else PortalUser(None, seat.status, seat.licence_type, seat.customer_id,
                                                        None, seat.reseller_id, None)  # fmt: skip
            return decide_portal(user)
        with self._make_session() as session:
            return decide_portal(find_portal_user(session, request.partner_id, request.user_id))
