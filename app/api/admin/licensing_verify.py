"""The go-live dry run of a partner's licensing web service, and its last result."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, require_role
from app.api.admin.spec import problems
from app.db import session
from app.licensing.webservice.caller import PartnerCaller
from app.licensing.webservice.services import (
    configured_web_service,
    latest_verification,
    record_verification,
)
from app.licensing.webservice.verification import verify_web_service
from app.outbound.egress import EgressPolicy
from app.problems import Conflict, NotFound

blp = admin_blueprint(
    "licensing verification",
    "Go-live verification of a partner's licensing web service (docs/licensing-webservice.md).",
)


class VerifyIn(ma.Schema):
    known_user_id = fields.String(
        required=True,
        validate=ma.validate.Length(1, 256),
        metadata={"description": "A user the partner's service answers as licensed.", "example": "alice@acme.example"},
    )


class CheckOut(ma.Schema):
    name = fields.String(metadata={"description": "tls, known_user, unknown_user, odd_ids, latency, answer_shape"})
    passed = ma.fields.Boolean()
    detail = fields.String()
    latencies_ms = ma.fields.List(fields.Integer())


class VerificationOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    ran_at = ma.fields.DateTime()
    passed = ma.fields.Boolean(metadata={"description": "The web-service method may go live only when true."})
    checks = ma.fields.List(ma.fields.Nested(CheckOut), attribute="report.checks")
    calls = fields.Integer(attribute="report.calls", allow_none=True)
    p95_ms = fields.Integer(attribute="report.p95_ms", allow_none=True)


@blp.route("/partners/<int:partner_id>/licensing/verify", methods=["POST"])
@blp.arguments(VerifyIn)
@blp.response(200, VerificationOut)
@problems(blp, 403, 404, 409, 422)
def verify(data, partner_id):
    """Run the contract suite against the partner's configured web service and store the report."""
    partner = acting_partner(partner_id)
    actor = require_role("admin")
    row = run_verification(partner.id, data["known_user_id"], actor=actor.name)
    session().commit()
    return row


def run_verification(partner_id: int, known_user_id: str, *, actor: str):
    """Run the contract suite against the partner's web service and store its report (the caller commits).

    The admin API and the portal's licensing settings page both verify through this.
    """
    settings = configured_web_service(session(), partner_id)
    if settings is None:
        raise Conflict("Licensing settings are not available yet.", code="licensing_not_configured")
    config = current_app.config["LIVERY"]
    caller = PartnerCaller(
        EgressPolicy(allow_private=config.egress_allow_private),
        connect_timeout=config.licensing_connect_timeout,
        timeout=config.licensing_timeout,
    )
    report = verify_web_service(caller, settings, known_user_id)
    return record_verification(session(), partner_id, report, actor=actor)


@blp.route("/partners/<int:partner_id>/licensing/verify", methods=["GET"])
@blp.response(200, VerificationOut)
@problems(blp, 404)
def last(partner_id):
    """The partner's last verification run (404 when none ran)."""
    partner = acting_partner(partner_id)
    row = latest_verification(session(), partner.id)
    if row is None:
        raise NotFound("This partner's web service has not been verified yet.")
    return row
