"""Monthly usage reports: count a partner's month from the licensing history (streamed), render
the CSV, close the month into a stored version, read versions back and compare them.

No commits: the caller owns the unit of work (the month close writes its rows in batches within it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import operator
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app.audit.services import audited
from app.billing.counting import (
    CSV_COLUMNS,
    AllocationState,
    CountedUser,
    InvalidMonth,
    Totals,
    count_checked_user,
    count_portal_user,
    iso,
    merge_counted,
    month_bounds,
)
from app.billing.models import UsageReport, UsageReportRow, latest_version
from app.licensing.models import AllocationEvent, Customer, Reseller, UsageFact, is_allocated
from app.problems import Conflict, ValidationProblem

BATCH = 5000  # rows per INSERT and per fetch of a server-side cursor


def checked_month(month: str) -> str:
    """``month`` if it is YYYY-MM, else 422 naming the field."""
    try:
        month_bounds(month)
    except InvalidMonth as exc:
        raise ValidationProblem({"month": [str(exc)]}) from None
    return month


def bytewise(session: Session, column):
    """``column`` ordered by code point on every database (PostgreSQL's collation would not be)."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def _portal_groups(
    session: Session, partner_id: int, month: str, keys: list[str] | None = None
) -> Iterator[tuple[str, list[AllocationState], int]]:
    """Per user id (by id): its allocation events whose interval overlaps ``month``, and the
    licensed user its last one is of. Only those intervals are read (``allocated_until``), not
    the partner's whole history; ``keys`` restricts the ids."""
    start, end = month_bounds(month)
    stmt = (
        select(
            AllocationEvent.user_key,
            _raw(AllocationEvent.at),
            AllocationEvent.action,
            AllocationEvent.status,
            AllocationEvent.customer_id,
            AllocationEvent.reseller_id,
            AllocationEvent.licence_type,
            _raw(AllocationEvent.allocated_until),
            AllocationEvent.licensed_user_id,
        )
        .where(
            AllocationEvent.partner_id == partner_id,
            AllocationEvent.at < end,
            or_(
                AllocationEvent.at >= start,
                AllocationEvent.allocated_until.is_(None),
                AllocationEvent.allocated_until > start,
            ),
        )
        .order_by(bytewise(session, AllocationEvent.user_key), AllocationEvent.at, AllocationEvent.id)
        .execution_options(yield_per=BATCH)
    )
    if keys is not None:
        stmt = stmt.where(AllocationEvent.user_key.in_(keys))
    for user_key, events in itertools.groupby(session.connection().execute(stmt), key=operator.itemgetter(0)):
        states, owner = [], 0
        for _key, at, action, status, customer_id, reseller_id, licence_type, until, owner in events:  # noqa: B007
            allocated = is_allocated(action, status)
            states.append(
                AllocationState(
                    _moment(at), allocated, customer_id, reseller_id, licence_type, until and _moment(until)
                )
            )
        yield user_key, states, owner


def _raw(column):
    # the driver's value, not the column type's per-row conversion (a million rows); see _moment
    return type_coerce(column, NullType()).label(column.key)


def _moment(value: datetime | str) -> datetime:
    """A timestamp as the driver returns it (PostgreSQL: aware; SQLite: naive UTC text) in UTC."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _renamed_rows(session: Session, partner_id: int, month: str) -> dict[str, CountedUser | None]:
    """The rows of the ids renamed within ``month`` and of the ids they became: each renamed user
    once, under the id it ended the month with (its evidence spanning all its ids); None: no row."""
    start, end = month_bounds(month)
    renames = session.execute(
        select(AllocationEvent.id, AllocationEvent.licensed_user_id, AllocationEvent.user_key, AllocationEvent.at)
        .where(
            AllocationEvent.partner_id == partner_id,
            AllocationEvent.action == "renamed",
            AllocationEvent.at >= start,
            AllocationEvent.at < end,
        )
        .order_by(AllocationEvent.at, AllocationEvent.id)
    ).all()
    if not renames:
        return {}
    ids_of: dict[int, list[str]] = {}  # licensed user -> its ids within the month, oldest first
    for event_id, owner, new_key, at in renames:
        old_key = session.scalar(
            select(AllocationEvent.user_key)
            .where(
                AllocationEvent.licensed_user_id == owner,
                AllocationEvent.partner_id == partner_id,
                or_(AllocationEvent.at < at, and_(AllocationEvent.at == at, AllocationEvent.id < event_id)),
            )
            .order_by(AllocationEvent.at.desc(), AllocationEvent.id.desc())
            .limit(1)
        )
        chain = ids_of.setdefault(owner, [])
        for key in (old_key, new_key):
            if key is not None and key not in chain:
                chain.append(key)
    keys = sorted({key for chain in ids_of.values() for key in chain})
    rows: dict[str, CountedUser | None] = {}
    owners: dict[str, int] = {}
    for first in range(0, len(keys), 500):
        for key, states, owner in _portal_groups(session, partner_id, month, keys[first : first + 500]):
            rows[key], owners[key] = count_portal_user(key, states, month), owner
    merged: dict[str, CountedUser | None] = {}
    for owner, chain in ids_of.items():
        # an old id given to another user since then stays that user's
        mine = [key for key in chain if owners.get(key) == owner or key == chain[-1]]
        counted = [rows[key] for key in mine if rows.get(key) is not None]
        for key in mine:
            merged[key] = None
        if counted:
            final = rows.get(chain[-1]) or max(counted, key=lambda row: row.evidence_to)
            merged[final.user_key] = final._replace(
                evidence_from=min(row.evidence_from for row in counted),
                evidence_to=max(row.evidence_to for row in counted),
            )
    return merged


def _portal_rows(session: Session, partner_id: int, month: str) -> Iterator[CountedUser]:
    renamed = _renamed_rows(session, partner_id, month)
    for user_key, states, _owner in _portal_groups(session, partner_id, month):
        row = renamed[user_key] if user_key in renamed else count_portal_user(user_key, states, month)
        if row is not None:
            yield row


def _checked_rows(session: Session, partner_id: int, month: str) -> Iterator[CountedUser]:
    stmt = (
        select(
            UsageFact.user_key,
            UsageFact.method,
            UsageFact.licence_type,
            UsageFact.first_check_at,
            UsageFact.last_check_at,
        )
        .where(UsageFact.partner_id == partner_id, UsageFact.month == month, UsageFact.method != "portal")
        .order_by(bytewise(session, UsageFact.user_key))
        .execution_options(yield_per=BATCH)
    )
    for fact in session.connection().execute(stmt):
        yield count_checked_user(fact.user_key, fact.method, fact.licence_type, fact.first_check_at, fact.last_check_at)


def counted_users(session: Session, partner_id: int, month: str) -> Iterator[CountedUser]:
    """The month's counted users of a partner by the counting rules, by user id (streamed)."""
    yield from merge_counted(_portal_rows(session, partner_id, month), _checked_rows(session, partner_id, month))


def report_tuples(session: Session, partner_id: int, month: str) -> Iterator[tuple]:
    """The month's report rows in ``CSV_COLUMNS`` order (names as they are now; ids int or None)."""
    resellers = dict(session.execute(select(Reseller.id, Reseller.name).where(Reseller.partner_id == partner_id)).all())
    customers = dict(session.execute(select(Customer.id, Customer.name).where(Customer.partner_id == partner_id)).all())
    for user_key, basis, reseller_id, customer_id, licence_type, since, until in counted_users(
        session, partner_id, month
    ):
        yield (
            user_key,
            basis,
            reseller_id,
            "" if reseller_id is None else resellers.get(reseller_id, ""),
            customer_id,
            "" if customer_id is None else customers.get(customer_id, ""),
            licence_type,
            iso(since),
            iso(until),
        )


def live_rows(session: Session, partner_id: int, month: str) -> Iterator[dict[str, str]]:
    """The month's report rows as the CSV writes them (names as they are now)."""
    for values in report_tuples(session, partner_id, month):
        row = dict(zip(CSV_COLUMNS, values, strict=True))
        row["reseller_id"] = "" if row["reseller_id"] is None else str(row["reseller_id"])
        row["customer_id"] = "" if row["customer_id"] is None else str(row["customer_id"])
        yield row


def stored_rows(session: Session, report: UsageReport) -> Iterator[dict[str, str]]:
    """A closed version's rows, as stored, by user id (streamed)."""
    columns = [getattr(UsageReportRow, name if name != "user_id" else "user_key") for name in CSV_COLUMNS]
    stmt = (
        select(*columns)
        .where(UsageReportRow.report_id == report.id)
        .order_by(bytewise(session, UsageReportRow.user_key))
        .execution_options(yield_per=BATCH)
    )
    for values in session.connection().execute(stmt):
        row = dict(zip(CSV_COLUMNS, values, strict=True))
        row["reseller_id"] = "" if row["reseller_id"] is None else str(row["reseller_id"])
        row["customer_id"] = "" if row["customer_id"] is None else str(row["customer_id"])
        yield row


def csv_chunks(rows: Iterable[dict[str, str]], lines_per_chunk: int = 1000, *, header: bool = True) -> Iterator[bytes]:
    """The report's CSV bytes (UTF-8, ``\\n`` line ends, header first), in chunks for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([row[name] for name in CSV_COLUMNS])
        if count % lines_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def totals_of(rows: Iterable[dict[str, str]]) -> Totals:
    """The counts of report rows (each breakdown adds up to the total)."""
    totals = Totals()
    for row in rows:
        totals.add_values(row["licence_type"], row["reseller_id"], row["customer_id"], row["basis"])
    return totals


def latest_report(session: Session, partner_id: int, month: str) -> UsageReport | None:
    """The newest closed version of a partner's month, or None when the month is open."""
    return latest_version(session, UsageReport, partner_id, month)


def report_versions(session: Session, partner_id: int, month: str) -> list[UsageReport]:
    """Every closed version of a partner's month, oldest first."""
    return list(
        session.scalars(
            select(UsageReport)
            .where(UsageReport.partner_id == partner_id, UsageReport.month == month)
            .order_by(UsageReport.version)
        )
    )


def close_month(
    session: Session, partner_id: int, month: str, *, actor: str, now: datetime, reason: str = ""
) -> tuple[UsageReport, bool]:
    """Freeze a partner's ended month into a stored version; (version, whether it was made now).

    A closed month is answered as it is unless ``reason`` asks for a correction (a new version).
    409 ``month_not_ended`` before the month's end (UTC).
    """
    _start, end = month_bounds(month)
    if now < end:
        raise Conflict(f"{month} ends at {iso(end)}; a month is closed after it ends.", code="month_not_ended")
    latest = latest_report(session, partner_id, month)
    if latest is not None and not reason:
        return latest, False
    with audited(session, actor, "usage_report.close") as change:
        report = change.row = UsageReport(
            partner_id=partner_id,
            month=month,
            version=1 if latest is None else latest.version + 1,
            reason=reason,
            closed_by=actor[:100],
            closed_at=now,
            csv_sha256="",
            totals={},
        )
        session.add(report)
        session.flush()
        report.csv_sha256, report.totals = _store_rows(session, report)
    return report, True


STORED_COLUMNS = ("report_id", "user_key", *CSV_COLUMNS[1:])


def _insert_rows_sql(paramstyle: str) -> str:
    # the driver's executemany: a million rows do not go through SQLAlchemy's per-row parameter work
    marks = ", ".join(["?" if paramstyle == "qmark" else "%s"] * len(STORED_COLUMNS))
    return f"INSERT INTO usage_report_rows ({', '.join(STORED_COLUMNS)}) VALUES ({marks})"  # noqa: S608 (constants)


def _store_rows(session: Session, report: UsageReport) -> tuple[str, dict]:
    """Write the month's rows under ``report`` in batches; the sha256 of their CSV and the totals.

    Rows stay tuples from the query to the driver's executemany (a million rows make no ORM
    objects and no per-row dictionaries); the CSV digest is fed batch by batch, never held whole.
    """
    digest = hashlib.sha256()
    totals = Totals()
    rows = report_tuples(session, report.partner_id, report.month)
    connection = session.connection()
    insert_sql = _insert_rows_sql(connection.dialect.paramstyle)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    while batch := list(itertools.islice(rows, BATCH)):
        connection.exec_driver_sql(insert_sql, [(report.id, *row) for row in batch])
        totals.add_batch(batch)
        writer.writerows(batch)  # None writes as an empty cell, as the CSV of live rows has it
        digest.update(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    digest.update(buffer.getvalue().encode())
    return digest.hexdigest(), totals.as_dict()


def compare_versions(session: Session, old: UsageReport, new: UsageReport) -> dict:
    """What changed from version ``old`` to ``new``: users added, removed, and rows that differ."""
    before = {row["user_id"]: row for row in stored_rows(session, old)}
    added, changed = [], []
    for row in stored_rows(session, new):
        previous = before.pop(row["user_id"], None)
        if previous is None:
            added.append(row)
        elif previous != row:
            changed.append({"user_id": row["user_id"], "from": previous, "to": row})
    removed = list(before.values())
    return {
        "from_version": old.version,
        "to_version": new.version,
        "added": added,
        "removed": removed,
        "changed": changed,
    }
