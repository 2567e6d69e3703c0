"""Rollout plans of a channel: start, read with the timeline, resume, cancel (docs/upgrades.md § 11)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.api.admin.validators import version as version_rule
from app.db import session, utcnow
from app.problems import NotFound
from app.upgrades.approvals import ApprovalRequired, two_person
from app.upgrades.models import PlanEvent, RolloutPlan
from app.upgrades.plans import MAX_STEPS, cancel_plan, resume_plan, start_plan
from app.upgrades.services import channel_or_404

blp = admin_blueprint("admin_rollout_plans", "Rollout plans: a release's rollout raised step by step while healthy.")


class PlanPartnerArg(ma.Schema):
    partner_id = fields.Integer(metadata={"description": "Operators: the partner whose channel this is."})


class StepIn(ma.Schema):
    percent = ma.fields.Float(
        required=True,
        validate=ma.validate.Range(0.01, 100),
        metadata={"example": 10, "description": "2 decimals at most"},
    )
    hold_hours = ma.fields.Float(load_default=0.0, validate=ma.validate.Range(0, 24 * 90), metadata={"example": 24})
    min_successes = fields.Integer(load_default=0, minimum=0, maximum=100_000_000, metadata={"example": 500})


class PlanIn(PlanPartnerArg):
    release_version = fields.String(required=True, validate=version_rule, metadata={"example": "5.3.0"})
    steps = ma.fields.List(ma.fields.Nested(StepIn), required=True, validate=ma.validate.Length(1, MAX_STEPS))


class EventOut(ma.Schema):
    kind = fields.String(metadata={"description": "started, advanced, paused, resumed, completed, cancelled"})
    step = fields.Integer()
    percent = fields.String()
    detail = fields.String()
    actor = fields.String()
    at = ma.fields.DateTime()


class PlanOut(ma.Schema):
    id = fields.Integer()
    release_version = fields.String()
    steps = ma.fields.List(ma.fields.Dict())
    status = fields.String(metadata={"description": "active, paused, completed, cancelled"})
    current_step = fields.Integer()
    step_started_at = ma.fields.DateTime()
    pause_reason = fields.String()
    created_by = fields.String()
    created_at = ma.fields.DateTime()
    timeline = ma.fields.Method("_timeline")
    etag = ma.fields.Function(etag_of)

    def _timeline(self, plan):
        events = session().scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id))
        return EventOut(many=True).dump(list(events))


class PlansQuery(PageQuery, PlanPartnerArg):
    pass


def _plan(name: str, plan_id: int, partner_id: int | None) -> RolloutPlan:
    channel = channel_or_404(session(), acting_partner(partner_id).id, name)
    plan = session().get(RolloutPlan, plan_id)
    if plan is None or plan.channel_id != channel.id:
        raise NotFound(f"Channel {name} has no plan {plan_id}.")
    return plan


def _change(name: str, plan_id: int, data: dict, change):
    """Resume or cancel (``change``) a plan: admin role, If-Match, commit."""
    plan = _plan(name, plan_id, data.get("partner_id"))
    actor = require_role("admin")
    require_if_match(etag_of(plan))
    change(session(), plan, actor=actor.name, now=utcnow())
    session().commit()
    return plan, {"ETag": etag_of(plan)}


@blp.route("/channels/<name>/plans", methods=["POST"])
@blp.arguments(PlanIn)
@blp.response(201, PlanOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 422)
def start(data, name):
    """Start a plan: the first step's percentage is activated now, later steps by the scheduler."""
    channel = channel_or_404(session(), acting_partner(data.get("partner_id")).id, name)
    actor = require_role("admin")
    if two_person(session(), channel.partner_id):
        # a plan activates control files by itself: no second person could approve each step
        raise ApprovalRequired("plan")
    steps = data["steps"]
    plan = start_plan(
        session(),
        current_app.extensions["livery.stores"],
        channel,
        data["release_version"],
        steps,
        actor=actor.name,
        now=utcnow(),
    )
    session().commit()
    return plan, {"ETag": etag_of(plan)}


@blp.route("/channels/<name>/plans", methods=["GET"])
@blp.arguments(PlansQuery, location="query")
@blp.response(200, page_of(PlanOut))
@problems(blp, 404, 422)
def list_plans(args, name):
    """The channel's plans, oldest first, each with its timeline."""
    channel = channel_or_404(session(), acting_partner(args.get("partner_id")).id, name)
    return paginate(select(RolloutPlan).where(RolloutPlan.channel_id == channel.id), RolloutPlan.id, args)


@blp.route("/channels/<name>/plans/<int:plan_id>", methods=["GET"])
@blp.arguments(PlanPartnerArg, location="query")
@blp.response(200, PlanOut, headers=ETAG_HEADER)
@problems(blp, 404, 422)
def get(args, name, plan_id):
    """A plan and its timeline."""
    plan = _plan(name, plan_id, args.get("partner_id"))
    return plan, {"ETag": etag_of(plan)}


@blp.route("/channels/<name>/plans/<int:plan_id>/resume", methods=["POST"])
@blp.arguments(PlanPartnerArg)
@blp.response(200, PlanOut, headers=ETAG_HEADER)
@documents_if_match(blp)
@problems(blp, 403, 404, 409, 412, 422, 428)
def resume(data, name, plan_id):
    """Resume a paused plan: its current step starts again now."""
    return _change(name, plan_id, data, resume_plan)


@blp.route("/channels/<name>/plans/<int:plan_id>/cancel", methods=["POST"])
@blp.arguments(PlanPartnerArg)
@blp.response(200, PlanOut, headers=ETAG_HEADER)
@documents_if_match(blp)
@problems(blp, 403, 404, 409, 412, 422, 428)
def cancel(data, name, plan_id):
    """Cancel a plan; the rollout stays at its current percentage."""
    return _change(name, plan_id, data, cancel_plan)
