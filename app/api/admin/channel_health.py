"""Rollout health and the automatic halt guard of a channel (docs/upgrades.md § 8).

``GET /channels/{name}/health`` counts the install reports of each target release over the
guard's window; ``PUT /channels/{name}/guard`` changes the guard (If-Match: the channel's ETag).
"""

from __future__ import annotations

import marshmallow as ma

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.spec import problems
from app.db import session, utcnow
from app.upgrades.guard import guard_changes, guard_of, health_document
from app.upgrades.services import channel_or_404, set_guard

blp = admin_blueprint(
    "admin_channel_health", "Rollout health per channel and target release; the automatic halt guard."
)


class HealthPartnerArg(ma.Schema):
    partner_id = fields.Integer(metadata={"description": "Operators: the partner whose channel this is."})


class ReleaseHealthOut(ma.Schema):
    version = fields.String()
    started = fields.Integer()
    succeeded = fields.Integer()
    failed = fields.Integer()
    rolled_back = fields.Integer()
    finished = fields.Integer(metadata={"description": "succeeded + failed + rolled_back"})
    failure_percent = ma.fields.Float(allow_none=True, metadata={"description": "(failed + rolled_back) / finished"})


class GuardOut(ma.Schema):
    enabled = ma.fields.Boolean()
    failure_percent = ma.fields.Float()
    min_reports = fields.Integer()
    window_minutes = fields.Integer()
    tripped_by = fields.String(allow_none=True, metadata={"description": "The release that breaks the guard now."})


class HealthOut(ma.Schema):
    channel = fields.String()
    window_minutes = fields.Integer()
    since = fields.String(metadata={"description": "The first minute counted (the window, or the last resume)."})
    evaluated_at = fields.String()
    halted = ma.fields.Boolean()
    halt_reason = fields.String(allow_none=True)
    guard = ma.fields.Nested(GuardOut)
    releases = ma.fields.List(ma.fields.Nested(ReleaseHealthOut))


class GuardIn(HealthPartnerArg):
    enabled = ma.fields.Boolean()
    failure_percent = ma.fields.Float(validate=ma.validate.Range(0.01, 100), metadata={"example": 5})
    min_reports = fields.Integer(minimum=1, maximum=1_000_000, metadata={"example": 50})
    window_minutes = fields.Integer(minimum=5, maximum=7 * 24 * 60, metadata={"example": 60})


class ChannelGuardOut(GuardOut):
    etag = fields.String(metadata={"description": "The channel's ETag."})


def _guard_out(channel) -> dict:
    guard = guard_of(channel)
    return {
        "enabled": guard.enabled,
        "failure_percent": float(guard.failure_percent),
        "min_reports": guard.min_reports,
        "window_minutes": guard.window_minutes,
        "tripped_by": None,
        "etag": etag_of(channel),
    }


@blp.route("/channels/<name>/health", methods=["GET"])
@blp.arguments(HealthPartnerArg, location="query")
@blp.response(200, HealthOut)
@problems(blp, 404, 422)
def health(args, name):
    """Install reports per target release over the guard's window: counts and failure rate."""
    channel = channel_or_404(session(), acting_partner(args.get("partner_id")).id, name)
    return health_document(session(), channel, utcnow())


@blp.route("/channels/<name>/guard", methods=["GET"])
@blp.arguments(HealthPartnerArg, location="query")
@blp.response(200, ChannelGuardOut, headers=ETAG_HEADER)
@problems(blp, 404, 422)
def get_guard(args, name):
    """The channel's automatic halt guard."""
    channel = channel_or_404(session(), acting_partner(args.get("partner_id")).id, name)
    return _guard_out(channel), {"ETag": etag_of(channel)}


@blp.route("/channels/<name>/guard", methods=["PUT"])
@blp.arguments(GuardIn)
@blp.response(200, ChannelGuardOut, headers=ETAG_HEADER)
@documents_if_match(blp)
@problems(blp, 403, 404, 412, 422, 428)
def put_guard(data, name):
    """Change the automatic halt guard (failure share, minimum reports, window; or turn it off)."""
    channel = channel_or_404(session(), acting_partner(data.get("partner_id")).id, name)
    actor = require_role("admin")
    require_if_match(etag_of(channel))
    set_guard(session(), channel, guard_changes(data), actor=actor.name)
    session().commit()
    return _guard_out(channel), {"ETag": etag_of(channel)}
