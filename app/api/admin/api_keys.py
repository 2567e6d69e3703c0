"""API keys: issued by operators or a partner's admins, shown once, revocable, with last-used time."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import select

from app.api.admin.auth import (
    InsufficientRole,
    acting_partner,
    admin_blueprint,
    current_actor,
    load_owned,
    partner_filter,
    require_role,
)
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import WithExtra, problems
from app.db import session
from app.partners.models import ApiKey
from app.partners.services import create_api_key, revoke_api_key
from app.problems import ValidationProblem

blp = admin_blueprint("api-keys", "API keys. Stored as digests: the key itself is shown once, at creation.")


class ApiKeyIn(ma.Schema):
    role = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("admin", "viewer", "operator")),
        metadata={"description": "admin (read and write) or viewer (read only); operator for operators only."},
    )
    label = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    partner_id = ma.fields.Integer(
        metadata={"description": "Operators: the partner the key is for (omit for an operator key)."}
    )


class ApiKeyOut(ma.Schema):
    id = ma.fields.Integer()
    partner_id = ma.fields.Integer(allow_none=True)
    role = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "The first characters of the key, to recognise it."})
    label = ma.fields.String()
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String()
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    etag = ma.fields.Function(etag_of)


class NewApiKeyOut(ApiKeyOut):
    key = ma.fields.String(metadata={"description": "The key. Shown only now: store it safely."})


class ApiKeyQuery(PageQuery):
    partner_id = ma.fields.Integer(metadata={"description": "Operators: only this partner's keys."})


@blp.route("/api-keys", methods=["POST"])
@blp.arguments(ApiKeyIn)
@blp.response(201, NewApiKeyOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 422)
def create(data):
    """Issue an API key (the response is the only time the key is shown)."""
    actor = current_actor()
    if data["role"] == "operator":
        if not actor.is_operator:
            raise InsufficientRole("Only operators may create operator keys.")
        if data.get("partner_id") is not None:
            raise ValidationProblem({"partner_id": ["Operator keys belong to no partner; omit partner_id."]})
        partner = None
    else:
        partner = acting_partner(data.get("partner_id"))  # 404 for another partner, before any role check
        require_role("admin")
    key, plain = create_api_key(session(), role=data["role"], actor=actor.name, partner=partner, label=data["label"])
    session().commit()
    return WithExtra(key, key=plain), {"ETag": etag_of(key)}


@blp.route("/api-keys", methods=["GET"])
@blp.arguments(ApiKeyQuery, location="query")
@blp.response(200, page_of(ApiKeyOut))
@problems(blp, 404, 422)
def list_keys(args):
    """List API keys (prefix and label; never the key)."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(ApiKey)
    if partner_id is not None:
        stmt = stmt.where(ApiKey.partner_id == partner_id)
    return paginate(stmt, ApiKey.id, args)


@blp.route("/api-keys/<int:key_id>", methods=["GET"])
@blp.response(200, ApiKeyOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(key_id):
    """Read an API key's metadata."""
    key = load_owned(ApiKey, key_id, "API key")
    return key, {"ETag": etag_of(key)}


@blp.route("/api-keys/<int:key_id>", methods=["DELETE"])
@blp.response(200, ApiKeyOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 428)
@documents_if_match(blp)
def revoke(key_id):
    """Revoke an API key at once."""
    key = load_owned(ApiKey, key_id, "API key")
    actor = require_role("admin")
    require_if_match(etag_of(key))
    revoke_api_key(session(), key, actor=actor.name)
    session().commit()
    return key, {"ETag": etag_of(key)}
