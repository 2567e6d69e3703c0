"""The signed-in person's own account: password, second factor, sessions, sign out everywhere."""

from __future__ import annotations

from flask import redirect, request, url_for

from app.api.admin.auth import require_role
from app.db import session
from app.portal import accounts, sessions
from app.portal.models import ROLE_LABELS, PortalPartnerPolicy
from app.portal.pages import Crumb, form_errors, render_page
from app.portal.web import (
    ALL_ROLES,
    begin_session,
    bp,
    current_session,
    current_user,
    end_session,
    notify,
    now,
    portal_actor,
    portal_view,
    timeouts,
)
from app.problems import ValidationProblem


def _page(errors: dict[str, list[str]] | None = None, status: int = 200):
    user = current_user()
    policy = session().get(PortalPartnerPolicy, user.partner_id) if user.partner_id else None
    return render_page(
        "portal/account.html",
        title="Your account",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Account")],
        user=user,
        role_label=ROLE_LABELS[user.role],
        active=sessions.active_sessions(session(), user.id, now(), timeouts()),
        this_session=current_session(),
        errors=errors or {},
        require_totp=bool(policy and policy.require_totp),
    )


@bp.route("/account", methods=["GET"])
@portal_view(*ALL_ROLES)
def account():
    """Your account."""
    return _page()


@bp.route("/account/password", methods=["POST"])
@portal_view(*ALL_ROLES)
def change_password():
    """Change your password; every session of yours is signed out, this browser gets a new one."""
    user = current_user()
    if not accounts.verify_password(user, request.form.get("current_password", "")):
        return _page({"current_password": ["This is not your current password."]}, 422)
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        return _page({"new_password_again": ["The two new passwords differ."]}, 422)
    try:
        accounts.change_password(session(), user, new, actor=portal_actor().name)
    except ValidationProblem as exc:
        return _page(form_errors(exc), 422)
    sessions.revoke_all(session(), user.id, now())
    begin_session(user, "full")
    notify("Password changed. Every other browser signed in as you was signed out.")
    session().commit()
    return redirect(url_for("portal.account"), code=303)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@portal_view(*ALL_ROLES)
def sign_out_everywhere():
    """End every session of yours, this one included."""
    sessions.revoke_all(session(), current_user().id, now())
    end_session()
    session().commit()
    return redirect(url_for("portal.sign_in"), code=303)


@bp.route("/account/partner-policy", methods=["POST"])
@portal_view("admin")
def partner_policy():
    """Partner admins: require a second factor for every portal user of the partner."""
    actor = require_role("admin")
    wanted = request.form.get("require_totp") == "1"
    accounts.set_partner_policy(session(), actor.partner_id, require_totp=wanted, actor=actor.name)
    notify("Everyone at your partner now needs a second factor." if wanted else "A second factor is now optional.")
    session().commit()
    return redirect(url_for("portal.account"), code=303)
