"""What the releases, licensing, reports, team and operator screens share: the history pane (a
resource's audit events), ids from form values, and finishing a change (notice, commit, 303)."""

from __future__ import annotations

from flask import redirect, url_for
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import session
from app.partners.models import Partner
from app.portal.pages import Crumb, render_page
from app.portal.web import notify

HISTORY_ROWS = 20


def audit_history(resource_type: str, resource_id: object, *, limit: int = HISTORY_ROWS) -> list[AuditEvent]:
    """The latest audit events of one resource (``resource_id`` as the audit log names it)."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.resource_type == resource_type, AuditEvent.resource_id == str(resource_id))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session().scalars(stmt))


def form_id(raw: str) -> int | None:
    """A numeric form or query value as a row id (None when absent, not a number or too long)."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def finish(message: str, endpoint: str, **values: object):
    """The end of a successful change: ``message`` for the next page, the commit, and a 303 to ``endpoint``."""
    notify(message)
    session().commit()
    return redirect(url_for(endpoint, **values), code=303)


def partner_picker(endpoint: str, title: str):
    """For operators who have not named a partner yet: every partner, each a link to ``endpoint``."""
    return render_page(
        "portal/partner_picker.html",
        title=title,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb(title)],
        partners=list(session().scalars(select(Partner).order_by(Partner.name).limit(1000))),
        endpoint=endpoint,
    )
