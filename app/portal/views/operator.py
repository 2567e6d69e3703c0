"""The operator area: partners and their lifecycle (onboarding -> live through the readiness checks,
suspend, reinstate), the audit log with filters, and the deployment-wide operator settings.

A partner's own users may open their partner's page and the audit log of their own partner
(read only), as partner keys may in the admin API; other partners' ids answer 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, request, url_for
from sqlalchemy import select

from app.api.admin.auth import load_owned_partner, partner_filter, require_operator
from app.api.admin.concurrency import etag_of
from app.api.admin.partners import PartnerIn, PartnerPatch
from app.api.admin.settings import SettingsIn, current_settings
from app.audit.models import AuditEvent
from app.db import session
from app.onboarding.services import change_status, readiness
from app.partners.models import PARTNER_STATUSES, Partner
from app.partners.services import SETTING_STANDARD_VIEWER_URL, create_partner, set_setting
from app.portal.pages import Crumb, form_errors, load_form, render_page
from app.portal.screens import audit_history, finish, form_id
from app.portal.web import bp, portal_actor, portal_view
from app.problems import Problem, ValidationProblem

AUDIT_PAGE = 50
AUDIT_FILTERS = ("resource_type", "resource_id", "action", "actor")


def _signing_keys() -> int:
    return current_app.extensions["livery.upgrades"].published_key_count


def _partners_page(errors=None, status: int = 200, form=None):
    wanted = request.args.get("status", "")
    stmt = select(Partner).order_by(Partner.name)
    if wanted in PARTNER_STATUSES:
        stmt = stmt.where(Partner.status == wanted)
    return render_page(
        "portal/partners.html",
        title="Partners",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Partners")],
        partners=list(session().scalars(stmt.limit(1000))),
        statuses=PARTNER_STATUSES,
        wanted=wanted,
        errors=errors or {},
        form=form or {},
    )


@bp.route("/partners", methods=["GET", "POST"])
@portal_view("operator")
def partners():
    """Every partner by status; POST onboards a new one."""
    if request.method == "GET":
        return _partners_page()
    actor = require_operator()
    form = {"slug": request.form.get("slug", "").strip(), "name": request.form.get("name", "")}
    try:
        data = load_form(PartnerIn(), form)
        partner = create_partner(session(), slug=data["slug"], name=data["name"], actor=actor.name)
        session().flush()
    except ValidationProblem as exc:
        session().rollback()
        return _partners_page(form_errors(exc), 422, form)
    except Problem as exc:  # a slug in use
        session().rollback()
        return _partners_page({"slug": [exc.detail or exc.title]}, exc.status, form)
    return finish(f"Partner {partner.name} is onboarding.", "portal.partner", partner_id=partner.id)


def _partner_page(partner: Partner, *, errors=None, conflict: bool = False, status: int = 200):
    return render_page(
        "portal/partner.html",
        title=f"Partner {partner.name}",
        status=status,
        crumbs=[
            Crumb("Home", url_for("portal.home")),
            Crumb("Partners", url_for("portal.partners")),
            Crumb(partner.name),
        ]
        if portal_actor().is_operator
        else [Crumb("Home", url_for("portal.home")), Crumb(partner.name)],
        partner=partner,
        etag=etag_of(partner),
        checks=readiness(session(), partner, _signing_keys()),
        errors=errors or {},
        conflict=conflict,
        events=audit_history("partner", partner.id),
        is_operator=portal_actor().is_operator,
    )


@bp.route("/partners/<int:partner_id>", methods=["GET", "POST"])
@portal_view()
def partner(partner_id: int):
    """A partner's lifecycle: readiness checks, go live, suspend, reinstate (operators change it)."""
    row = load_owned_partner(partner_id)
    if request.method == "GET":
        return _partner_page(row)
    actor = require_operator()
    if request.form.get("etag", "") != etag_of(row):
        return _partner_page(row, conflict=True, status=409)
    try:
        data = load_form(PartnerPatch(), {"status": request.form.get("status", "")})
        change_status(session(), row, data["status"], actor=actor.name, signing_keys=_signing_keys())
    except ValidationProblem as exc:
        session().rollback()
        return _partner_page(row, errors=form_errors(exc), status=422)
    except Problem as exc:  # partner_not_ready: every failing check
        session().rollback()
        messages = [f"{c['name']}: {c['why']}" for c in exc.extensions.get("failing", [])]
        return _partner_page(row, errors={"": [exc.detail or exc.title, *messages]}, status=exc.status)
    return finish(f"Partner {row.name} is {row.status}.", "portal.partner", partner_id=row.id)


def _day(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    try:
        return datetime.strptime(raw[:10], "%Y-%m-%d").replace(tzinfo=UTC) if raw else None
    except ValueError:
        return None


@bp.route("/audit", methods=["GET"])
@portal_view()
def audit_log():
    """The audit log, newest first, filtered by resource, action, actor, partner and day range."""
    filters = {name: request.args.get(name, "").strip()[:100] for name in AUDIT_FILTERS}
    actor = portal_actor()
    partner_id = partner_filter(form_id(request.args.get("partner_id", "")) if actor.is_operator else None)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if partner_id is not None:
        stmt = stmt.where(AuditEvent.partner_id == partner_id)
    for name, value in filters.items():
        if value:
            stmt = stmt.where(getattr(AuditEvent, name) == value)
    since, until = _day("since"), _day("until")
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.created_at < until + timedelta(days=1))
    before = form_id(request.args.get("before", ""))
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    events = list(session().scalars(stmt.limit(AUDIT_PAGE + 1)))
    more = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    query = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_page(
        "portal/audit.html",
        title="Audit log",
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Audit log")],
        events=events,
        filters=filters,
        partner_id=request.args.get("partner_id", ""),
        since=request.args.get("since", ""),
        until=request.args.get("until", ""),
        next_url=url_for("portal.audit_log", **query, before=events[-1].id) if more else None,
        operator=actor.is_operator,
    )


@bp.route("/operator/settings", methods=["GET", "POST"])
@portal_view("operator")
def operator_settings():
    """Deployment-wide settings (the standard CRM viewer's URL), on the version the page showed."""
    current = current_settings()
    errors, conflict, status, value = {}, False, 200, current["standard_viewer_url"]
    if request.method == "POST":
        actor = require_operator()
        value = request.form.get("standard_viewer_url", "")
        if request.form.get("etag", "") != current["etag"]:
            conflict, status = True, 409
        else:
            try:
                data = load_form(SettingsIn(), {"standard_viewer_url": value})
                default = current_app.config["LIVERY"].default_viewer_url
                set_setting(
                    session(),
                    SETTING_STANDARD_VIEWER_URL,
                    data["standard_viewer_url"],
                    actor=actor.name,
                    default=default,
                )
                return finish(
                    "Operator settings saved: every client's discovery answer follows.", "portal.operator_settings"
                )
            except ValidationProblem as exc:
                session().rollback()
                errors, status = form_errors(exc), 422
    return render_page(
        "portal/operator_settings.html",
        title="Operator settings",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Operator settings")],
        current=current,
        value=value,
        errors=errors,
        conflict=conflict,
        events=audit_history("setting", SETTING_STANDARD_VIEWER_URL),
    )
