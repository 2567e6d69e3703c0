"""Signing in (password, then the second factor), signing out, and accepting an invitation.

A wrong password and an unknown email get the same answer (same page, same status, and the same
argon2 work); failures are throttled per address and per account (app/throttling.py).
"""

from __future__ import annotations

from flask import current_app, redirect, request, url_for

from app.db import session
from app.portal import accounts
from app.portal.pages import Crumb, form_errors, render_page
from app.portal.web import begin_session, bp, current_session, current_user, end_session, now, safe_next
from app.problems import Problem, ValidationProblem
from app.throttling import PORTAL_LOGIN_ACCOUNT, PORTAL_LOGIN_ADDRESS, TooManyRequests

SIGN_IN_FAILED = "The email or password is not right, or this account cannot sign in."
CODE_FAILED = "That code is not right, or it was used already. Use the current code from your app, or a recovery code."


def _refuse_if_throttled(email: str) -> None:
    """429 while this address or this account is over its limit of failures."""
    throttle = current_app.extensions["livery.throttle"]
    address = throttle.address(request.environ)
    retry_after = throttle.refused_key(PORTAL_LOGIN_ADDRESS, address) or throttle.refused_key(
        PORTAL_LOGIN_ACCOUNT, email
    )
    if retry_after:
        raise TooManyRequests(retry_after)


def _count_failure(email: str) -> None:
    """Count a failed password or code for the address and the account; 429 once over a limit."""
    throttle = current_app.extensions["livery.throttle"]
    by_address = throttle.failed_key(PORTAL_LOGIN_ADDRESS, throttle.address(request.environ))
    by_account = throttle.failed_key(PORTAL_LOGIN_ACCOUNT, email, "account")
    if by_address or by_account:
        raise TooManyRequests(by_address or by_account)


def _after_password(user) -> str:
    """Where a correct password leads: the second factor (or its set-up), or straight in."""
    nxt = request.form.get("next") or None
    if user.totp_enabled:
        begin_session(user, "totp")
        return url_for("portal.second_factor", next=nxt)
    if accounts.totp_required(session(), user):
        begin_session(user, "totp")
        return url_for("portal.two_factor_setup", next=nxt)
    begin_session(user, "full")
    return safe_next(nxt)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Sign in with email and password."""
    if request.method == "GET" and current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    email = accounts.normalise_email(request.form.get("email", "")) if request.method == "POST" else ""
    error = None
    status = 200
    if request.method == "POST":
        _refuse_if_throttled(email)
        user = accounts.find_user(session(), email)
        password = request.form.get("password", "")
        if accounts.verify_password(user, password) and user.status == "active":
            target = _after_password(user)
            session().commit()
            return redirect(target, code=303)
        _count_failure(email)
        error, status = SIGN_IN_FAILED, 401
    return render_page(
        "portal/sign_in.html",
        title="Sign in",
        status=status,
        error=error,
        email=email,
        next=request.values.get("next", ""),
    )


def _half_signed_in():
    row = current_session()
    if row is None or row.stage != "totp":
        raise _StartAgain()
    from app.portal.models import PortalUser

    return row, session().get(PortalUser, row.user_id)


class _StartAgain(Exception):
    pass


@bp.errorhandler(_StartAgain)
def _start_again(_exc):
    return redirect(url_for("portal.sign_in"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
def second_factor():
    """The second step: a code from the authenticator app, or a recovery code."""
    _row, user = _half_signed_in()
    if not user.totp_enabled:
        return redirect(url_for("portal.two_factor_setup", next=request.args.get("next")))
    error, status = None, 200
    if request.method == "POST":
        _refuse_if_throttled(user.email)
        if accounts.check_second_factor(user, request.form.get("code", ""), now()):
            begin_session(user, "full")  # a new id again once fully signed in
            session().commit()
            return redirect(safe_next(request.form.get("next")), code=303)
        _count_failure(user.email)
        error, status = CODE_FAILED, 401
    return render_page(
        "portal/second_factor.html",
        title="Enter your code",
        status=status,
        error=error,
        next=request.values.get("next", ""),
    )


@bp.route("/sign-in/setup-code", methods=["GET", "POST"])
def two_factor_setup():
    """Set up the authenticator app (required for operators, and where a partner enforces it)."""
    row = current_session()
    if row is None:
        return redirect(url_for("portal.sign_in"))
    from app.portal.models import PortalUser

    user = session().get(PortalUser, row.user_id)
    if user.totp_enabled:
        return redirect(url_for("portal.account"))
    secret = request.form.get("secret", "") if request.method == "POST" else accounts.new_totp_secret()
    if len(secret) != 32 or not secret.isalnum():
        secret = accounts.new_totp_secret()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            codes = accounts.enable_totp(
                session(), user, secret, request.form.get("code", ""), now(), actor=_self(user)
            )
        except ValidationProblem as exc:
            errors = form_errors(exc)
        else:
            if row.stage == "totp":
                begin_session(user, "full")
            session().commit()
            return render_page(
                "portal/recovery_codes.html",
                title="Save your recovery codes",
                codes=codes,
                next=safe_next(request.form.get("next")),
            )
    return render_page(
        "portal/two_factor_setup.html",
        title="Set up your authenticator app",
        status=422 if errors else 200,
        crumbs=[Crumb("Account", url_for("portal.account"))] if row.stage == "full" else [],
        secret=secret,
        uri=accounts.totp_uri(secret, user.email),
        errors=errors,
        next=request.values.get("next", ""),
    )


def _self(user) -> str:
    return f"portal-user:{user.id}"


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    """Sign out this browser."""
    end_session()
    session().commit()
    return redirect(url_for("portal.sign_in"), code=303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """Accept an invitation: choose a password; the link then stops working."""
    row = accounts.open_invitation(session(), token, now())
    if row is None:
        raise Problem("gone", "This invitation link was used already or has expired. Ask for a new one.")
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_again", ""):
            errors = {"password_again": ["The two passwords differ."]}
        else:
            try:
                user = accounts.accept_invitation(session(), row, password, now())
            except ValidationProblem as exc:
                errors = form_errors(exc)
            else:
                session().flush()
                target = _after_password(user)
                session().commit()
                return redirect(target, code=303)
    return render_page(
        "portal/invitation.html",
        title="Join the Livery portal",
        status=422 if errors else 200,
        invitation=row,
        errors=errors,
    )
