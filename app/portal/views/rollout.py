"""Upgrade safety on the channel page (docs/upgrades.md §§ 8-11): the automatic halt guard's
settings, rollout plans (start or replace, resume, cancel) and two-person approvals (ask, approve,
reject, and activate an approved control file).

Each form posts here and is handled by the admin API's schemas and app/upgrades services (same
validation, audit, version checks); a refused change comes back as the channel page with the
problem next to its field. What the page shows is app/portal/views/channel_safety.py.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from app.api.admin.auth import load_owned, require_role
from app.api.admin.channel_health import GuardIn
from app.api.admin.concurrency import etag_of
from app.api.admin.rollout_plans import PlanIn
from app.db import session, utcnow
from app.portal.pages import form_errors, load_form
from app.portal.screens import finish
from app.portal.views.catalogue import channel_page
from app.portal.web import bp, portal_view
from app.problems import Conflict, NotFound, Problem, ValidationProblem
from app.upgrades.approvals import (
    AlreadyAsked,
    ApprovalRequired,
    activation_digest,
    approve,
    current_digest,
    find_approval,
    reject,
    request_approval,
    requested_document,
    resume_digest,
    two_person,
    use_approval,
)
from app.upgrades.guard import guard_changes
from app.upgrades.models import Channel, RolloutPlan
from app.upgrades.plans import MAX_STEPS, active_plan, cancel_plan, resume_plan, start_plan
from app.upgrades.services import set_guard, upload_control_file

OFF = (
    "Two-person activation is off: nothing needs a second person's approval. Activate the file from the "
    "control-file form, or resume the channel directly."
)
GUARD_FIELDS = ("failure_percent", "min_reports", "window_minutes")
STEP_FIELDS = ("percent", "hold_hours", "min_successes")


def _stale(channel: Channel, errors_key: str, **form: Any):
    """The channel page at 409: the form was loaded before someone else's change (its ETag differs)."""
    message = "Someone changed this meanwhile: nothing was saved. Check what the page shows now, then send again."
    return channel_page(channel, errors={errors_key: [message]}, status=409, **form)


# ---- the guard ----------------------------------------------------------------------------------


@bp.route("/channels/<int:channel_id>/guard", methods=["POST"])
@portal_view()
def guard(channel_id: int):
    """Change the automatic halt guard: failure share, minimum reports, window, or turn it off."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    form = {name: request.form.get(name, "").strip() for name in GUARD_FIELDS}
    form["enabled"] = "on" if request.form.get("enabled") else ""
    if request.form.get("etag", "") != etag_of(row):
        return _stale(row, "guard", guard_form=form)
    try:
        data = load_form(GuardIn(), {**{name: form[name] for name in GUARD_FIELDS}, "enabled": bool(form["enabled"])})
    except ValidationProblem as exc:
        return channel_page(row, errors=form_errors(exc), status=422, guard_form=form)
    set_guard(session(), row, guard_changes(data), actor=actor.name)
    state = "on" if data["enabled"] else "off"
    return finish(f"The automatic halt guard of {row.name} is {state}.", "portal.channel", channel_id=row.id)


# ---- rollout plans --------------------------------------------------------------------------------


def _plan_form() -> dict[str, str]:
    form = {"release_version": request.form.get("release_version", "").strip()}
    for n in range(MAX_STEPS):
        for name in STEP_FIELDS:
            key = f"steps-{n}-{name}"
            if key in request.form:
                form[key] = request.form.get(key, "").strip()
    return form


def _steps(form: dict[str, str]) -> list[dict[str, str]]:
    """The step lines that say something (a line without a percentage is left out)."""
    steps = []
    for n in range(MAX_STEPS):
        if form.get(f"steps-{n}-percent"):
            steps.append({name: form[f"steps-{n}-{name}"] for name in STEP_FIELDS if form.get(f"steps-{n}-{name}")})
    return steps


def _step_errors(errors: Any, form: dict[str, str]) -> dict[str, list[str]]:
    """Schema or ``check_steps`` messages (``steps.1.percent`` / nested) as the form's field names."""
    lines = [n for n in range(MAX_STEPS) if form.get(f"steps-{n}-percent")]
    flat: dict[str, list[str]] = {}
    for name, messages in (errors or {}).items():
        if name == "steps" and isinstance(messages, dict):
            for index, fields in messages.items():
                line = lines[int(index)] if int(index) < len(lines) else 0
                for field, text in fields.items():
                    flat.setdefault(f"steps-{line}-{field}", []).extend(text)
        elif name.startswith("steps."):
            _, index, field = name.split(".")
            flat.setdefault(f"steps-{lines[int(index)]}-{field}", []).extend(messages)
        elif name == "steps":
            flat.setdefault("steps-0-percent", []).extend(messages if isinstance(messages, list) else [messages])
        else:
            flat.setdefault(name, []).extend(messages)
    return flat


@bp.route("/channels/<int:channel_id>/plans", methods=["POST"])
@portal_view()
def start_plan_view(channel_id: int):
    """Start a rollout plan, or replace the running one (it is cancelled; the new first step is activated)."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    form = _plan_form()
    running = active_plan(session(), row)
    if running is not None and request.form.get("replace") != etag_of(running):
        return _stale(row, "plan", plan_form=form)
    try:
        data = load_form(PlanIn(), {"release_version": form["release_version"], "steps": _steps(form)})
        if two_person(session(), row.partner_id):
            raise ApprovalRequired("plan")  # as the admin API: no second person could approve each step
        if running is not None:
            cancel_plan(session(), running, actor=actor.name, now=utcnow())
        stores = current_app.extensions["livery.stores"]
        plan = start_plan(
            session(), stores, row, data["release_version"], data["steps"], actor=actor.name, now=utcnow()
        )
    except ValidationProblem as exc:
        session().rollback()
        return channel_page(row, errors=_step_errors(exc.errors, form), status=422, plan_form=form)
    except Problem as exc:
        session().rollback()
        if exc.status == 404:
            raise
        field = "release_version" if exc.code == "plan_conflict" else "plan"
        return channel_page(row, errors={field: [exc.detail or exc.title]}, status=exc.status, plan_form=form)
    first = plan.steps[0]["percent"]
    return finish(f"Rollout plan started: {plan.release_version} at {first} %.", "portal.channel", channel_id=row.id)


def _plan_change(channel_id: int, plan_id: int, change, done: str):
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    plan = session().get(RolloutPlan, plan_id)
    if plan is None or plan.channel_id != row.id:
        raise NotFound(f"Channel {row.name} has no plan {plan_id}.")
    if request.form.get("etag", "") != etag_of(plan):
        return _stale(row, "plan")
    try:
        change(session(), plan, actor=actor.name, now=utcnow())
    except Conflict as exc:
        session().rollback()
        return channel_page(row, errors={"plan": [exc.detail]}, status=exc.status)
    return finish(done, "portal.channel", channel_id=row.id)


@bp.route("/channels/<int:channel_id>/plans/<int:plan_id>/resume", methods=["POST"])
@portal_view()
def resume_plan_view(channel_id: int, plan_id: int):
    """Resume a paused plan: its current step starts again now."""
    return _plan_change(channel_id, plan_id, resume_plan, "Rollout plan resumed: its current step starts again now.")


@bp.route("/channels/<int:channel_id>/plans/<int:plan_id>/cancel", methods=["POST"])
@portal_view()
def cancel_plan_view(channel_id: int, plan_id: int):
    """Cancel a plan; the rollout stays where it is."""
    return _plan_change(channel_id, plan_id, cancel_plan, "Rollout plan cancelled: the rollout stays where it is.")


# ---- two-person approvals -------------------------------------------------------------------------


@bp.route("/channels/<int:channel_id>/approvals", methods=["POST"])
@portal_view()
def ask_resume(channel_id: int):
    """Ask a second person to approve resuming the halted channel (activations are asked from the form)."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    if not two_person(session(), row.partner_id):
        return channel_page(row, errors={"approval": [OFF]}, status=409)
    if not row.halted:
        return channel_page(
            row, errors={"approval": ["The channel is not halted: there is nothing to resume."]}, status=422
        )
    try:
        request_approval(session(), row, "resume", resume_digest(row), actor=actor.name)
    except AlreadyAsked as exc:  # a double click, or someone else asked meanwhile: the page shows theirs
        session().rollback()
        return finish(exc.detail, "portal.channel", channel_id=row.id)
    return finish(
        "Waiting for approval: another person of the partner approves resuming this halt.",
        "portal.channel",
        channel_id=row.id,
    )


def _approval(channel_id: int, approval_id: int):
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    return row, find_approval(session(), row, approval_id), actor


def _answer_off(row: Channel):
    """With two-person activation off nothing waits for an answer (the page offers no Approve or Reject)."""
    if two_person(session(), row.partner_id):
        return None
    return channel_page(row, errors={"approval": [OFF]}, status=409)


@bp.route("/channels/<int:channel_id>/approvals/<int:approval_id>/approve", methods=["POST"])
@portal_view()
def approve_view(channel_id: int, approval_id: int):
    """Approve as the second person what the page showed; a changed file or halt voids the request."""
    row, approval, actor = _approval(channel_id, approval_id)
    if (refused := _answer_off(row)) is not None:
        return refused
    document = requested_document(current_app.extensions["livery.stores"], approval)
    if approval.action == "activate" and document is None:
        detail = (
            "This control file was asked for before the portal kept it: approve it with the admin API and the file."
        )
        return channel_page(row, errors={"approval": [detail]}, status=409)
    try:
        approve(session(), approval, current_digest(row, approval, document), actor=actor.name)
    except Conflict as exc:
        session().commit()  # a voided approval stays void
        return channel_page(row, errors={"approval": [exc.detail]}, status=exc.status)
    return finish(f"Approved: {approval.requested_by} may now {approval.action}.", "portal.channel", channel_id=row.id)


@bp.route("/channels/<int:channel_id>/approvals/<int:approval_id>/reject", methods=["POST"])
@portal_view()
def reject_view(channel_id: int, approval_id: int):
    """Turn a pending request down (or withdraw one's own)."""
    row, approval, actor = _approval(channel_id, approval_id)
    if (refused := _answer_off(row)) is not None:
        return refused
    try:
        reject(session(), approval, actor=actor.name)
    except Conflict as exc:
        session().rollback()
        return channel_page(row, errors={"approval": [exc.detail]}, status=exc.status)
    return finish("The request was rejected: nothing can use it.", "portal.channel", channel_id=row.id)


@bp.route("/channels/<int:channel_id>/approvals/<int:approval_id>/activate", methods=["POST"])
@portal_view()
def activate_approved(channel_id: int, approval_id: int):
    """Activate the approved control file: exactly the bytes asked for, through the readiness gate."""
    row, approval, actor = _approval(channel_id, approval_id)
    stores = current_app.extensions["livery.stores"]
    raw = requested_document(stores, approval) if approval.action == "activate" else None
    try:
        if raw is None:
            raise ApprovalRequired("activate")
        use_approval(session(), row, "activate", activation_digest(row, raw), actor=actor.name)
        serial = upload_control_file(session(), stores, row.partner_id, row.name, raw, actor=actor.name).serial
    except Problem as exc:
        session().rollback()
        return channel_page(row, errors={"approval": [exc.detail or exc.title]}, status=exc.status)
    return finish(f"Control file serial {serial} is active on {row.name}.", "portal.channel", channel_id=row.id)
