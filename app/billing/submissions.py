"""Partner-submitted usage reports (web-service method): parse, store as versions, reconcile.

A submission is a month and a list of user ids (each with an optional licence type), as CSV
(header ``user_id`` and optionally ``licence_type``) or JSON. Every bad row is reported and
nothing is stored; an ``Idempotency-Key`` makes a resend answer the first result.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.billing.counting import reconciliation_flag
from app.billing.models import UsageSubmission, UsageSubmissionRow, latest_version
from app.licensing.csv_import import CsvRejected, read_header
from app.licensing.models import UsageFact
from app.licensing.settings import licence_types_of
from app.licensing.user_ids import InvalidUserId, normalise_user_id
from app.problems import Conflict, ValidationProblem

CSV_COLUMNS = ("user_id", "licence_type")


class SubmissionRejected(CsvRejected):
    """The body as a whole cannot be read (encoding, columns, JSON shape); the message says why."""


@dataclass(frozen=True)
class SubmittedUser:
    line: int  # CSV line (header = 1) or JSON list index + 1
    user_id: str
    licence_type: str
    problem: str = ""  # what the file alone shows is wrong with the line


def parse_csv(data: bytes) -> list[SubmittedUser]:
    """The users of a CSV body (``user_id`` required, ``licence_type`` optional, in any order)."""
    header, reader = read_header(data)
    if "user_id" not in header or len(set(header)) != len(header) or set(header) - set(CSV_COLUMNS):
        raise SubmissionRejected(
            f"The header must be user_id and optionally licence_type, each once; it is {','.join(header)}."
        )
    users = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                problem = f"Has {len(cells)} cells; the header names {len(header)} columns."
                users.append(SubmittedUser(reader.line_num, "", "", problem))
                continue
            values = dict(zip(header, cells, strict=True))
            users.append(SubmittedUser(reader.line_num, values["user_id"], values.get("licence_type", "").strip()))
    except csv.Error as exc:
        raise SubmissionRejected(f"Line {reader.line_num}: {exc}") from None
    return users


def parse_json(data: bytes) -> tuple[str | None, list[SubmittedUser]]:
    """The month (if given) and users of a JSON body ``{"month": ..., "users": [id or {user_id, licence_type}]}``."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise SubmissionRejected("The body must be a UTF-8 JSON object.") from None
    if not isinstance(body, dict) or not isinstance(body.get("users"), list):
        raise SubmissionRejected('The body must be {"month": "YYYY-MM", "users": [...]}.')
    users = []
    for index, item in enumerate(body["users"], start=1):
        if isinstance(item, str):
            item = {"user_id": item}
        if not isinstance(item, dict) or not isinstance(item.get("user_id"), str):
            raise SubmissionRejected(f"users[{index - 1}] must be a user id or an object with a user_id string.")
        users.append(SubmittedUser(index, item["user_id"], str(item.get("licence_type") or "").strip()))
    month = body.get("month")
    return (month if isinstance(month, str) else None), users


def check_users(users: list[SubmittedUser], licence_types: list[str]) -> tuple[list[tuple[str, str]], list[dict]]:
    """The normalised (user key, licence type) pairs, and every bad row with what is wrong."""
    seen: dict[str, int] = {}
    keys, bad = [], []
    for user in users:
        if user.problem:
            bad.append({"line": user.line, "errors": [user.problem]})
            continue
        errors = []
        try:
            key = normalise_user_id(user.user_id)
        except InvalidUserId as exc:
            key, errors = None, [str(exc)]
        if key is not None and key in seen:
            errors.append(f"Duplicate user id (first at {seen[key]}).")
        if user.licence_type and user.licence_type not in licence_types:
            errors.append(f"licence_type must be one of {', '.join(licence_types)}.")
        if errors:
            bad.append({"line": user.line, "errors": errors})
        elif key is not None:
            seen[key] = user.line
            keys.append((key, user.licence_type))
    return keys, bad


def find_by_key(session: Session, partner_id: int, idempotency_key: str) -> UsageSubmission | None:
    """The partner's submission sent with ``idempotency_key``, or None."""
    return session.scalar(
        select(UsageSubmission).where(
            UsageSubmission.partner_id == partner_id, UsageSubmission.idempotency_key == idempotency_key
        )
    )


def submit(
    session: Session, partner_id: int, month: str, users: list[SubmittedUser], body: bytes, *, key: str, actor: str
) -> tuple[UsageSubmission, bool]:
    """Store a new version of the partner's usage report for ``month``; (version, made now).

    The same ``key`` with the same body answers the first version; with another body, 409.
    """
    body_sha256 = hashlib.sha256(month.encode() + b"\n" + body).hexdigest()
    earlier = find_by_key(session, partner_id, key)
    if earlier is not None:
        if earlier.body_sha256 != body_sha256:
            raise Conflict(
                "This Idempotency-Key was used for another body; use a new key.", code="idempotency_key_reused"
            )
        return earlier, False
    keys, bad = check_users(users, licence_types_of(session, partner_id))
    if bad:
        lines = ", ".join(str(item["line"]) for item in bad[:20])
        raise ValidationProblem(bad, detail=f"{len(bad)} row(s) are wrong ({lines}); nothing was stored.")
    latest = latest_submission(session, partner_id, month)
    with audited(session, actor, "usage_submission.create") as change:
        submission = change.row = UsageSubmission(
            partner_id=partner_id,
            month=month,
            version=1 if latest is None else latest.version + 1,
            idempotency_key=key,
            body_sha256=body_sha256,
            submitted_by=actor[:100],
            users=len(keys),
        )
        session.add(submission)
        session.flush()
        for start in range(0, len(keys), 5000):
            batch = keys[start : start + 5000]
            rows = [{"submission_id": submission.id, "user_key": k, "licence_type": t} for k, t in batch]
            session.execute(insert(UsageSubmissionRow), rows)
    return submission, True


def latest_submission(session: Session, partner_id: int, month: str) -> UsageSubmission | None:
    """The partner's newest submitted version for ``month``, or None."""
    return latest_version(session, UsageSubmission, partner_id, month)


def reconcile(session: Session, submission: UsageSubmission, *, percent: float, min_users: int) -> dict:
    """A submitted report against the users Livery saw licensed that month: both differences, the flag."""
    reported = set(
        session.scalars(select(UsageSubmissionRow.user_key).where(UsageSubmissionRow.submission_id == submission.id))
    )
    seen = set(
        session.scalars(
            select(UsageFact.user_key).where(
                UsageFact.partner_id == submission.partner_id, UsageFact.month == submission.month
            )
        )
    )
    not_seen, not_reported = sorted(reported - seen), sorted(seen - reported)
    differing = len(not_seen) + len(not_reported)
    return {
        "partner_id": submission.partner_id,
        "month": submission.month,
        "version": submission.version,
        "reported": len(reported),
        "seen": len(seen),
        "reported_not_seen": {"count": len(not_seen), "user_ids": not_seen},
        "seen_not_reported": {"count": len(not_reported), "user_ids": not_reported},
        "flagged": reconciliation_flag(len(reported), len(seen), differing, percent=percent, min_users=min_users),
        "threshold": {"percent": percent, "min_users": min_users},
    }
