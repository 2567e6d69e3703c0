"""Partners (operators only): onboard, list, read and move through onboarding -> live -> suspended."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint, load_owned_partner, require_operator
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.onboarding.services import change_status
from app.partners.models import PARTNER_STATUSES, Partner
from app.partners.services import create_partner

blp = admin_blueprint("partners", "Partners (OEM vendors). Operators only; a partner key may read its own.")


class PartnerIn(ma.Schema):
    slug = fields.String(
        required=True,
        metadata={"description": "2-63 lower-case letters, digits and hyphens; unique.", "example": "acme"},
    )
    name = fields.String(
        required=True, validate=ma.validate.Length(1, 200), metadata={"example": "Acme Communications"}
    )


class PartnerPatch(ma.Schema):
    status = fields.String(
        required=True,
        validate=ma.validate.OneOf(PARTNER_STATUSES),
        metadata={
            "description": "onboarding -> live (409 partner_not_ready until every readiness check passes) -> "
            "suspended; suspended -> live reinstates."
        },
    )


class PartnerOut(ma.Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    status = fields.String()
    go_live_at = ma.fields.DateTime(allow_none=True, metadata={"description": "Scheduled go-live, if any."})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    etag = ma.fields.Function(etag_of, metadata={"description": "Send as If-Match to change it."})


class PartnerQuery(PageQuery):
    status = fields.String(validate=ma.validate.OneOf(PARTNER_STATUSES))


@blp.route("/partners", methods=["POST"])
@blp.arguments(PartnerIn)
@blp.response(201, PartnerOut, headers=ETAG_HEADER)
@problems(blp, 403, 409, 422)
def create(data):
    """Onboard a partner (status onboarding)."""
    actor = require_operator()
    partner = create_partner(session(), slug=data["slug"], name=data["name"], actor=actor.name)
    session().commit()
    return partner, {"ETag": etag_of(partner)}


@blp.route("/partners", methods=["GET"])
@blp.arguments(PartnerQuery, location="query")
@blp.response(200, page_of(PartnerOut))
@problems(blp, 403, 422)
def list_partners(args):
    """List partners."""
    require_operator()
    stmt = select(Partner)
    if args.get("status"):
        stmt = stmt.where(Partner.status == args["status"])
    return paginate(stmt, Partner.id, args)


@blp.route("/partners/<int:partner_id>", methods=["GET"])
@blp.response(200, PartnerOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(partner_id):
    """Read a partner (a partner key may read its own)."""
    partner = load_owned_partner(partner_id)
    return partner, {"ETag": etag_of(partner)}


@blp.route("/partners/<int:partner_id>", methods=["PATCH"])
@blp.arguments(PartnerPatch)
@blp.response(200, PartnerOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 422, 428)
@documents_if_match(blp)
def set_status(data, partner_id):
    """Change a partner's status: going live needs readiness; suspension makes every access code answer 410."""
    partner = load_owned_partner(partner_id)
    actor = require_operator()
    require_if_match(etag_of(partner))
    keys = current_app.extensions["livery.upgrades"].published_key_count
    change_status(session(), partner, data["status"], actor=actor.name, signing_keys=keys)
    session().commit()
    return partner, {"ETag": etag_of(partner)}
