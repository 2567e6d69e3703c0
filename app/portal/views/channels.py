"""One channel's page: its state and active control file, the one-click halt with a required reason,
resume after a confirmation, and the explain tool ("why does install X get this answer").

The page itself is ``channel_page`` (app/portal/views/catalogue.py); its upgrade-safety sections
are app/portal/views/channel_safety.py (read) and rollout.py (change).
"""

from __future__ import annotations

from flask import current_app, request, url_for

from app.api.admin.auth import load_owned, require_role
from app.api.admin.channels import ExplainQuery, HaltIn
from app.db import session, utcnow
from app.portal.pages import Crumb, form_errors, load_form, render_page
from app.portal.screens import finish
from app.portal.views.catalogue import catalogue_crumbs, channel_page
from app.portal.web import bp, portal_view
from app.problems import ValidationProblem
from app.upgrades.approvals import ApprovalRequired, resume_digest, two_person, use_approval
from app.upgrades.channel_state import explain, load_channel_state
from app.upgrades.models import Channel
from app.upgrades.services import set_halt
from app.upgrades.versions import InvalidVersion, parse_version


@bp.route("/channels/<int:channel_id>", methods=["GET"])
@portal_view()
def channel(channel_id: int):
    """One channel: halt switch, active control file, explain, history."""
    row = load_owned(Channel, channel_id, "channel")
    if "version" not in request.args:
        return channel_page(row)
    form = {name: request.args.get(name, "").strip() for name in ("version", "platform", "install_id")}
    try:
        args = load_form(ExplainQuery(), {k: v for k, v in form.items() if v})
        version = parse_version(args["version"])
    except ValidationProblem as exc:
        return channel_page(row, errors=form_errors(exc), status=422, explain_form=form)
    except InvalidVersion as exc:
        return channel_page(row, errors={"version": [str(exc)]}, status=422, explain_form=form)
    state = load_channel_state(session(), current_app.extensions["livery.stores"], row.partner_id, row.name)
    answer = explain(state, version, args["platform"], args["install_id"], utcnow())
    return channel_page(row, explained=answer, explain_form=form)


@bp.route("/channels/<int:channel_id>/halt", methods=["POST"])
@portal_view()
def halt(channel_id: int):
    """Emergency halt in one click: every client is told "none" from its next poll (a reason is required)."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    try:
        data = load_form(HaltIn(), {"reason": request.form.get("reason", "")})
        set_halt(session(), row, halted=True, reason=data["reason"], actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return channel_page(row, errors=form_errors(exc), status=422)
    return finish(
        f"Channel {row.name} is halted: clients are offered nothing from their next poll.",
        "portal.channel",
        channel_id=row.id,
    )


@bp.route("/channels/<int:channel_id>/resume", methods=["GET", "POST"])
@portal_view()
def resume(channel_id: int):
    """Lift a halt after a confirmation (GET: the confirmation page for browsers without JavaScript)."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    if request.method == "GET":
        return render_page(
            "portal/channel_resume.html",
            title=f"Resume channel {row.name}?",
            crumbs=catalogue_crumbs(
                Crumb(f"Channel {row.name}", url_for("portal.channel", channel_id=row.id)), Crumb("Resume")
            ),
            channel=row,
        )
    if row.halted and two_person(session(), row.partner_id):
        try:
            use_approval(session(), row, "resume", resume_digest(row), actor=actor.name)
        except ApprovalRequired as exc:
            return channel_page(row, errors={"approval": [exc.detail]}, status=exc.status)
    set_halt(session(), row, halted=False, reason="", actor=actor.name)
    return finish(
        f"Channel {row.name} resumed: its control file decides again from the next poll.",
        "portal.channel",
        channel_id=row.id,
    )
