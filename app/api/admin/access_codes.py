"""Access codes: issue (the code is shown once), list by prefix and label, revoke, rotate."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint, current_actor, load_owned, partner_filter, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import WithExtra, problems
from app.api.admin.validators import channel_name
from app.branding.document import discovery_url
from app.branding.models import CODE_KINDS, CODE_STATUSES, AccessCode, Brand
from app.branding.services import issue_code, revoke_code, rotate_code
from app.db import session

blp = admin_blueprint("access-codes", "Access codes clients launch with. Stored as digests; shown once.")


class AccessCodeIn(ma.Schema):
    kind = fields.String(
        required=True,
        validate=ma.validate.OneOf(CODE_KINDS),
        metadata={"description": "live: sees the published revision; test: sees the draft."},
    )
    label = fields.String(load_default="", validate=ma.validate.Length(max=200))
    expires_at = ma.fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "Optional; ISO 8601 with time zone."}
    )
    channel = fields.String(
        load_default=None,
        allow_none=True,
        validate=channel_name,
        metadata={"description": "Optional upgrade channel for this code; default: the brand's."},
    )


class RotateIn(ma.Schema):
    old_valid_until = ma.fields.AwareDateTime(
        required=True, metadata={"description": "Until when the old code keeps working (ISO 8601 with time zone)."}
    )
    label = fields.String(validate=ma.validate.Length(max=200), metadata={"description": "For the new code."})


class AccessCodeOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    brand_id = fields.Integer()
    prefix = fields.String(metadata={"description": "The first symbols of the code, to recognise it."})
    label = fields.String()
    kind = fields.String()
    channel = fields.String(allow_none=True)
    status = fields.String()
    expires_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    replaced_by_id = fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    etag = ma.fields.Function(etag_of)


class NewAccessCodeOut(AccessCodeOut):
    code = fields.String(metadata={"description": "The code. Shown only now: build it into the product."})
    discovery_url = fields.String(metadata={"description": "Where a client with this code asks who it is."})


class AccessCodeQuery(PageQuery):
    brand_id = fields.Integer()
    kind = fields.String(validate=ma.validate.OneOf(CODE_KINDS))
    status = fields.String(validate=ma.validate.OneOf(CODE_STATUSES))
    partner_id = fields.Integer(metadata={"description": "Operators: only this partner's codes."})


def _shown_once(code: AccessCode, plain: str) -> WithExtra:
    base = current_app.config["LIVERY"].public_base_url
    return WithExtra(code, code=plain, discovery_url=discovery_url(base, plain))


@blp.route("/brands/<int:brand_id>/access-codes", methods=["POST"])
@blp.arguments(AccessCodeIn)
@blp.response(201, NewAccessCodeOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 422)
def issue(data, brand_id):
    """Issue an access code for a brand (the response is the only time the code is shown)."""
    brand = load_owned(Brand, brand_id, "brand")
    actor = require_role("admin")
    code, plain = issue_code(
        session(),
        brand,
        kind=data["kind"],
        actor=actor.name,
        label=data["label"],
        expires_at=data["expires_at"],
        channel=data["channel"],
    )
    session().commit()
    return _shown_once(code, plain), {"ETag": etag_of(code)}


@blp.route("/access-codes", methods=["GET"])
@blp.arguments(AccessCodeQuery, location="query")
@blp.response(200, page_of(AccessCodeOut))
@problems(blp, 404, 422)
def list_codes(args):
    """List access codes (prefix and label; never the code)."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(AccessCode)
    if args.get("brand_id") is not None:
        load_owned(Brand, args["brand_id"], "brand")
        stmt = stmt.where(AccessCode.brand_id == args["brand_id"])
    if partner_id is not None:
        stmt = stmt.where(AccessCode.partner_id == partner_id)
    for name in ("kind", "status"):
        if args.get(name):
            stmt = stmt.where(getattr(AccessCode, name) == args[name])
    return paginate(stmt, AccessCode.id, args)


@blp.route("/access-codes/<int:code_id>", methods=["GET"])
@blp.response(200, AccessCodeOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(code_id):
    """Read an access code's metadata."""
    code = load_owned(AccessCode, code_id, "access code")
    return code, {"ETag": etag_of(code)}


@blp.route("/access-codes/<int:code_id>/revoke", methods=["POST"])
@blp.response(200, AccessCodeOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 428)
@documents_if_match(blp)
def revoke(code_id):
    """Revoke an access code; clients using it get 410 from their next launch."""
    code = load_owned(AccessCode, code_id, "access code")
    actor = require_role("admin")
    require_if_match(etag_of(code))
    revoke_code(session(), code, actor=actor.name)
    session().commit()
    return code, {"ETag": etag_of(code)}


@blp.route("/access-codes/<int:code_id>/rotate", methods=["POST"])
@blp.arguments(RotateIn)
@blp.response(201, NewAccessCodeOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 422, 428)
@documents_if_match(blp)
def rotate(data, code_id):
    """Issue a successor code; the old one keeps working until old_valid_until."""
    code = load_owned(AccessCode, code_id, "access code")
    actor = require_role("admin")
    require_if_match(etag_of(code))
    new_code, plain = rotate_code(
        session(), code, old_valid_until=data["old_valid_until"], actor=actor.name, label=data.get("label")
    )
    session().commit()
    return _shown_once(new_code, plain), {"ETag": etag_of(new_code)}
