"""The portal's licensed users in each worker's memory: a check is one dictionary lookup.

Every licensed user of every partner is one entry: a 64-bit key (blake2b of partner id and
matching key; a false match needs a 2**-64 coincidence) mapping to a shared ``Seat`` (status,
licence type, customer, reseller): 1 000 000 users over a few thousand distinct seats take about
80 MB. The index loads once per worker (a streamed query, a few seconds for a million rows) and
then follows the change log like the other public answers: ``licensed_user`` events reload one
row, ``licensing`` events reload one partner's users and seat caps, ``all`` reloads everything.
So a check never waits on the database, and keeps answering when it is down.

Seat caps: users of a capped customer or reseller are ranked by the database (one indexed
count), only for those users; see portal_rules.py.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.licensing.models import Customer, LicensedUser, Reseller

STREAM_ROWS = 50_000


def index_key(partner_id: int, user_key: str) -> int:
    """The 64-bit index key of a partner's user (also what change events name)."""
    digest = hashlib.blake2b(f"{partner_id}\0{user_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class Seat:
    status: str
    licence_type: str
    customer_id: int
    reseller_id: int | None


_COLUMNS = (
    LicensedUser.partner_id,
    LicensedUser.user_key,
    LicensedUser.status,
    LicensedUser.licence_type,
    LicensedUser.customer_id,
    LicensedUser.reseller_id,
)


class PortalIndex:
    """One worker's licensed users and seat caps."""

    def __init__(self, make_session: sessionmaker) -> None:
        self._make_session = make_session
        self._lock = threading.RLock()
        self._loaded = False
        self._seats: dict[int, Seat] = {}
        self._interned: dict[Seat, Seat] = {}
        self.customer_caps: dict[int, int] = {}
        self.reseller_caps: dict[int, int] = {}

    def lookup(self, partner_id: int, user_key: str) -> Seat | None:
        """The seat of a partner's user, or None when the partner did not license it."""
        if not self._loaded:
            self.load()
        return self._seats.get(index_key(partner_id, user_key))

    def __len__(self) -> int:
        return len(self._seats)

    def load(self) -> None:
        """(Re)load every licensed user and cap."""
        with self._lock, self._make_session() as session:
            seats: dict[int, Seat] = {}
            interned: dict[Seat, Seat] = {}
            self._fill(session, select(*_COLUMNS), seats, interned)
            self._seats, self._interned = seats, interned
            self.customer_caps, self.reseller_caps = self._caps(session, None)
            self._loaded = True

    def _fill(self, session: Session, stmt, seats: dict[int, Seat], interned: dict[Seat, Seat]) -> None:
        result = session.execute(stmt.execution_options(yield_per=STREAM_ROWS))
        for partner_id, user_key, status, licence_type, customer_id, reseller_id in result:
            seat = Seat(status, licence_type, customer_id, reseller_id)
            seats[index_key(partner_id, user_key)] = interned.setdefault(seat, seat)

    @staticmethod
    def _caps(session: Session, partner_id: int | None) -> tuple[dict[int, int], dict[int, int]]:
        caps = []
        for model in (Customer, Reseller):
            stmt = select(model.id, model.seat_cap).where(model.seat_cap.is_not(None))
            if partner_id is not None:
                stmt = stmt.where(model.partner_id == partner_id)
            caps.append({owner: cap for owner, cap in session.execute(stmt)})  # noqa: C416 (rows are not pairs to dict())
        return caps[0], caps[1]

    def apply(self, changes: Iterable[tuple[str, str]]) -> None:
        """Follow the change log (a PublicAnswers listener); does nothing before the first load."""
        if not self._loaded:
            return
        changes = list(changes)
        if any(topic == "all" for topic, _key in changes):
            self.load()
            return
        with self._lock, self._make_session() as session:
            for topic, key in changes:
                if topic == "licensed_user":
                    self._reload_user(session, key)
                elif topic == "licensing" and key.isdigit():
                    self._reload_partner(session, int(key))

    def _reload_user(self, session: Session, key: str) -> None:
        _partner, _, rest = key.partition(":")
        row_id, _, old_key = rest.partition(":")
        if old_key.isdigit():
            self._seats.pop(int(old_key), None)
        if row_id.isdigit():
            stmt = select(*_COLUMNS).where(LicensedUser.id == int(row_id))
            self._fill(session, stmt, self._seats, self._interned)

    def _reload_partner(self, session: Session, partner_id: int) -> None:
        # bulk imports add and change users but never remove one: upserting every row is enough
        self._fill(session, select(*_COLUMNS).where(LicensedUser.partner_id == partner_id), self._seats, self._interned)
        customers, resellers = self._caps(session, partner_id)
        for caps, fresh, model in (
            (self.customer_caps, customers, Customer),
            (self.reseller_caps, resellers, Reseller),
        ):
            owned = set(session.scalars(select(model.id).where(model.partner_id == partner_id)))
            for owner in owned:
                caps.pop(owner, None)
            caps.update(fresh)
