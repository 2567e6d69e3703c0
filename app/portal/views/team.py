"""Team and API keys (partner admins and operators): invite portal users (the link shown once),
change their roles, revoke their access; create API keys (the key shown once) and revoke them."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request, url_for
from sqlalchemy import select

from app.api.admin.api_keys import ApiKeyIn
from app.api.admin.auth import acting_partner, load_owned, partner_filter, require_role
from app.api.admin.concurrency import etag_of
from app.db import session
from app.licensing.models import Reseller
from app.partners.models import ApiKey
from app.partners.services import create_api_key, revoke_api_key
from app.portal import accounts
from app.portal.models import PortalInvitation, PortalUser
from app.portal.pages import Crumb, form_errors, load_form, render_page, stale_changes
from app.portal.screens import audit_history, finish, form_id
from app.portal.web import bp, now, portal_actor, portal_view
from app.problems import Problem, ValidationProblem

TEAM_ROLES = ("operator", "admin")
INVITE_ROLES = (("admin", "Admin — reads and changes everything of the partner"), ("viewer", "Viewer — reads only"),
                ("reseller", "Reseller — its own end customers and users only"))  # fmt: skip
LABELS = {"email": "Email", "role": "Role", "reseller_id": "Reseller", "label": "Label", "partner_id": "Partner id"}


def _crumbs(*more: Crumb) -> list[Crumb]:
    return [Crumb("Home", url_for("portal.home")), Crumb("Team and API keys", url_for("portal.team")), *more]


def _scoped(model):
    partner_id = partner_filter(form_id(request.args.get("partner_id", "")) if portal_actor().is_operator else None)
    stmt = select(model).order_by(model.id)
    return stmt if partner_id is None else stmt.where(model.partner_id == partner_id)


def _team(errors=None, status: int = 200, form=None, shown=None):
    partner_id = partner_filter(None)
    resellers = select(Reseller).order_by(Reseller.name)
    if partner_id is not None:
        resellers = resellers.where(Reseller.partner_id == partner_id)
    keys = list(session().scalars(_scoped(ApiKey).limit(500)))
    return render_page(
        "portal/team.html",
        title="Team and API keys",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Team and API keys")],
        users=list(session().scalars(_scoped(PortalUser).limit(500))),
        invitations=list(
            session().scalars(_scoped(PortalInvitation).where(PortalInvitation.used_at.is_(None)).limit(100))
        ),
        keys=keys,
        etags={k.id: etag_of(k) for k in keys},
        resellers=list(session().scalars(resellers.limit(500))),
        roles=INVITE_ROLES,
        errors=errors or {},
        form=form or {},
        labels=LABELS,
        shown=shown,
        me=portal_actor().user_id,
        now=now(),
    )


@bp.route("/team", methods=["GET"])
@portal_view(*TEAM_ROLES)
def team():
    """Portal users, open invitations and API keys of the partner."""
    return _team()


def _partner_for_create():
    actor = portal_actor()
    return acting_partner(form_id(request.form.get("partner_id", "")) if actor.is_operator else None)


@bp.route("/team/invitations", methods=["POST"])
@portal_view(*TEAM_ROLES)
def invite():
    """Invite a person: a single-use link that expires, shown once."""
    actor = require_role("admin")
    form = {k: request.form.get(k, "") for k in ("email", "role", "reseller_id", "partner_id")}
    try:
        partner = _partner_for_create()
        reseller_id = form_id(form["reseller_id"]) if form["role"] == "reseller" else None
        hours = current_app.config["LIVERY"].portal_invitation_hours
        row, token = accounts.invite(
            session(),
            email=form["email"],
            role=form["role"],
            actor=actor.name,
            now=now(),
            valid_for=timedelta(hours=hours),
            partner_id=partner.id,
            reseller_id=reseller_id,
        )
    except ValidationProblem as exc:
        session().rollback()
        return _team(form_errors(exc), 422, form)
    session().commit()
    link = url_for("portal.invitation", token=token, _external=True)
    return _team(
        shown={
            "what": f"Invitation link for {row.email} (works once, until {row.expires_at:%Y-%m-%d %H:%M} UTC)",
            "value": link,
        }
    )


@bp.route("/team/users/<int:portal_user_id>", methods=["GET", "POST"])
@portal_view(*TEAM_ROLES)
def team_user(portal_user_id: int):
    """One portal user: change the role, or revoke the access (every session ends at once)."""
    user = load_owned(PortalUser, portal_user_id, "portal user")
    shown = {"role": user.role, "status": user.status, "reseller_id": user.reseller_id}
    page = {"errors": {}, "conflict": None, "status": 200}
    if request.method == "POST":
        actor = require_role("admin")
        conflict = stale_changes(user, shown)
        if conflict is not None:
            page.update(conflict=conflict, status=409)
        elif user.id == actor.user_id:
            page.update(errors={"": ["Ask another admin to change your own access."]}, status=422)
        else:
            try:
                if request.form.get("action") == "revoke":
                    accounts.disable_user(session(), user, now(), actor=actor.name)
                    message = "Access revoked: every session of this person ended."
                else:
                    role = request.form.get("role", "")
                    reseller_id = form_id(request.form.get("reseller_id", "")) if role == "reseller" else None
                    accounts.set_role(session(), user, role, actor=actor.name, reseller_id=reseller_id)
                    message = f"Role changed to {role}."
                return finish(message, "portal.team_user", portal_user_id=user.id)
            except ValidationProblem as exc:
                session().rollback()
                page.update(errors=form_errors(exc), status=422)
    resellers = session().scalars(
        select(Reseller).where(Reseller.partner_id == user.partner_id).order_by(Reseller.name)
    )
    return render_page(
        "portal/team_user.html",
        title=f"Team member {user.email}",
        status=page["status"],
        crumbs=_crumbs(Crumb(user.email)),
        user=user,
        shown=shown,
        roles=INVITE_ROLES,
        resellers=list(resellers),
        errors=page["errors"],
        conflict=page["conflict"],
        labels=LABELS,
        events=audit_history("portal_user", user.id),
        me=portal_actor().user_id,
    )


@bp.route("/team/keys", methods=["POST"])
@portal_view(*TEAM_ROLES)
def create_key():
    """Create an API key (admin or viewer; the key is shown once)."""
    actor = require_role("admin")
    form = {"role": request.form.get("role", ""), "label": request.form.get("label", "")}
    try:
        data = load_form(ApiKeyIn(), form)
        if data["role"] == "operator":
            raise ValidationProblem({"role": ["Operator keys are made in the admin API."]})
        key, plain = create_api_key(
            session(), role=data["role"], actor=actor.name, partner=_partner_for_create(), label=data["label"]
        )
    except ValidationProblem as exc:
        session().rollback()
        return _team(form_errors(exc), 422, form)
    session().commit()
    return _team(shown={"what": f"API key {key.prefix}… ({key.role})", "value": plain})


@bp.route("/team/keys/<int:key_id>/revoke", methods=["POST"])
@portal_view(*TEAM_ROLES)
def revoke_key(key_id: int):
    """Revoke an API key at once (on the version the page showed: the admin API's If-Match)."""
    key = load_owned(ApiKey, key_id, "API key")
    actor = require_role("admin")
    if request.form.get("etag", "") != etag_of(key):
        return _team({"": [f"API key {key.prefix}… changed since the page was loaded; nothing was done."]}, 409)
    try:
        revoke_api_key(session(), key, actor=actor.name)
    except Problem as exc:
        session().rollback()
        return _team({"": [exc.detail or exc.title]}, exc.status)
    return finish(f"API key {key.prefix}… is revoked.", "portal.team")
