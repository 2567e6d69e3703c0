"""Monthly usage reports: running figures, month close (operators), versions, their comparison,
reconciliation of a partner's submitted report, and the operator's table of all partners.

``Accept: text/csv`` streams the CSV (one row per counted user); otherwise JSON. docs/billing.md.
"""

from __future__ import annotations

import csv
import io
import time

import marshmallow as ma
from flask import Response, current_app, request, stream_with_context

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, require_operator
from app.api.admin.spec import problems
from app.billing.counting import iso, month_bounds
from app.billing.models import UsageReport
from app.billing.overview import COLUMNS as OVERVIEW_COLUMNS
from app.billing.overview import partner_rows
from app.billing.reports import (
    checked_month,
    close_month,
    compare_versions,
    csv_chunks,
    latest_report,
    live_rows,
    report_versions,
    stored_rows,
    totals_of,
)
from app.billing.submissions import latest_submission, reconcile
from app.db import session, utcnow
from app.partners.models import Partner
from app.problems import NotFound, ValidationProblem

blp = admin_blueprint("usage-reports", "Monthly usage: counts, month close, versions, reconciliation.")
CSV_TYPE = "text/csv; charset=utf-8"


def wants_csv() -> bool:
    """Whether the caller asked for CSV (``Accept: text/csv`` preferred over JSON)."""
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(chunks, filename: str) -> Response:
    """A streamed CSV download."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(stream_with_context(chunks), mimetype="text/csv", content_type=CSV_TYPE, headers=headers)


def reconcile_thresholds() -> dict:
    """The reconciliation flag's settings (LIVERY_BILLING_RECONCILE_PERCENT, _MIN_USERS)."""
    settings = current_app.config["LIVERY"]
    return {"percent": settings.billing_reconcile_percent, "min_users": settings.billing_reconcile_min_users}


class PartnerQuery(ma.Schema):
    partner_id = fields.Integer(load_default=None, metadata={"description": "Operators: the partner."})


class UsageQuery(PartnerQuery):
    month = fields.String(required=True, metadata={"description": "YYYY-MM (UTC)."})


class VersionOut(ma.Schema):
    partner_id = fields.Integer()
    month = fields.String()
    version = fields.Integer()
    reason = fields.String()
    closed_by = fields.String()
    closed_at = ma.fields.DateTime()
    csv_sha256 = fields.String()
    totals = ma.fields.Dict()


class ReportOut(ma.Schema):
    partner_id = fields.Integer()
    month = fields.String()
    provisional = ma.fields.Boolean(metadata={"description": "The month has not ended: running figures."})
    closed = ma.fields.Nested(VersionOut, allow_none=True, metadata={"description": "The version shown."})
    totals = ma.fields.Dict()
    rows = ma.fields.List(ma.fields.Dict())


@blp.route("/reports/usage", methods=["GET"])
@blp.arguments(UsageQuery, location="query")
@blp.response(200, ReportOut, content_type="application/json")
@blp.alt_response(200, content_type="text/csv", description="One row per counted user.")
@problems(blp, 404, 422)
def usage_report(args):
    """A partner's usage of a month: the closed version if closed, else running figures."""
    partner = acting_partner(args["partner_id"])
    month = checked_month(args["month"])
    report = latest_report(session(), partner.id, month)
    rows = stored_rows(session(), report) if report is not None else live_rows(session(), partner.id, month)
    if wants_csv():
        return csv_response(csv_chunks(rows), f"usage-{partner.slug}-{month}.csv")
    rows = list(rows)
    totals = totals_of(rows)
    provisional = report is None and utcnow() < month_bounds(month)[1]
    return {
        "partner_id": partner.id,
        "month": month,
        "provisional": provisional,
        "closed": report,
        "totals": totals.as_dict(),
        "rows": rows,
    }


class CloseIn(ma.Schema):
    partner_id = fields.Integer(load_default=None, metadata={"description": "Only this partner (else all)."})
    reason = fields.String(
        load_default="",
        validate=ma.validate.Length(max=500),
        metadata={"description": "Required to correct a closed month (a new version)."},
    )


class CloseOut(ma.Schema):
    month = fields.String()
    complete = ma.fields.Boolean(metadata={"description": "False (202): the time budget ran out; POST again."})
    remaining = fields.Integer(metadata={"description": "Partners not reached by this request."})
    reports = ma.fields.List(ma.fields.Dict())


def close_partners(
    month: str, partner_ids: list[int], *, actor: str, reason: str, budget: float | None = None
) -> tuple[list[dict], int]:
    """Close ``month`` for each partner, one commit per partner, starting none after ``budget``
    seconds; what each close answered, and how many partners were not reached."""
    out = []
    deadline = None if budget is None else time.monotonic() + budget
    for done, partner_id in enumerate(partner_ids):
        if deadline is not None and done and time.monotonic() >= deadline:
            return out, len(partner_ids) - done
        report, made = close_month(session(), partner_id, month, actor=actor, now=utcnow(), reason=reason)
        session().commit()
        out.append(
            {
                "partner_id": partner_id,
                "version": report.version,
                "csv_sha256": report.csv_sha256,
                "users": report.totals["users"],
                "closed_at": iso(report.closed_at),
                "closed_now": made,
            }
        )
    return out, 0


@blp.route("/reports/usage/<month>/close", methods=["POST"])
@blp.arguments(CloseIn)
@blp.response(200, CloseOut)
@blp.alt_response(202, schema=CloseOut, description="The time budget ran out; the partners closed so far.")
@problems(blp, 403, 404, 409, 422)
def close(args, month):
    """Close an ended month (operators): freeze each partner's report; a reason makes a correction.

    Every partner (no ``partner_id``) within ``LIVERY_BILLING_CLOSE_BUDGET_SECONDS``: when it runs
    out, 202 with ``remaining``; POST again (closed partners answer their version) or use the command.
    """
    actor = require_operator()
    month = checked_month(month)
    if args["partner_id"] is not None:
        if session().get(Partner, args["partner_id"]) is None:
            raise NotFound(f"No partner with id {args['partner_id']}.")
        ids = [args["partner_id"]]
    elif args["reason"]:
        # a correction of every partner cut short and posted again would correct the first ones twice
        raise ValidationProblem(
            {"partner_id": ["A correction over HTTP is per partner; correct every partner with the command."]}
        )
    else:
        ids = list(session().scalars(Partner.__table__.select().with_only_columns(Partner.id).order_by(Partner.id)))
    budget = None if args["partner_id"] is not None else current_app.config["LIVERY"].billing_close_budget_seconds
    reports, remaining = close_partners(month, ids, actor=actor.name, reason=args["reason"], budget=budget)
    body = {"month": month, "complete": not remaining, "remaining": remaining, "reports": reports}
    return body, 202 if remaining else 200


class VersionsOut(ma.Schema):
    versions = ma.fields.List(ma.fields.Nested(VersionOut))


@blp.route("/reports/usage/<month>/versions", methods=["GET"])
@blp.arguments(PartnerQuery, location="query")
@blp.response(200, VersionsOut)
@problems(blp, 404, 422)
def versions(args, month):
    """Every closed version of a partner's month, oldest first."""
    partner = acting_partner(args["partner_id"])
    return {"versions": report_versions(session(), partner.id, checked_month(month))}


class DiffQuery(PartnerQuery):
    from_version = fields.Integer(required=True)
    to_version = fields.Integer(required=True)


def _version(partner_id: int, month: str, number: int) -> UsageReport:
    for report in report_versions(session(), partner_id, month):
        if report.version == number:
            return report
    raise NotFound(f"No version {number} of {month}.")


@blp.route("/reports/usage/<month>/diff", methods=["GET"])
@blp.arguments(DiffQuery, location="query")
@blp.response(
    200,
    ma.Schema.from_dict(
        {
            "from_version": fields.Integer(),
            "to_version": fields.Integer(),
            "added": ma.fields.List(ma.fields.Dict()),
            "removed": ma.fields.List(ma.fields.Dict()),
            "changed": ma.fields.List(ma.fields.Dict()),
        },
        name="UsageDiffOut",
    ),
)
@problems(blp, 404, 422)
def diff(args, month):
    """Compare two closed versions of a month: users added, removed and rows changed."""
    partner = acting_partner(args["partner_id"])
    month = checked_month(month)
    old, new = _version(partner.id, month, args["from_version"]), _version(partner.id, month, args["to_version"])
    return compare_versions(session(), old, new)


class DifferenceOut(ma.Schema):
    count = fields.Integer()
    user_ids = ma.fields.List(fields.String())


class ReconciliationOut(ma.Schema):
    partner_id = fields.Integer()
    month = fields.String()
    version = fields.Integer(metadata={"description": "The submitted version compared."})
    reported = fields.Integer()
    seen = fields.Integer()
    reported_not_seen = ma.fields.Nested(DifferenceOut)
    seen_not_reported = ma.fields.Nested(DifferenceOut)
    flagged = ma.fields.Boolean(metadata={"description": "Differs by more than the configured share or users."})
    threshold = ma.fields.Dict()


@blp.route("/reports/usage/<month>/reconciliation", methods=["GET"])
@blp.arguments(PartnerQuery, location="query")
@blp.response(200, ReconciliationOut)
@problems(blp, 404, 422)
def reconciliation(args, month):
    """The partner's latest submitted report against the users Livery saw licensed that month."""
    partner = acting_partner(args["partner_id"])
    month = checked_month(month)
    submission = latest_submission(session(), partner.id, month)
    if submission is None:
        raise NotFound(f"This partner submitted no usage report for {month}.")
    return reconcile(session(), submission, **reconcile_thresholds())


@blp.route("/reports/usage/partners", methods=["GET"])
@blp.arguments(ma.Schema.from_dict({"month": fields.String(required=True)}, name="OverviewQuery"), location="query")
@blp.response(
    200,
    ma.Schema.from_dict({"month": fields.String(), "partners": ma.fields.List(ma.fields.Dict())}, name="OverviewOut"),
)
@blp.alt_response(200, content_type="text/csv", description="One row per partner.")
@problems(blp, 403, 422)
def overview(args):
    """All partners for a month (operators): method, counted users, closed or not, reconciliation flag."""
    require_operator()
    month = checked_month(args["month"])
    rows = partner_rows(session(), month, **reconcile_thresholds())
    if wants_csv():
        return csv_response(_overview_csv(rows), f"usage-partners-{month}.csv")
    return {"month": month, "partners": list(rows)}


def _overview_csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OVERVIEW_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                "" if row[name] is None else str(row[name]).lower() if isinstance(row[name], bool) else row[name]
                for name in OVERVIEW_COLUMNS
            ]
        )
    yield buffer.getvalue().encode()
