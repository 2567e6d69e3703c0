"""Monthly usage reports: count a partner's month from the licensing history (streamed), render
the CSV, close the month into a stored version, read versions back and compare them.

No commits: the caller owns the unit of work (the month close writes its rows in batches within it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from app.licensing.models import AllocationEvent, Customer, Reseller, UsageFact
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


def _portal_rows(session: Session, partner_id: int, month: str) -> Iterator[CountedUser]:
    _start, end = month_bounds(month)
    stmt = (
        select(
            AllocationEvent.user_key,
            AllocationEvent.at,
            AllocationEvent.action,
            AllocationEvent.status,
            AllocationEvent.customer_id,
            AllocationEvent.reseller_id,
            AllocationEvent.licence_type,
        )
        .where(AllocationEvent.partner_id == partner_id, AllocationEvent.at < end)
        .order_by(bytewise(session, AllocationEvent.user_key), AllocationEvent.at, AllocationEvent.id)
        .execution_options(yield_per=BATCH)
    )
    for user_key, events in itertools.groupby(session.connection().execute(stmt), key=lambda event: event.user_key):
        states = [
            AllocationState(at, action != "removed" and status == "active", customer_id, reseller_id, licence_type)
            for _key, at, action, status, customer_id, reseller_id, licence_type in events
        ]
        row = count_portal_user(user_key, states, month)
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


def live_rows(session: Session, partner_id: int, month: str) -> Iterator[dict[str, str]]:
    """The month's report rows as the CSV writes them (names as they are now)."""
    resellers = dict(session.execute(select(Reseller.id, Reseller.name).where(Reseller.partner_id == partner_id)).all())
    customers = dict(session.execute(select(Customer.id, Customer.name).where(Customer.partner_id == partner_id)).all())
    for row in counted_users(session, partner_id, month):
        yield {
            "user_id": row.user_key,
            "basis": row.basis,
            "reseller_id": "" if row.reseller_id is None else str(row.reseller_id),
            "reseller": resellers.get(row.reseller_id, "") if row.reseller_id is not None else "",
            "customer_id": "" if row.customer_id is None else str(row.customer_id),
            "customer": customers.get(row.customer_id, "") if row.customer_id is not None else "",
            "licence_type": row.licence_type,
            "evidence_from": iso(row.evidence_from),
            "evidence_to": iso(row.evidence_to),
        }


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
    """Write the month's rows under ``report`` in batches; the sha256 of their CSV and the totals."""
    digest = hashlib.sha256()
    totals = Totals()
    rows = live_rows(session, report.partner_id, report.month)
    connection = session.connection()
    insert_sql = _insert_rows_sql(connection.dialect.paramstyle)
    digest.update(next(csv_chunks(())))  # the header line
    while batch := list(itertools.islice(rows, BATCH)):
        connection.exec_driver_sql(insert_sql, [_stored(report.id, row) for row in batch])
        for row in batch:
            totals.add_values(row["licence_type"], row["reseller_id"], row["customer_id"], row["basis"])
        for chunk in csv_chunks(batch, lines_per_chunk=BATCH, header=False):
            digest.update(chunk)
    return digest.hexdigest(), totals.as_dict()


def _stored(report_id: int, row: dict[str, str]) -> tuple:
    reseller_id, customer_id = row["reseller_id"], row["customer_id"]
    return (
        report_id,
        row["user_id"],
        row["basis"],
        int(reseller_id) if reseller_id else None,
        row["reseller"],
        int(customer_id) if customer_id else None,
        row["customer"],
        row["licence_type"],
        row["evidence_from"],
        row["evidence_to"],
    )


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
