"""The partner's outbound webhook: where Livery sends its events, the signing secret, the delivery log.

Events (docs/upgrades.md § 9): ``channel.halted`` (by a person or the guard), ``channel.resumed``,
``control_file.activated``, ``plan.step_advanced``, ``plan.paused``, ``plan.completed``. Each is
signed like the licensing web-service calls (Standard Webhooks) and retried with back-off for up
to three days; the log shows every delivery and its last attempt.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.outbound.egress import EgressPolicy, EgressRefused
from app.problems import NotFound, ValidationProblem
from app.webhooks.models import DELIVERY_STATES, WebhookDelivery
from app.webhooks.services import deliveries_query, endpoint_of, secret_hints, set_endpoint

blp = admin_blueprint("admin_webhooks", "The partner's outbound webhook (signed events) and its delivery log.")


class WebhookPartnerArg(ma.Schema):
    partner_id = fields.Integer(metadata={"description": "Operators: the partner whose webhook this is."})


class WebhookIn(WebhookPartnerArg):
    url = fields.String(
        required=True, validate=ma.validate.Length(1, 2000), metadata={"example": "https://hooks.acme.example/livery"}
    )
    enabled = ma.fields.Boolean(load_default=True)
    rotate_secret = ma.fields.Boolean(
        load_default=False, metadata={"description": "Make a new signing secret (shown once)."}
    )
    drop_previous_secret = ma.fields.Boolean(load_default=False, metadata={"description": "End a rotation."})


class WebhookOut(ma.Schema):
    url = fields.String()
    enabled = ma.fields.Boolean()
    secrets = ma.fields.List(
        fields.String(), metadata={"description": "The first characters of each secret, newest first."}
    )
    new_secret = fields.String(metadata={"description": "Only when a secret was made: the secret, shown once."})
    updated_at = ma.fields.DateTime()
    etag = fields.String()


class DeliveryQuery(PageQuery, WebhookPartnerArg):
    status = fields.String(validate=ma.validate.OneOf(DELIVERY_STATES))


class DeliveryOut(ma.Schema):
    id = fields.Integer()
    message_id = fields.String(metadata={"description": "The webhook-id header: the receiver's dedupe key."})
    event_type = fields.String()
    payload = ma.fields.Dict()
    status = fields.String(metadata={"description": "pending (will be tried again), delivered, failed (gave up)."})
    attempts = fields.Integer()
    created_at = ma.fields.DateTime()
    next_attempt_at = ma.fields.DateTime()
    last_attempt_at = ma.fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String()
    delivered_at = ma.fields.DateTime(allow_none=True)


def _out(row, secret: str | None = None) -> dict:
    out = {"url": row.url, "enabled": row.enabled, "secrets": secret_hints(row), "updated_at": row.updated_at}
    out["etag"] = etag_of(row)
    if secret is not None:
        out["new_secret"] = secret
    return out


@blp.route("/webhook", methods=["GET"])
@blp.arguments(WebhookPartnerArg, location="query")
@blp.response(200, WebhookOut, headers=ETAG_HEADER)
@problems(blp, 404, 422)
def get(args):
    """The partner's webhook endpoint (secrets only by their first characters)."""
    row = endpoint_of(session(), acting_partner(args.get("partner_id")).id)
    if row is None:
        raise NotFound("No webhook is configured; PUT one.")
    return _out(row), {"ETag": etag_of(row)}


@blp.route("/webhook", methods=["PUT"])
@blp.arguments(WebhookIn)
@blp.response(200, WebhookOut, headers=ETAG_HEADER)
@documents_if_match(blp)
@problems(blp, 403, 412, 422, 428)
def put(data):
    """Set the partner's webhook endpoint (If-Match once it exists); a new secret is in this answer only."""
    partner = acting_partner(data.get("partner_id"))
    actor = require_role("admin")
    existing = endpoint_of(session(), partner.id)
    if existing is not None:
        require_if_match(etag_of(existing))
    try:
        EgressPolicy(allow_private=current_app.config["LIVERY"].egress_allow_private).target(data["url"])
    except EgressRefused as exc:
        raise ValidationProblem({"url": [str(exc)]}) from None
    row, secret = set_endpoint(
        session(),
        partner.id,
        url=data["url"],
        enabled=data["enabled"],
        rotate_secret=data["rotate_secret"],
        drop_old=data["drop_previous_secret"],
        actor=actor.name,
    )
    session().commit()
    return _out(row, secret), {"ETag": etag_of(row), "Cache-Control": "no-store"}


@blp.route("/webhook/deliveries", methods=["GET"])
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, page_of(DeliveryOut))
@problems(blp, 404, 422)
def deliveries(args):
    """The delivery log: every event queued for the partner, oldest first, with its last attempt."""
    partner = acting_partner(args.get("partner_id"))
    return paginate(deliveries_query(partner.id, args.get("status")), WebhookDelivery.id, args)
