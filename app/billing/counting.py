"""The counting rules of monthly billing (pure: no Flask, no session). See docs/billing.md.

Months are calendar months in UTC: ``[first instant of the month, first instant of the next)``.

- portal: a user counts for a month if it was allocated (present and ``active``) at any moment of
  the month, once, whatever happened in between; under the customer, reseller and licence type it
  ended the month with (its last state before the month's end, a removal keeping its last customer).
- web service and proprietary: a user counts if at least one check in the month was licensed.
- a user id is counted once per partner and month; a portal row wins over a check row.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CSV_COLUMNS = (
    "user_id",
    "basis",
    "reseller_id",
    "reseller",
    "customer_id",
    "customer",
    "licence_type",
    "evidence_from",
    "evidence_to",
)


class InvalidMonth(ValueError):
    """A month that is not ``YYYY-MM``."""


@lru_cache(maxsize=64)
def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of ``month`` (YYYY-MM)."""
    match = MONTH_PATTERN.match(month or "")
    if match is None:
        raise InvalidMonth(f"{month!r} is not a month; write YYYY-MM, e.g. 2026-11.")
    year, number = int(match[1]), int(match[2])
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


class AllocationState(NamedTuple):
    """One allocation event of a user: the state after it, from ``at`` until its next event."""

    at: datetime
    allocated: bool  # present and active after the event
    customer_id: int | None
    reseller_id: int | None
    licence_type: str
    until: datetime | None = None  # where the allocation it starts ended, when known (a rename)


class CountedUser(NamedTuple):
    """One counted user of a month: the row of the report."""

    user_key: str
    basis: str  # "portal", "web_service" or "proprietary"
    reseller_id: int | None
    customer_id: int | None
    licence_type: str
    evidence_from: datetime
    evidence_to: datetime


def count_portal_user(user_key: str, events: Sequence[AllocationState], month: str) -> CountedUser | None:
    """The user's row for ``month`` from its allocation events in time order (None: not counted).

    Each event's state lasts until the next event (or its ``until``, when the id's history went
    on under another id). ``events`` may start before the month (the state at the month's start
    is the last one before it); events at or after the month's end are ignored. Evidence: the
    first and the last instant of the month at which the user was allocated (``to`` exclusive);
    an allocation for no time (an instant) does not count.
    """
    start, end = month_bounds(month)
    last: AllocationState | None = None
    first_on: datetime | None = None
    last_on: datetime | None = None
    events = [event for event in events if event.at < end]
    for index, event in enumerate(events):
        last = event
        if not event.allocated:
            continue
        stop = events[index + 1].at if index + 1 < len(events) else end
        if event.until is not None:
            stop = min(stop, event.until)
        since, stop = max(event.at, start), min(stop, end)
        if stop > since:
            first_on, last_on = first_on or since, stop
    if first_on is None or last_on is None or last is None:
        return None
    return CountedUser(user_key, "portal", last.reseller_id, last.customer_id, last.licence_type, first_on, last_on)


def count_checked_user(
    user_key: str, method: str, licence_type: str | None, first_check: datetime, last_check: datetime
) -> CountedUser:
    """The row of a user with at least one licensed check in the month (web service, proprietary)."""
    return CountedUser(user_key, method, None, None, licence_type or "", first_check, last_check)


def merge_counted(portal: Iterable[CountedUser], checked: Iterable[CountedUser]) -> Iterator[CountedUser]:
    """Both streams (each sorted by user_key, each key once) as one, each user once: a portal row wins."""
    checked = iter(checked)
    pending = next(checked, None)
    for row in portal:
        while pending is not None and pending.user_key < row.user_key:
            yield pending
            pending = next(checked, None)
        if pending is not None and pending.user_key == row.user_key:
            pending = next(checked, None)
        yield row
    if pending is not None:
        yield pending
        yield from checked


@dataclass
class Totals:
    """Counts of a month's rows: in all, per licence type, per reseller and per customer."""

    users: int = 0
    per_licence_type: Counter = field(default_factory=Counter)
    per_reseller: Counter = field(default_factory=Counter)
    per_customer: Counter = field(default_factory=Counter)
    per_basis: Counter = field(default_factory=Counter)

    def add(self, row: CountedUser) -> None:
        """Count one counted user."""
        self.add_values(row.licence_type, row.reseller_id, row.customer_id, row.basis)

    def add_values(self, licence_type: str, reseller_id: object, customer_id: object, basis: str) -> None:
        """Count one row (users without a reseller or customer count under ``none``)."""
        self.users += 1
        self.per_licence_type[licence_type] += 1
        self.per_reseller[_key(reseller_id)] += 1
        self.per_customer[_key(customer_id)] += 1
        self.per_basis[basis] += 1

    def add_batch(self, rows: Sequence[Sequence]) -> None:
        """Count report rows in ``CSV_COLUMNS`` order (ids as int or None), a batch at a time."""
        self.users += len(rows)
        self.per_licence_type.update(row[6] for row in rows)
        self.per_reseller.update(_key(row[2]) for row in rows)
        self.per_customer.update(_key(row[4]) for row in rows)
        self.per_basis.update(row[1] for row in rows)

    def as_dict(self) -> dict:
        """Sorted, JSON-ready counts (each breakdown adds up to ``users``)."""
        return {
            "users": self.users,
            "per_licence_type": dict(sorted(self.per_licence_type.items())),
            "per_reseller": dict(sorted(self.per_reseller.items())),
            "per_customer": dict(sorted(self.per_customer.items())),
            "per_basis": dict(sorted(self.per_basis.items())),
        }


def _key(ident: object) -> str:
    return "none" if ident is None or ident == "" else str(ident)


@lru_cache(maxsize=4096)  # a month's evidence shares few instants (its start, its end, busy hours)
def iso(moment: datetime) -> str:
    """A timestamp as the report writes it: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconciliation_flag(reported: int, seen: int, differing: int, *, percent: float, min_users: int) -> bool:
    """Whether a submitted report differs from what Livery saw by more than ``percent`` % of the
    larger count or ``min_users`` users, whichever is larger."""
    return differing > max(percent / 100 * max(reported, seen), min_users)
