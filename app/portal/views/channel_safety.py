"""What the channel page shows of issue 16's upgrade safety: health per target release over the
guard's window, the guard, who halted (a person or the guard, with its evidence), the rollout plan
and its timeline, and under two-person activation the approvals with whether each still matches.

Read-only: the changes are the routes of app/portal/views/rollout.py. Everything is computed by
the same functions as the admin API (``health_document``, ``active_plan``, the approval digests).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.api.admin.concurrency import etag_of
from app.db import session, utcnow
from app.portal.web import portal_actor
from app.upgrades.approvals import current_digest, requested_document, two_person
from app.upgrades.guard import GUARD_ACTOR, health_document
from app.upgrades.models import Approval, Channel, PlanEvent, RolloutPlan
from app.upgrades.plans import MAX_STEPS

APPROVALS_SHOWN = 10
PLAN_ROWS = 4  # empty step lines of the plan form


def _plan_view(channel: Channel) -> dict[str, Any] | None:
    """The channel's latest plan with its timeline and, while it runs, when its step is next looked at."""
    plan = session().scalar(
        select(RolloutPlan).where(RolloutPlan.channel_id == channel.id).order_by(RolloutPlan.id.desc()).limit(1)
    )
    if plan is None:
        return None
    step = plan.steps[plan.current_step]
    events = session().scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id))
    return {
        "row": plan,
        "etag": etag_of(plan),
        "running": plan.status in ("active", "paused"),
        "events": list(events),
        "next_due": plan.step_started_at + timedelta(hours=step["hold_hours"]) if plan.status == "active" else None,
    }


def _approval_views(channel: Channel) -> list[dict[str, Any]]:
    """The latest approvals, each with whether it still matches the channel (a changed file or halt voids it)."""
    stores = current_app.extensions["livery.stores"]
    rows = session().scalars(
        select(Approval).where(Approval.channel_id == channel.id).order_by(Approval.id.desc()).limit(APPROVALS_SHOWN)
    )
    views = []
    for row in rows:
        document = requested_document(stores, row) if row.action == "activate" else None
        views.append(
            {
                "row": row,
                "document": json.loads(document) if document else None,
                "kept": row.action == "resume" or document is not None,
                "matches": current_digest(channel, row, document) == row.content_sha256,
            }
        )
    return views


def safety_context(channel: Channel) -> dict[str, Any]:
    """Template values of the channel page's health, guard, plan and approval sections."""
    health = health_document(session(), channel, utcnow())
    approvals = _approval_views(channel)
    resume_asked = [a for a in approvals if a["row"].action == "resume" and a["matches"]]
    return {
        "health": health,
        "halted_by_guard": channel.halted and channel.halted_by == GUARD_ACTOR,
        "channel_etag": etag_of(channel),
        "plan": _plan_view(channel),
        "plan_lines": range(PLAN_ROWS),
        "max_steps": MAX_STEPS,
        "two_person": two_person(session(), channel.partner_id),
        "approvals": approvals,
        # the newest request to resume this very halt (pending or approved), if any
        "resume_approval": next((a["row"] for a in resume_asked if a["row"].status in ("pending", "approved")), None),
        "me": portal_actor().name,
    }
