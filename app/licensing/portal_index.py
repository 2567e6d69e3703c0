"""The portal's licensed users in each worker's memory: a check is two dictionary lookups.

Each partner's licensed users load on the partner's first check (one streamed query: a few
milliseconds for a thousand users) into a dictionary from a 64-bit key (blake2b of the matching
key: a false match needs a 2**-64 coincidence, and cannot be aimed at) to a shared ``Seat``
(status, licence type, customer, reseller). A million users over a few thousand distinct seats
take about 100 MB. The index then follows the change log like the other public answers:
``licensed_user`` events reload one row, ``licensing`` events reload one partner's users and seat
caps, ``all`` drops everything (partners load again on their next check). So a check never waits
on the database once its partner is loaded, and keeps answering when the database is down.

Seat caps: users of a capped customer or reseller are ranked by the database (one indexed
count), only for those users; see portal_rules.py.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import utcnow
from app.licensing.models import Customer, LicensedUser, Reseller, UsageFact
from app.licensing.usage import month_of

STREAM_ROWS = 50_000


def index_key(user_key: str) -> int:
    """The 64-bit index key of a user's matching key (also what change events name)."""
    return int.from_bytes(hashlib.blake2b(user_key.encode(), digest_size=8).digest(), "big")


class Seat(NamedTuple):
    """What a check needs of a licensed user; equal seats are one shared object."""

    status: str
    licence_type: str
    customer_id: int
    reseller_id: int | None
    # the month (YYYY-MM) whose usage fact is known to be written: checks then only count
    seen_month: str | None = None


_COLUMNS = (
    LicensedUser.user_key,
    LicensedUser.status,
    LicensedUser.licence_type,
    LicensedUser.customer_id,
    LicensedUser.reseller_id,
)


class PortalIndex:
    """One worker's licensed users (per partner, loaded on first use) and seat caps."""

    def __init__(self, make_session: sessionmaker) -> None:
        self._make_session = make_session
        self._lock = threading.RLock()
        self._partners: dict[int, dict[int, Seat]] = {}
        self._interned: dict[tuple, Seat] = {}
        self._caps_loaded = False
        self.customer_caps: dict[int, int] = {}
        self.reseller_caps: dict[int, int] = {}

    def lookup(self, partner_id: int, user_key: str) -> Seat | None:
        """The seat of a partner's user, or None when the partner did not license it."""
        seats = self._partners.get(partner_id)
        if seats is None:
            seats = self.load_partner(partner_id)
        return seats.get(index_key(user_key))

    def __len__(self) -> int:
        return sum(len(seats) for seats in self._partners.values())

    def seen(self, partner_id: int, user_key: str, month: str) -> bool:
        """Whether this user's usage fact of ``month`` is known to be written (no query)."""
        seat = self._partners.get(partner_id, {}).get(index_key(user_key))
        return seat is not None and seat.seen_month == month

    def mark_seen(self, partner_id: int, user_key: str, month: str) -> None:
        """Remember that this user's usage fact of ``month`` is written."""
        seats = self._partners.get(partner_id)
        key = index_key(user_key)
        seat = seats.get(key) if seats is not None else None
        if seat is not None and seat.seen_month != month:
            seats[key] = self._intern(seat._replace(seen_month=month))

    def _intern(self, seat: Seat) -> Seat:
        return self._interned.setdefault(tuple(seat), seat)

    def load_partner(self, partner_id: int) -> dict[int, Seat]:
        """(Re)load one partner's users, marking those with this month's usage fact (and, the first
        time, every seat cap)."""
        with self._lock, self._make_session() as session:
            seats: dict[int, Seat] = {}
            self._fill(session, select(*_COLUMNS).where(LicensedUser.partner_id == partner_id), seats)
            month = month_of(utcnow())
            written = select(UsageFact.user_key).where(UsageFact.partner_id == partner_id, UsageFact.month == month)
            for user_key in session.scalars(written):
                key = index_key(user_key)
                if key in seats:
                    seats[key] = self._intern(seats[key]._replace(seen_month=month))
            if not self._caps_loaded:
                self.customer_caps, self.reseller_caps = self._caps(session, None)
                self._caps_loaded = True
            self._partners[partner_id] = seats
            return seats

    def warm(self, budget: float) -> int:
        """Load partners' users for up to ``budget`` seconds (gunicorn calls this before a worker
        accepts requests; the rest load on first use); returns how many partners were loaded."""
        deadline = time.monotonic() + budget
        with self._lock, self._make_session() as session:
            partner_ids = session.scalars(select(LicensedUser.partner_id).distinct()).all()
        loaded = 0
        for partner_id in partner_ids:
            if time.monotonic() > deadline:
                break
            self.load_partner(partner_id)
            loaded += 1
        return loaded

    def _fill(self, session: Session, stmt, seats: dict[int, Seat]) -> None:
        # the driver's own cursor: a million rows through Result/Row objects take several times longer
        compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(str(compiled))
            while rows := cursor.fetchmany(STREAM_ROWS):
                for row in rows:
                    values = (*row[1:], None)
                    seat = self._interned.get(values)
                    if seat is None:
                        seat = self._interned[values] = Seat(*values)
                    seats[index_key(row[0])] = seat
        finally:
            cursor.close()

    @staticmethod
    def _caps(session: Session, partner_id: int | None) -> tuple[dict[int, int], dict[int, int]]:
        caps = []
        for model in (Customer, Reseller):
            stmt = select(model.id, model.seat_cap).where(model.seat_cap.is_not(None))
            if partner_id is not None:
                stmt = stmt.where(model.partner_id == partner_id)
            caps.append({owner: cap for owner, cap in session.execute(stmt)})  # noqa: C416 (rows are not pairs)
        return caps[0], caps[1]

    def apply(self, changes: Iterable[tuple[str, str]]) -> None:
        """Follow the change log (a PublicAnswers listener)."""
        changes = list(changes)
        with self._lock:
            if any(topic == "all" for topic, _key in changes):
                self._partners.clear()
                self._caps_loaded = False
                return
            for topic, key in changes:
                if topic == "licensed_user":
                    self._reload_user(key)
                elif topic == "licensing" and key.isdigit():
                    self._reload_partner(int(key))

    def _reload_user(self, key: str) -> None:
        partner, _, rest = key.partition(":")
        row_id, _, old_key = rest.partition(":")
        seats = self._partners.get(int(partner)) if partner.isdigit() else None
        if seats is None:  # not loaded here: it loads fresh on its first check
            return
        if old_key.isdigit():
            seats.pop(int(old_key), None)
        if row_id.isdigit():
            with self._make_session() as session:
                self._fill(session, select(*_COLUMNS).where(LicensedUser.id == int(row_id)), seats)

    def _reload_partner(self, partner_id: int) -> None:
        if partner_id in self._partners:
            self.load_partner(partner_id)
        if self._caps_loaded:
            with self._make_session() as session:
                customers, resellers = self._caps(session, partner_id)
                for caps, fresh, model in (
                    (self.customer_caps, customers, Customer),
                    (self.reseller_caps, resellers, Reseller),
                ):
                    for owner in session.scalars(select(model.id).where(model.partner_id == partner_id)):
                        caps.pop(owner, None)
                    caps.update(fresh)
