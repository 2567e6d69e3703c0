"""Who is signed in to the portal, and the checks every portal request passes.

- The session cookie (``__Host-livery_portal``; ``livery_portal`` on plain-http loopback only)
  names a server-side row (app/portal/sessions.py). A fully signed-in session makes the request's
  actor a :class:`PortalActor`: the admin API's ``Actor`` with the same roles, put where
  app/api/admin/auth.py looks (``g.livery_actor``), so ``load_owned`` (404 across partners),
  ``require_role`` and ``partner_filter`` work in portal views exactly as in admin routes.
  The admin API never reads this cookie: it authenticates bearer keys only.
- Every POST carries a CSRF token: the session's own once signed in (or half signed in), else a
  double-submit token bound to a short pre-session cookie (the sign-in and invitation forms).
  Cross-site POSTs (``Sec-Fetch-Site: cross-site``) are refused too.
- Partner users of a suspended partner may read but not change anything.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, request, url_for
from markupsafe import Markup

from app.api.admin.auth import Actor, PartnerSuspended
from app.db import session, utcnow
from app.partners.models import Partner
from app.partners.services import partner_is_read_only
from app.portal import sessions
from app.portal.models import PortalSession, PortalUser
from app.problems import Problem
from app.throttling import address_digest

bp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

PARTNER_ROLES = ("admin", "viewer")  # who sees a partner's brands, codes, releases
ALL_ROLES = ("operator", "admin", "viewer", "reseller")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class PortalActor(Actor):
    """A signed-in person acting with the admin API's role semantics (``key_id`` is unused: 0)."""

    user_id: int = 0
    reseller_id: int | None = None

    @property
    def name(self) -> str:
        """How the audit log names this person (by id: emails are personal data)."""
        if self.is_operator:
            return f"portal-operator:{self.user_id}"
        return f"partner:{self.partner_id}/portal-{self.role}:{self.user_id}"

    def may_edit(self, *roles: str) -> bool:
        """Whether pages show this person the forms that change things: operators, and the roles named."""
        return self.is_operator or self.role in roles


class CsrfFailed(Problem):
    def __init__(self) -> None:
        super().__init__(
            "csrf_failed",
            "This form was not sent from this portal page, or the page is too old. Reload the page and try again.",
        )


class PortalForbidden(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__("insufficient_role", detail)


def now() -> datetime:
    """The portal's clock (tests replace ``app.extensions["livery.portal.clock"]``)."""
    return current_app.extensions["livery.portal.clock"]()


def timeouts() -> sessions.Timeouts:
    settings = current_app.config["LIVERY"]
    return sessions.Timeouts(
        timedelta(minutes=settings.portal_idle_minutes), timedelta(hours=settings.portal_absolute_hours)
    )


def cookie_names() -> tuple[str, str]:
    """The session cookie's and the pre-session CSRF cookie's names."""
    if current_app.config["LIVERY"].portal_plain_http:
        return "livery_portal", "livery_portal_pre"
    return "__Host-livery_portal", "__Host-livery_portal_pre"


def current_session() -> PortalSession | None:
    """The session row of this request (full or waiting for its second factor), if any."""
    return g.get("portal_session")


def current_user() -> PortalUser | None:
    """The fully signed-in user of this request, if any."""
    row = current_session()
    return g.get("portal_user") if row is not None and row.stage == "full" else None


def portal_actor() -> PortalActor:
    """The signed-in person as an admin-API actor (call only inside a :func:`portal_view`)."""
    return g.livery_actor


MAX_FORM_BYTES = 1024 * 1024
IMAGE_FIELDS = 5  # the brand editor's image uploads (app.branding.content.ASSET_ROLES)
LARGE_UPLOADS = {  # endpoints whose one file may be larger than a form of images
    "portal.installer": lambda settings: settings.max_installer_bytes,
    "portal.import_users_csv": lambda _settings: _max_csv_bytes(),
}


def _max_csv_bytes() -> int:
    from app.api.admin.licensed_users import MAX_CSV_BYTES

    return MAX_CSV_BYTES


@bp.before_request
def _load_session():
    # the app-wide body limit is sized for installers: a form is small, an upload holds a few images
    uploads = request.mimetype == "multipart/form-data"
    settings = current_app.config["LIVERY"]
    limit = settings.max_asset_bytes * IMAGE_FIELDS if uploads else 0
    if uploads and request.endpoint in LARGE_UPLOADS:  # an installer, a licensing CSV
        limit = max(limit, LARGE_UPLOADS[request.endpoint](settings))
    request.max_content_length = limit + MAX_FORM_BYTES
    g.portal_set_cookie = None
    name, _pre = cookie_names()
    raw = request.cookies.get(name, "")
    row = sessions.load_session(session(), raw, now(), timeouts()) if raw else None
    user = session().get(PortalUser, row.user_id) if row is not None else None
    if row is not None and (user is None or user.status != "active"):
        sessions.revoke(row, now())
        row = None
    if raw and row is None:
        g.portal_set_cookie = ""  # unknown, ended or timed out: forget the cookie
    g.portal_notice = ""
    if row is not None and row.notice and request.method == "GET":
        g.portal_notice, row.notice = row.notice, ""
    session().commit()  # touch / timeout, kept whatever the view does
    g.portal_session, g.portal_user = row, user
    if row is not None and row.stage == "full":
        g.livery_actor = PortalActor(
            key_id=0, role=user.role, partner_id=user.partner_id, user_id=user.id, reseller_id=user.reseller_id
        )
    if request.method in UNSAFE_METHODS:
        if raw and row is None and request.endpoint != "portal.sign_in":
            return sign_in_instead(None)  # the session ended (timeout, sign-out elsewhere): nothing is done
        _check_csrf(row)
        writer = row is not None and row.stage == "full" and user.partner_id is not None
        if (
            writer
            and request.endpoint != "portal.sign_out"
            and partner_is_read_only(session().get(Partner, user.partner_id))
        ):
            raise PartnerSuspended()


def _check_csrf(row: PortalSession | None) -> None:
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise CsrfFailed()
    sent = request.form.get("csrf_token", "")
    expected = row.csrf_token if row is not None else request.cookies.get(cookie_names()[1], "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed()


def csrf_token() -> str:
    """This page's CSRF token (templates: ``{{ csrf_field() }}`` puts it in a form)."""
    row = current_session()
    if row is not None:
        return row.csrf_token
    token = g.get("portal_pre_token") or request.cookies.get(cookie_names()[1]) or ""
    if len(token) < 32 or len(token) > 64:
        token = secrets.token_urlsafe(32)
    g.portal_pre_token = token
    return token


@bp.app_template_global()
def csrf_field() -> Markup:
    """The hidden CSRF input every form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token())


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("Cache-Control", "no-store")
    secure = not current_app.config["LIVERY"].portal_plain_http
    name, pre = cookie_names()
    cookie = g.get("portal_set_cookie")
    if cookie == "":
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
    elif cookie:
        response.set_cookie(name, cookie, path="/", secure=secure, httponly=True, samesite="Lax")
    pre_token = g.get("portal_pre_token")
    if pre_token and pre_token != request.cookies.get(pre):
        response.set_cookie(pre, pre_token, path="/", secure=secure, httponly=True, samesite="Lax", max_age=3600)
    return response


def notify(message: str) -> None:
    """A notice for the next page this browser opens ("Draft saved."); call before the commit."""
    row = current_session()
    if row is not None:
        row.notice = message[:500]


def begin_session(user: PortalUser, stage: str) -> PortalSession:
    """Sign ``user`` in to ``stage`` with a NEW session id (the old one, if any, is ended): no fixation."""
    old = current_session()
    if old is not None:
        sessions.revoke(old, now())
    address = current_app.extensions["livery.throttle"].address(request.environ)
    row, cookie = sessions.start_session(
        session(),
        user,
        stage=stage,
        now=now(),
        address_digest=address_digest(address),
        user_agent=request.headers.get("User-Agent", ""),
    )
    g.portal_session, g.portal_user, g.portal_set_cookie = row, user, cookie
    return row


def end_session() -> None:
    """Sign out this browser."""
    row = current_session()
    if row is not None:
        sessions.revoke(row, now())
    g.portal_session = g.portal_user = None
    g.portal_set_cookie = ""


def safe_next(target: str | None) -> str:
    """A same-site path to go to after sign-in (never another host), else the portal home."""
    if target and target.startswith("/portal/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("portal.home")


def sign_in_instead(next_path: str | None):
    """The answer to a request that needs a signed-in user: to the sign-in page (whole page for htmx)."""
    target = url_for("portal.sign_in", next=next_path) if next_path else url_for("portal.sign_in")
    if request.headers.get("HX-Request"):  # a partial update: send the whole page to sign in
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


def portal_view(*roles: str) -> Callable:
    """Decorator for a portal page: signed in (else a redirect to sign-in), with one of ``roles``.

    Without ``roles``: partner admins and viewers and operators (not reseller users). Another
    partner's resources answer 404 through ``load_owned``, as in the admin API.
    """
    allowed = roles or ("operator", *PARTNER_ROLES)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            user = current_user()
            if user is None:
                return sign_in_instead(request.full_path.rstrip("?") if request.method == "GET" else None)
            if user.role not in allowed:
                raise PortalForbidden("Your role cannot open this page.")
            return view(*args, **kwargs)

        guarded.portal_roles = allowed  # tests list every route and what it allows
        return guarded

    return decorate


def default_clock() -> datetime:
    return utcnow()
