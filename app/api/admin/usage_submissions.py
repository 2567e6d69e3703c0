"""Partner-submitted usage reports (web-service method): ``POST /usage-reports`` with the month,
the user ids as CSV (``text/csv``) or JSON, and an ``Idempotency-Key`` header. docs/billing.md."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, request

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, require_role
from app.api.admin.spec import problems
from app.billing.reports import checked_month
from app.billing.submissions import SubmissionRejected, parse_csv, parse_json, submit
from app.db import session
from app.licensing.csv_import import CsvRejected
from app.problems import BadRequest, ValidationProblem

blp = admin_blueprint("usage-submissions", "Usage reports a partner sends (web-service method).")


class SubmitQuery(ma.Schema):
    partner_id = fields.Integer(load_default=None, metadata={"description": "Operators: the partner."})
    month = fields.String(load_default=None, metadata={"description": "YYYY-MM (or in the JSON body)."})


class SubmissionOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    month = fields.String()
    version = fields.Integer()
    users = fields.Integer()
    submitted_by = fields.String()
    submitted_at = ma.fields.DateTime()
    body_sha256 = fields.String()


@blp.route("/usage-reports", methods=["POST"])
@blp.arguments(SubmitQuery, location="query")
@blp.response(201, SubmissionOut)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}},
    }
)
@problems(blp, 400, 403, 404, 409, 413, 422)
def create(args):
    """Send the month's usage report (a new version); the same Idempotency-Key answers the first result."""
    partner = acting_partner(args["partner_id"])
    actor = require_role("admin")
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key or len(key) > 200:
        raise BadRequest(
            "Send an Idempotency-Key header (1-200 characters), new for each report.", code="idempotency_key_required"
        )
    request.max_content_length = current_app.config["LIVERY"].billing_max_usage_report_bytes
    body = request.get_data(cache=False)
    try:
        if request.mimetype == "text/csv":
            month, users = args["month"], parse_csv(body)
        elif request.mimetype == "application/json":
            month, users = parse_json(body)
            month = args["month"] or month
        else:
            raise SubmissionRejected("Send the report as text/csv or application/json.")
    except CsvRejected as exc:
        raise BadRequest(str(exc), code="usage_report_rejected") from None
    if month is None:
        raise ValidationProblem({"month": ["Give the month (YYYY-MM) in the query or the JSON body."]})
    submission, made = submit(session(), partner.id, checked_month(month), users, body, key=key, actor=actor.name)
    session().commit()
    return submission, 201, {"Idempotent-Replayed": "false" if made else "true"}
