"""Portal test helpers: users made through the account services, a test-client "browser" that
signs in and carries each page's CSRF token, and an injectable clock.

A new screen's tests::

    def test_my_screen(portal_app, seeded):
        browser = PortalBrowser(portal_app).sign_in(seeded.admin_email)
        page = browser.get("/portal/my-screen")              # signed in
        response = browser.post("/portal/my-screen", {"field": "x"}, page="/portal/my-screen")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from flask import Flask

from app.db import session
from app.portal import accounts
from tests import factories

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_RE = re.compile(r'name="version" value="(\d+)"><input type="hidden" name="base" value="([^"]*)"')


class Clock:
    """The portal's clock in tests: starts now, moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class PortalUserInfo:
    id: int
    email: str
    totp_secret: str | None = None
    recovery_codes: tuple[str, ...] = ()


def make_user(
    app: Flask,
    email: str,
    role: str,
    partner_id: int | None = None,
    *,
    totp: bool = False,
    reseller_id: int | None = None,
) -> PortalUserInfo:
    """A portal user with password ``PASSWORD`` (and TOTP when asked; operators always)."""
    with app.app_context():
        user = accounts.create_user(
            session(),
            email=email,
            password=PASSWORD,
            role=role,
            actor=factories.ACTOR,
            partner_id=partner_id,
            reseller_id=reseller_id,
        )
        secret, codes = None, []
        if totp or role == "operator":
            secret = accounts.new_totp_secret()
            codes = accounts.set_totp(session(), user, secret, actor=factories.ACTOR)
        session().commit()
        return PortalUserInfo(user.id, user.email, secret, tuple(codes))


def totp_now(secret: str, clock: Clock) -> str:
    """The code an authenticator app shows at the portal clock's time."""
    return pyotp.TOTP(secret).at(clock.now)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF_RE.search(html)
    assert found, "no csrf_token on the page"
    return found.group(1)


def version_of(html: str) -> dict[str, str]:
    """The hidden version fields of the first edit form on a page."""
    import html as html_lib

    found = VERSION_RE.search(html)
    assert found, "no version fields on the page"
    return {"version": found.group(1), "base": html_lib.unescape(found.group(2))}


class PortalBrowser:
    """A Flask test client used like a browser: it GETs the page a form is on, then posts it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, page: str | None = None, csrf: str | None = None, **kw):
        """POST ``data`` with the CSRF token of ``page`` (default: ``path``), or ``csrf`` as given."""
        data = dict(data or {})
        if csrf is None:
            csrf = csrf_of(self.client.get(page or path).get_data(as_text=True))
        if csrf != "":
            data["csrf_token"] = csrf
        return self.client.post(path, data=data, **kw)

    def sign_in(self, user: PortalUserInfo, clock: Clock | None = None, password: str = PASSWORD) -> PortalBrowser:
        """Sign in (with the second factor when the user has one); asserts it worked."""
        response = self.post("/portal/sign-in", {"email": user.email, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        if "/sign-in/code" in response.location:
            assert clock is not None and user.totp_secret
            response = self.post("/portal/sign-in/code", {"code": totp_now(user.totp_secret, clock)})
            assert response.status_code == 303, response.get_data(as_text=True)
        assert self.get("/portal/").status_code == 200
        return self

    def cookie(self) -> str | None:
        found = self.client.get_cookie("__Host-livery_portal") or self.client.get_cookie("livery_portal")
        return found.value if found else None
