"""Rollout plans: raise one release's rollout step by step, each step only while the rollout is healthy.

A plan is a list of steps ``{"percent", "hold_hours", "min_successes"}``. Starting it activates
the first step's percentage; the scheduler (``run_plans``; a thread in each worker and
``flask upgrades run-scheduled`` for cron) looks at every active plan and, once a step has been
in effect for its ``hold_hours``, advances to the next step only if the guard held during the
step (the channel is not halted, was not halted and resumed since the step began, and the
step's reports do not break the guard's threshold) and at least ``min_successes`` installs of
the release succeeded; otherwise the plan pauses itself, and a person resumes it (the step
starts again) or cancels it. Every step change is a control-file activation (gate, new serial,
audit, announcement) made by ``plan:<id>``; the timeline is ``rollout_plan_events``.

Several schedulers at once are safe: each plan is claimed with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL and handled in its own transaction, so a step fires once; on SQLite one writer runs
at a time and the plan's version column refuses a change made from a stale read.
No commits here except in ``run_plans``, which owns its transactions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.audit.services import audited
from app.problems import Conflict, ValidationProblem
from app.storage import Stores
from app.upgrades.guard import counts_since, guard_of
from app.upgrades.health import guard_trips
from app.upgrades.models import Channel, PlanEvent, RolloutPlan
from app.upgrades.models import ControlFile as ControlFileRow
from app.upgrades.services import read_control_file, upload_control_file
from app.webhooks.services import queue_event

MAX_STEPS = 10
log = logging.getLogger(__name__)


def check_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps, normalised; ValidationProblem naming each bad one (percentages must rise)."""
    errors: dict[str, list[str]] = {}
    if not 1 <= len(steps) <= MAX_STEPS:
        errors["steps"] = [f"Give 1 to {MAX_STEPS} steps."]
    out, previous = [], Decimal(0)
    for i, step in enumerate(steps[:MAX_STEPS]):
        percent = Decimal(str(step["percent"]))
        if not (previous < percent <= 100) or percent != percent.quantize(Decimal("0.01")):
            errors[f"steps.{i}.percent"] = [
                "Each step's percent (up to 2 decimals) must be above the previous one, at most 100."
            ]
        previous = percent
        out.append(
            {
                "percent": float(percent) if percent % 1 else int(percent),
                "hold_hours": float(step.get("hold_hours", 0)),
                "min_successes": int(step.get("min_successes", 0)),
            }
        )
    if errors:
        raise ValidationProblem(errors)
    return out


def _event(session: Session, plan: RolloutPlan, kind: str, detail: str, actor: str, now: datetime) -> None:
    percent = plan.steps[plan.current_step]["percent"]
    session.add(
        PlanEvent(
            plan_id=plan.id, kind=kind, step=plan.current_step, percent=str(percent), detail=detail, actor=actor, at=now
        )
    )


def _activate_percent(session: Session, stores: Stores, channel: Channel, version: str, percent, actor: str) -> int:
    """Activate the channel's active control file with ``version`` at ``percent``; the new serial."""
    row = session.scalar(
        select(ControlFileRow).where(
            ControlFileRow.channel_id == channel.id, ControlFileRow.serial == channel.active_serial
        )
    )
    document = json.loads(read_control_file(stores, row))
    entries = [e for e in document["releases"] if e["version"] == version]
    if not entries:
        raise Conflict(f"The active control file of {channel.name} does not offer {version}.", code="plan_conflict")
    for entry in entries:
        entry["rollout_percent"] = percent
    document.pop("serial", None)
    return upload_control_file(
        session, stores, channel.partner_id, channel.name, json.dumps(document).encode(), actor=actor
    ).serial


def active_plan(session: Session, channel: Channel) -> RolloutPlan | None:
    """The channel's running or paused plan, or None."""
    return session.scalar(
        select(RolloutPlan).where(RolloutPlan.channel_id == channel.id, RolloutPlan.status.in_(("active", "paused")))
    )


def start_plan(
    session: Session, stores: Stores, channel: Channel, version: str, steps: list[dict], *, actor: str, now: datetime
) -> RolloutPlan:
    """Start a plan for ``version`` on ``channel``: its first step's percentage is activated now (audited)."""
    steps = check_steps(steps)
    if active_plan(session, channel) is not None:
        raise Conflict(f"Channel {channel.name} already runs a plan; cancel it first.", code="plan_conflict")
    if channel.active_serial is None:
        raise Conflict(f"Channel {channel.name} has no active control file.", code="plan_conflict")
    with audited(session, actor, "rollout_plan.start") as change:
        change.row = plan = RolloutPlan(
            partner_id=channel.partner_id,
            channel_id=channel.id,
            release_version=version,
            steps=steps,
            status="active",
            current_step=0,
            step_started_at=now,
            created_by=actor,
        )
        session.add(plan)
        session.flush()
    _activate_percent(session, stores, channel, version, steps[0]["percent"], f"plan:{plan.id}")
    _event(session, plan, "started", f"{version} at {steps[0]['percent']} %", actor, now)
    return plan


def _step_verdict(session: Session, plan: RolloutPlan, channel: Channel, now: datetime) -> tuple[str, str]:
    """('wait' | 'advance' | 'pause', why) for the plan's current step at ``now``."""
    step = plan.steps[plan.current_step]
    if channel.halted:
        return "pause", f"the channel is halted: {channel.halt_reason}"
    if channel.guard_since is not None and channel.guard_since > plan.step_started_at:
        return "pause", "the channel was halted and resumed during this step"
    healths = counts_since(session, plan.partner_id, channel.name, plan.step_started_at, plan.release_version)
    health = healths.get(plan.release_version)
    if health is not None and guard_trips(health, guard_of(channel)):
        return (
            "pause",
            f"the guard's threshold was broken during this step ({health.failures} of {health.finished} failed)",
        )
    if now < plan.step_started_at + timedelta(hours=step["hold_hours"]):
        return "wait", ""
    successes = health.succeeded if health else 0
    if successes < step["min_successes"]:
        return "pause", f"only {successes} of the {step['min_successes']} successful installs this step needs"
    return "advance", f"{successes} successful installs, guard held"


def advance_plan(session: Session, stores: Stores, plan: RolloutPlan, now: datetime) -> str:
    """Look at one active plan at ``now``: wait, advance one step (or complete), or pause; what was done."""
    channel = session.get(Channel, plan.channel_id)
    verdict, why = _step_verdict(session, plan, channel, now)
    actor = f"plan:{plan.id}"
    data = {"plan_id": plan.id, "channel": channel.name, "release": plan.release_version}
    if verdict == "pause":
        with audited(session, actor, "rollout_plan.pause", plan):
            plan.status, plan.pause_reason = "paused", why[:500]
        _event(session, plan, "paused", why[:500], actor, now)
        queue_event(session, plan.partner_id, "plan.paused", {**data, "step": plan.current_step, "reason": why})
    elif verdict == "advance":
        with audited(session, actor, "rollout_plan.advance", plan):
            plan.current_step += 1
            plan.step_started_at = now
        percent = plan.steps[plan.current_step]["percent"]
        serial = _activate_percent(session, stores, channel, plan.release_version, percent, actor)
        _event(session, plan, "advanced", f"{why}; now {percent} % (serial {serial})", actor, now)
        queue_event(
            session,
            plan.partner_id,
            "plan.step_advanced",
            {**data, "step": plan.current_step, "percent": percent, "serial": serial},
        )
        if plan.current_step == len(plan.steps) - 1:
            with audited(session, actor, "rollout_plan.complete", plan):
                plan.status = "completed"
            _event(session, plan, "completed", "the last step is in effect", actor, now)
            queue_event(session, plan.partner_id, "plan.completed", data)
    return verdict


def resume_plan(session: Session, plan: RolloutPlan, *, actor: str, now: datetime) -> RolloutPlan:
    """Resume a paused plan: its current step starts again now (audited)."""
    if plan.status != "paused":
        raise Conflict(f"The plan is {plan.status}; only a paused plan resumes.", code="plan_conflict")
    with audited(session, actor, "rollout_plan.resume", plan):
        plan.status, plan.pause_reason, plan.step_started_at = "active", "", now
    _event(session, plan, "resumed", "", actor, now)
    return plan


def cancel_plan(session: Session, plan: RolloutPlan, *, actor: str, now: datetime) -> RolloutPlan:
    """Stop a plan; the rollout stays where it is (audited)."""
    if plan.status not in ("active", "paused"):
        raise Conflict(f"The plan is {plan.status} already.", code="plan_conflict")
    with audited(session, actor, "rollout_plan.cancel", plan):
        plan.status = "cancelled"
    _event(session, plan, "cancelled", "", actor, now)
    return plan


def run_plans(
    make_session: sessionmaker, stores: Stores, *, clock: Callable[[], datetime], limit: int = 100
) -> list[dict]:
    """Look at every active plan once (each in its own transaction, claimed SKIP LOCKED); what each did."""
    results, seen = [], set()
    for _ in range(limit):
        with make_session() as session:
            stmt = select(RolloutPlan).where(RolloutPlan.status == "active").order_by(RolloutPlan.id)
            if seen:
                stmt = stmt.where(RolloutPlan.id.not_in(seen))
            plan = session.scalar(stmt.limit(1).with_for_update(skip_locked=True))
            if plan is None:
                break
            seen.add(plan.id)
            try:
                verdict = advance_plan(session, stores, plan, clock())
                session.commit()
            except Exception:
                session.rollback()
                log.exception("rollout plan %s not advanced", plan.id)
                verdict = "error"
            results.append({"plan": plan.id, "did": verdict, "step": plan.current_step})
    return results
