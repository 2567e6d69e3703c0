"""Audit events: who changed what, when, with the state before and after. Read only."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint, current_actor, partner_filter
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.audit.models import AuditEvent

blp = admin_blueprint("audit-events", "The audit log of every write.")


class AuditEventOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer(allow_none=True)
    actor = fields.String()
    action = fields.String(metadata={"example": "brand.publish"})
    resource_type = fields.String(metadata={"example": "brand"})
    resource_id = fields.String()
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    created_at = ma.fields.DateTime()


class AuditQuery(PageQuery):
    resource_type = fields.String()
    resource_id = fields.String()
    action = fields.String()
    actor = fields.String()
    since = ma.fields.AwareDateTime(metadata={"description": "Events at or after this time (ISO 8601 with zone)."})
    until = ma.fields.AwareDateTime(metadata={"description": "Events before this time."})
    partner_id = fields.Integer(metadata={"description": "Operators: only this partner's events."})


@blp.route("/audit-events", methods=["GET"])
@blp.arguments(AuditQuery, location="query")
@blp.response(200, page_of(AuditEventOut))
@problems(blp, 404, 422)
def list_events(args):
    """List audit events, oldest first, with filters."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(AuditEvent)
    if partner_id is not None:
        stmt = stmt.where(AuditEvent.partner_id == partner_id)
    for name in ("resource_type", "resource_id", "action", "actor"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(AuditEvent, name) == args[name])
    if args.get("since") is not None:
        stmt = stmt.where(AuditEvent.created_at >= args["since"])
    if args.get("until") is not None:
        stmt = stmt.where(AuditEvent.created_at < args["until"])
    return paginate(stmt, AuditEvent.id, args)
