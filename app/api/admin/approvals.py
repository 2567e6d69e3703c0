"""Two-person activation (docs/upgrades.md § 10): the partner's option, approvals asked and given.

With ``two_person`` on, uploading a control file and resuming a halted channel need an approval
of exactly that file / that halt by a second key; see app/upgrades/approvals.py for the binding.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, jsonify

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, read_body, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.formats import CHANNEL_NAME_HINT, is_channel_name
from app.problems import ValidationProblem
from app.upgrades.approvals import (
    ACTIONS,
    activation_digest,
    approvals_query,
    approve,
    find_approval,
    keep_document,
    policy_of,
    request_approval,
    require_two_person,
    resume_digest,
    set_two_person,
)
from app.upgrades.control_file import MAX_DOCUMENT_BYTES
from app.upgrades.models import Approval
from app.upgrades.services import ControlFileRejected, channel_or_404, get_or_create_channel, readiness_report

blp = admin_blueprint("admin_approvals", "Two-person activation: the partner's option and the approvals.")


class ApprovalPartnerArg(ma.Schema):
    partner_id = fields.Integer(metadata={"description": "Operators: the partner concerned."})


class PolicyIn(ApprovalPartnerArg):
    two_person = ma.fields.Boolean(required=True)


class PolicyOut(ma.Schema):
    two_person = ma.fields.Boolean()
    etag = fields.String(allow_none=True)


class RequestArgs(ApprovalPartnerArg):
    action = fields.String(required=True, validate=ma.validate.OneOf(ACTIONS))


class ApprovalOut(ma.Schema):
    id = fields.Integer()
    action = fields.String()
    content_sha256 = fields.String(metadata={"description": "What the approval is bound to (file and context)."})
    status = fields.String(metadata={"description": "pending, approved, used, void, rejected"})
    requested_by = fields.String()
    requested_at = ma.fields.DateTime()
    approved_by = fields.String()
    approved_at = ma.fields.DateTime(allow_none=True)
    etag = ma.fields.Function(etag_of)


class ApprovalsQuery(PageQuery, ApprovalPartnerArg):
    pass


@blp.route("/upgrade-policy", methods=["GET"])
@blp.arguments(ApprovalPartnerArg, location="query")
@blp.response(200, PolicyOut, headers=ETAG_HEADER)
@problems(blp, 404, 422)
def get_policy(args):
    """The partner's upgrade options (two-person activation); the ETag once they were set."""
    policy = policy_of(session(), acting_partner(args.get("partner_id")).id)
    if policy is None:
        return {"two_person": False, "etag": None}
    return {"two_person": policy.two_person, "etag": etag_of(policy)}, {"ETag": etag_of(policy)}


@blp.route("/upgrade-policy", methods=["PUT"])
@blp.arguments(PolicyIn)
@blp.response(200, PolicyOut, headers=ETAG_HEADER)
@documents_if_match(blp)
@problems(blp, 403, 404, 412, 422, 428)
def put_policy(data):
    """Turn two-person activation on or off (If-Match once the policy exists)."""
    partner = acting_partner(data.get("partner_id"))
    actor = require_role("admin")
    policy = policy_of(session(), partner.id)
    if policy is not None:
        require_if_match(etag_of(policy))
    policy = set_two_person(session(), partner.id, data["two_person"], actor=actor.name)
    session().commit()
    return {"two_person": policy.two_person, "etag": etag_of(policy)}, {"ETag": etag_of(policy)}


def _digest(channel, action: str, partner_id: int, *, keep: bool = False) -> str:
    if action == "resume":
        return resume_digest(channel)
    raw = read_body(MAX_DOCUMENT_BYTES, "Control files")
    stores = current_app.extensions["livery.stores"]
    report = readiness_report(session(), stores, partner_id, channel.name, raw)
    if not report["ready"]:
        raise ControlFileRejected(report["problems"])  # approving a file that cannot activate helps nobody
    digest = activation_digest(channel, raw)
    if keep:  # so that an approver in the portal reviews exactly these bytes
        keep_document(stores, digest, raw)
    return digest


@blp.route("/channels/<name>/approvals", methods=["POST"])
@blp.arguments(RequestArgs, location="query")
@blp.response(201, ApprovalOut, headers=ETAG_HEADER)
@blp.doc(requestBody={"required": False, "content": {"application/json": {"schema": {"type": "object"}}}})
@problems(blp, 403, 404, 409, 413, 422)
def request_route(args, name):
    """Ask for a second person's approval: of the control file in the body (action=activate) or of a resume.

    409 ``approval_already_asked`` (with ``approval_id``) while a pending or approved request of
    exactly this file or halt exists: one request per halt, however often it is asked; 409
    ``two_person_off`` while the partner's two-person activation is off (nothing would wait for it).
    """
    partner = acting_partner(args.get("partner_id"))
    actor = require_role("admin")
    require_two_person(session(), partner.id)
    if args["action"] == "activate":
        if not is_channel_name(name):
            raise ValidationProblem({"channel": [f"Must be a channel name: {CHANNEL_NAME_HINT}."]})
        channel = get_or_create_channel(session(), partner.id, name)  # an approval may precede the first file
    else:
        channel = channel_or_404(session(), partner.id, name)
        if not channel.halted:
            raise ValidationProblem({"action": ["The channel is not halted: there is nothing to resume."]})
    approval = request_approval(
        session(), channel, args["action"], _digest(channel, args["action"], partner.id, keep=True), actor=actor.name
    )
    session().commit()
    return approval, {"ETag": etag_of(approval)}


@blp.route("/channels/<name>/approvals", methods=["GET"])
@blp.arguments(ApprovalsQuery, location="query")
@blp.response(200, page_of(ApprovalOut))
@problems(blp, 404, 422)
def list_approvals(args, name):
    """The channel's approvals, oldest first."""
    channel = channel_or_404(session(), acting_partner(args.get("partner_id")).id, name)
    return paginate(approvals_query(channel), Approval.id, args)


@blp.route("/channels/<name>/approvals/<int:approval_id>/approve", methods=["POST"])
@blp.arguments(ApprovalPartnerArg, location="query")
@blp.response(200, ApprovalOut, headers=ETAG_HEADER)
@blp.doc(requestBody={"required": False, "content": {"application/json": {"schema": {"type": "object"}}}})
@problems(blp, 403, 404, 409, 413, 422)
def approve_route(args, name, approval_id):
    """Approve as the second person: send the control file you reviewed (activate), or nothing (resume).

    409 ``two_person_off`` once the partner's two-person activation is off: the request needs no answer.
    """
    partner = acting_partner(args.get("partner_id"))
    actor = require_role("admin")
    require_two_person(session(), partner.id)
    channel = channel_or_404(session(), partner.id, name)
    approval = find_approval(session(), channel, approval_id)
    try:
        digest = _digest(channel, approval.action, partner.id)
    except ControlFileRejected:
        digest = ""  # a file that no longer passes the gate cannot match what was asked for
    try:
        approve(session(), approval, digest, actor=actor.name)
    finally:
        session().commit()  # a voided approval stays void
    response = jsonify(ApprovalOut().dump(approval))
    response.headers["ETag"] = etag_of(approval)
    return response
