"""Channels: control files (upload → readiness gate → activate), history, rollback, halt/resume, explain.

A channel is named in the path (``stable``, ``beta``, ...) and belongs to the caller's partner;
operator keys name the partner with ``?partner_id=``. The control file's serial is the
concurrency control of uploads (a stale one is refused), so uploads and the emergency halt take
no If-Match: stopping a bad rollout is one call.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, jsonify
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, current_actor, partner_filter, read_body, require_role
from app.api.admin.concurrency import ETAG_HEADER, etag_of
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.api.admin.validators import install_id as install_id_rule
from app.db import session, utcnow
from app.formats import CHANNEL_NAME_HINT, is_channel_name
from app.problems import NotFound, ValidationProblem
from app.upgrades.approvals import activation_digest, resume_digest, two_person, use_approval
from app.upgrades.channel_state import explain, load_channel_state
from app.upgrades.control_file import MAX_DOCUMENT_BYTES
from app.upgrades.guard import health_document
from app.upgrades.models import Channel, ControlFile
from app.upgrades.services import (
    channel_or_404,
    get_or_create_channel,
    read_control_file,
    readiness_report,
    rollback_control_file,
    set_halt,
    upload_control_file,
)
from app.upgrades.versions import PLATFORMS, InvalidVersion, parse_version

blp = admin_blueprint("admin_channels", "Upgrade channels, their control files, the emergency halt and explain.")


class PartnerArg(ma.Schema):
    partner_id = fields.Integer(metadata={"description": "Operators: the partner whose channel this is."})


class ChannelOut(ma.Schema):
    name = fields.String()
    partner_id = fields.Integer()
    active_serial = fields.Integer(allow_none=True, metadata={"description": "null: upgrades not configured."})
    halted = ma.fields.Boolean()
    halt_reason = fields.String()
    halted_at = ma.fields.DateTime(allow_none=True)
    halted_by = fields.String()
    updated_at = ma.fields.DateTime()
    etag = ma.fields.Function(etag_of)


class ControlFileOut(ma.Schema):
    serial = fields.Integer()
    schema_version = fields.Integer()
    sha256 = fields.String()
    bytes = fields.Integer()
    rollback_of = fields.Integer(allow_none=True, metadata={"description": "The serial this one restored."})
    created_at = ma.fields.DateTime()
    created_by = fields.String()
    object_key = fields.String()


class UploadArgs(PartnerArg):
    dry_run = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "true: only report what the readiness gate says; nothing is stored or activated."},
    )


class ReadinessOut(ma.Schema):
    ready = ma.fields.Boolean(metadata={"description": "Whether uploading this file would activate it."})
    serial = ma.fields.Integer(allow_none=True, metadata={"description": "The serial it would get; null: not ready."})
    active_serial = ma.fields.Integer(allow_none=True, metadata={"description": "The channel's active serial now."})
    problems = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Every problem, as [{path, message}] (the 422's errors)."}
    )
    control_file = ma.fields.Dict(metadata={"description": "The file as it would be stored (platforms resolved)."})


class ChannelQuery(PageQuery):
    partner_id = fields.Integer(metadata={"description": "Operators: only this partner's channels."})


class HistoryQuery(PageQuery, PartnerArg):
    pass


class HaltIn(PartnerArg):
    reason = fields.String(required=True, validate=ma.validate.Length(1, 500))


class RollbackIn(PartnerArg):
    serial = fields.Integer(required=True, metadata={"description": "The earlier control file to restore."})


class ExplainQuery(PartnerArg):
    version = fields.String(required=True, metadata={"example": "5.2.0"})
    platform = fields.String(required=True, validate=ma.validate.OneOf(PLATFORMS))
    install_id = fields.String(load_default=None, validate=install_id_rule)


def _partner_id(partner_id: int | None) -> int:
    return acting_partner(partner_id).id


def _channel(name: str, partner_id: int | None) -> Channel:
    if not is_channel_name(name):  # no such channel, whoever asks: 404 before the partner is looked at
        raise NotFound(f"No channel {name!r}; upload a control file to create it.")
    return channel_or_404(session(), _partner_id(partner_id), name)


@blp.route("/channels", methods=["GET"])
@blp.arguments(ChannelQuery, location="query")
@blp.response(200, page_of(ChannelOut))
@problems(blp, 404, 422)
def list_channels(args):
    """List upgrade channels."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(Channel) if partner_id is None else select(Channel).where(Channel.partner_id == partner_id)
    return paginate(stmt, Channel.id, args)


@blp.route("/channels/<name>", methods=["GET"])
@blp.arguments(PartnerArg, location="query")
@blp.response(200, ChannelOut, headers=ETAG_HEADER)
@problems(blp, 404, 422)
def get(args, name):
    """Read a channel: its active serial and halt switch."""
    channel = _channel(name, args.get("partner_id"))
    return channel, {"ETag": etag_of(channel)}


@blp.route("/channels/<name>/control-files", methods=["POST"])
@blp.arguments(UploadArgs, location="query")
@blp.response(201, ControlFileOut)
@blp.alt_response(
    200,
    schema=ReadinessOut,
    description="dry_run=true: the readiness report; nothing stored or activated, the channel not created.",
    success=True,
)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}})
@problems(blp, 403, 404, 409, 413, 422)
def upload(args, name):
    """Upload a control file; when it passes the readiness gate it becomes the channel's active file at once.

    The first control file of a name creates the channel. With ``dry_run=true`` nothing changes:
    the answer is the readiness report a release manager can review before the real upload.
    """
    partner_id = _partner_id(args.get("partner_id"))
    actor = require_role("admin")
    if not is_channel_name(name):
        raise ValidationProblem({"channel": [f"Must be a channel name: {CHANNEL_NAME_HINT}."]})
    raw = read_body(MAX_DOCUMENT_BYTES, "Control files")  # whatever the content type: refused before it is read
    stores = current_app.extensions["livery.stores"]
    if args["dry_run"]:
        # a Response passes flask-smorest's 201 serialisation by; the schema still documents it
        return jsonify(ReadinessOut().dump(readiness_report(session(), stores, partner_id, name, raw)))
    if two_person(session(), partner_id):
        channel = get_or_create_channel(session(), partner_id, name)
        use_approval(session(), channel, "activate", activation_digest(channel, raw), actor=actor.name)
    row = upload_control_file(session(), stores, partner_id, name, raw, actor=actor.name)
    session().commit()
    return row


@blp.route("/channels/<name>/control-files", methods=["GET"])
@blp.arguments(HistoryQuery, location="query")
@blp.response(200, page_of(ControlFileOut))
@problems(blp, 404, 422)
def history(args, name):
    """The channel's control files, oldest first (each activation and rollback is one)."""
    channel = _channel(name, args.get("partner_id"))
    return paginate(select(ControlFile).where(ControlFile.channel_id == channel.id), ControlFile.id, args)


@blp.route("/channels/<name>/control-files/<int:serial>", methods=["GET"])
@blp.arguments(PartnerArg, location="query")
@problems(blp, 404, 422)
def document(args, name, serial):
    """The stored control file with this serial, exactly as clients' decisions read it."""
    channel = _channel(name, args.get("partner_id"))
    row = session().scalar(
        select(ControlFile).where(ControlFile.channel_id == channel.id, ControlFile.serial == serial)
    )
    if row is None:
        raise NotFound(f"Channel {name} has no control file with serial {serial}.")
    data = read_control_file(current_app.extensions["livery.stores"], row)
    return Response(data, content_type="application/json", headers={"ETag": f'"{row.sha256}"'})


@blp.route("/channels/<name>/rollback", methods=["POST"])
@blp.arguments(RollbackIn)
@blp.response(201, ControlFileOut)
@problems(blp, 403, 404, 422)
def rollback(data, name):
    """Activate an earlier control file again, as a new serial (after the readiness gate)."""
    channel = _channel(name, data.get("partner_id"))
    actor = require_role("admin")
    row = rollback_control_file(
        session(), current_app.extensions["livery.stores"], channel, data["serial"], actor=actor.name
    )
    session().commit()
    return row


@blp.route("/channels/<name>/halt", methods=["POST"])
@blp.arguments(HaltIn)
@blp.response(200, ChannelOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 422)
def halt(data, name):
    """Emergency halt: every client of the channel is told 'none' (reason halted) from its next poll."""
    channel = _channel(name, data.get("partner_id"))
    actor = require_role("admin")
    set_halt(session(), channel, halted=True, reason=data["reason"], actor=actor.name)
    session().commit()
    return channel, {"ETag": etag_of(channel)}


@blp.route("/channels/<name>/resume", methods=["POST"])
@blp.arguments(PartnerArg)
@blp.response(200, ChannelOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 422)
def resume(data, name):
    """Lift a halt: the active control file decides again from the next poll."""
    channel = _channel(name, data.get("partner_id"))
    actor = require_role("admin")
    if channel.halted and two_person(session(), channel.partner_id):
        use_approval(session(), channel, "resume", resume_digest(channel), actor=actor.name)
    set_halt(session(), channel, halted=False, reason="", actor=actor.name)
    session().commit()
    return channel, {"ETag": etag_of(channel)}


@blp.route("/channels/<name>/explain", methods=["GET"])
@blp.arguments(ExplainQuery, location="query")
@problems(blp, 404, 422)
def explain_decision(args, name):
    """The decision for one client and every reason behind it: serial, bucket, rollout, halt, minimum, blocks."""
    channel = _channel(name, args.get("partner_id"))
    try:
        version = parse_version(args["version"])
    except InvalidVersion as exc:
        raise ValidationProblem({"version": [str(exc)]}) from None
    state = load_channel_state(session(), current_app.extensions["livery.stores"], channel.partner_id, channel.name)
    now = utcnow()
    # what the support desk also needs: how the rollout is going (docs/upgrades.md § 8)
    return {
        **explain(state, version, args["platform"], args["install_id"], now),
        "health": health_document(session(), channel, now),
    }
