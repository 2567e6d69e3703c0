"""A partner's licensing settings (``/partners/{id}/licensing``) and the explain tool for support desks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, current_actor, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_for, require_if_match
from app.api.admin.spec import problems
from app.branding.codes import code_digest, normalise_code
from app.branding.models import AccessCode
from app.db import session
from app.licensing.models import Customer
from app.licensing.settings import redacted, settings_row, settings_values, update_settings
from app.licensing.user_ids import InvalidUserId, normalise_user_id
from app.problems import NotFound, ValidationProblem

blp = admin_blueprint("licensing", "Licensing settings of a partner, and why a user is (not) licensed.")
NO_STORE = {"Cache-Control": "no-store"}


class LicensingSettingsIn(ma.Schema):
    licence_types = ma.fields.List(
        fields.String(validate=ma.validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")),
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "The partner's licence types; the first is the default for new users."},
    )
    lease_days = fields.Integer(validate=ma.validate.Range(1, 90), metadata={"description": "Default 7."})
    grace_lease_hours = fields.Integer(validate=ma.validate.Range(1, 168), metadata={"description": "Default 24."})
    grace_max_hours = fields.Integer(validate=ma.validate.Range(1, 720), metadata={"description": "Default 72."})
    positive_cache_seconds = fields.Integer(validate=ma.validate.Range(0, 86400))
    negative_cache_seconds = fields.Integer(validate=ma.validate.Range(0, 3600))
    web_service_url_template = fields.String(
        validate=ma.validate.Length(max=2000),
        metadata={"description": "https URL with {user_id}, for the web-service method (docs/licensing.md)."},
    )
    proprietary_adapter = fields.String(validate=ma.validate.Length(max=63))
    proprietary_settings = ma.fields.Dict()
    method_settings = ma.fields.Dict()
    scim_customer_id = fields.Integer(
        minimum=1, allow_none=True, metadata={"description": "The customer SCIM-provisioned users land under."}
    )
    rotate_secret = ma.fields.Boolean(
        load_default=False, metadata={"description": "Make a new web-service signing secret (shown once)."}
    )
    drop_previous_secret = ma.fields.Boolean(
        load_default=False, metadata={"description": "End a rotation: keep only the newest secret."}
    )


class LicensingSettingsOut(ma.Schema):
    partner_id = fields.Integer()
    licence_types = ma.fields.List(fields.String())
    lease_days = fields.Integer()
    grace_lease_hours = fields.Integer()
    grace_max_hours = fields.Integer()
    positive_cache_seconds = fields.Integer()
    negative_cache_seconds = fields.Integer()
    web_service_url_template = fields.String()
    web_service_secrets = ma.fields.List(
        fields.String(), metadata={"description": "The first characters of each secret, newest first."}
    )
    proprietary_adapter = fields.String()
    proprietary_settings = ma.fields.Dict()
    method_settings = ma.fields.Dict()
    scim_customer_id = fields.Integer(allow_none=True)
    new_secret = fields.String(metadata={"description": "Only after rotate_secret: the new secret, shown once."})
    etag = fields.String()


class ExplainQuery(ma.Schema):
    access_code = fields.String(required=True)
    user_id = fields.String(required=True)


class ExplainOut(ma.Schema):
    method = fields.String()
    registered = ma.fields.Boolean(metadata={"description": "Whether this deployment has that method."})
    status = fields.String()
    licensed = ma.fields.Boolean()
    licence_type = fields.String(allow_none=True)
    user_id = fields.String(metadata={"description": "The id as it was matched."})
    source = ma.fields.Dict(metadata={"description": "Where the answer came from (allocation, cache, call...)."})
    elapsed_ms = fields.Integer()
    checked_at = fields.String()
    lease_until = fields.String()
    lease_days = fields.Integer()
    grace_lease_hours = fields.Integer()


def _current(partner_id: int) -> dict[str, Any]:
    values = redacted(settings_values(settings_row(session(), partner_id)))
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    return {"partner_id": partner_id, **values, "etag": etag_for("licensing", partner_id, digest)}


@blp.route("/partners/<int:partner_id>/licensing", methods=["GET"])
@blp.response(200, LicensingSettingsOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(partner_id):
    """Read a partner's licensing settings (secrets only by their first characters)."""
    partner = acting_partner(partner_id)
    current = _current(partner.id)
    return current, {"ETag": current["etag"], **NO_STORE}


@blp.route("/partners/<int:partner_id>/licensing", methods=["PUT"])
@blp.arguments(LicensingSettingsIn)
@blp.response(200, LicensingSettingsOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 412, 422, 428)
@documents_if_match(blp)
def put(data, partner_id):
    """Change a partner's licensing settings; a rotated secret is in this answer only (no-store)."""
    partner = acting_partner(partner_id)
    actor = require_role("admin")
    require_if_match(_current(partner.id)["etag"])
    customer_id = data.get("scim_customer_id")
    if customer_id is not None:
        customer = session().get(Customer, customer_id)
        if customer is None or customer.partner_id != partner.id:
            raise ValidationProblem({"scim_customer_id": ["No such customer of this partner."]})
    rotate, drop = data.pop("rotate_secret"), data.pop("drop_previous_secret")
    _row, secret = update_settings(session(), partner.id, data, rotate_secret=rotate, drop_old=drop, actor=actor.name)
    session().commit()
    current = _current(partner.id)
    if secret is not None:
        current["new_secret"] = secret
    return current, {"ETag": current["etag"], **NO_STORE}


@blp.route("/licensing/explain", methods=["GET"])
@blp.arguments(ExplainQuery, location="query")
@blp.response(200, ExplainOut)
@problems(blp, 404, 422)
def explain(args):
    """Why a user is (not) licensed under an access code: method, source, lease (records no usage)."""
    actor = current_actor()
    try:
        user_key = normalise_user_id(args["user_id"])
    except InvalidUserId as exc:
        raise ValidationProblem({"user_id": [str(exc)]}) from None
    canonical = normalise_code(args["access_code"])
    digest = code_digest(canonical) if canonical else ""
    code = session().scalar(select(AccessCode).where(AccessCode.digest == digest)) if digest else None
    if code is None or (not actor.is_operator and code.partner_id != actor.partner_id):
        raise NotFound("No access code like this belongs to you.")
    checks = current_app.extensions["livery.licensing"]
    method = checks.brand_method(code.brand_id, code.kind == "live")
    if method is None:
        raise NotFound("This live code's brand was never published: clients get 404 before any check.")
    explained = checks.explain(code, method, user_key)
    return explained, NO_STORE
