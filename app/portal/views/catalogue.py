"""What the release, channel and control-file screens share: their crumbs, the acting partner's
rows, who may change them, and the channel page as shown (also by rollout.py after a refused change).

No routes here: app/portal/views/releases.py, channels.py, control_file.py and rollout.py hold them.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, url_for
from sqlalchemy import select

from app.api.admin.auth import partner_filter
from app.db import session
from app.portal.pages import Crumb, render_page
from app.portal.screens import audit_history
from app.portal.views.channel_safety import safety_context
from app.portal.web import portal_actor
from app.upgrades.models import Channel, ControlFile
from app.upgrades.services import read_control_file
from app.upgrades.versions import PLATFORMS


def can_edit() -> bool:
    """Whether the person may change releases and channels (partner admins and operators)."""
    return portal_actor().may_edit("admin")


def catalogue_crumbs(*more: Crumb) -> list[Crumb]:
    """The crumbs Home, Releases and channels, then ``more``."""
    return [Crumb("Home", url_for("portal.home")), Crumb("Releases and channels", url_for("portal.releases")), *more]


def partner_rows(model: type, order, limit: int = 500) -> list[Any]:
    """Rows of ``model`` the person may see (one partner's, or every partner's for operators)."""
    partner_id = partner_filter(None)
    stmt = select(model).order_by(order).limit(limit)
    return list(session().scalars(stmt if partner_id is None else stmt.where(model.partner_id == partner_id)))


def _control_files(channel: Channel) -> list[ControlFile]:
    stmt = select(ControlFile).where(ControlFile.channel_id == channel.id).order_by(ControlFile.serial.desc())
    return list(session().scalars(stmt.limit(20)))


def active_document(channel: Channel | None) -> dict[str, Any]:
    """The channel's active control file as a document ({} when it has none)."""
    if channel is None or channel.active_serial is None:
        return {}
    row = session().scalar(
        select(ControlFile).where(ControlFile.channel_id == channel.id, ControlFile.serial == channel.active_serial)
    )
    if row is None:
        return {}
    return json.loads(read_control_file(current_app.extensions["livery.stores"], row))


def channel_page(
    channel: Channel,
    *,
    errors=None,
    status: int = 200,
    explained=None,
    explain_form=None,
    guard_form=None,
    plan_form=None,
):
    """The channel page; ``guard_form`` and ``plan_form`` give back what was typed when a change is refused."""
    return render_page(
        "portal/channel.html",
        title=f"Channel {channel.name}",
        status=status,
        crumbs=catalogue_crumbs(Crumb(f"Channel {channel.name}")),
        channel=channel,
        document=active_document(channel),
        files=_control_files(channel),
        errors=errors or {},
        explained=explained,
        explain_form=explain_form or {},
        guard_form=guard_form,
        plan_form=plan_form or {},
        platforms=PLATFORMS,
        events=audit_history("channel", f"{channel.partner_id}:{channel.name}"),
        can_edit=can_edit(),
        **safety_context(channel),
    )
