"""Sign-in, second factor, sessions (timeouts, fixation, revocation), throttling, invitations."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from app.config import REPO_ROOT
from app.db import session
from app.portal import accounts
from tests.portal.helpers import PASSWORD, PortalBrowser, csrf_of, make_user, totp_now

HTMX_VERSION = "2.0.11"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_vendored_htmx_is_the_pinned_file():
    data = (REPO_ROOT / "app" / "portal" / "static" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    docs = (REPO_ROOT / "docs" / "portal.md").read_text()
    assert HTMX_VERSION in docs and HTMX_SHA256 in docs


def _without_token(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_unknown_user_and_wrong_password_get_the_same_answer(portal_app, partners):
    browser = PortalBrowser(portal_app)
    wrong = browser.post("/portal/sign-in", {"email": partners.admin_a.email, "password": "not the password"})
    unknown = browser.post("/portal/sign-in", {"email": "nobody@acme.example", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    wrong_html = _without_token(wrong.get_data(as_text=True)).replace(partners.admin_a.email, "EMAIL")
    unknown_html = _without_token(unknown.get_data(as_text=True)).replace("nobody@acme.example", "EMAIL")
    assert wrong_html == unknown_html
    assert browser.cookie() is None


def test_sign_in_issues_a_new_session_id_each_time(portal_app, partners):
    browser = PortalBrowser(portal_app)
    browser.client.set_cookie("__Host-livery_portal", "planted-by-an-attacker", domain="localhost")
    browser.sign_in(partners.admin_a)
    first = browser.cookie()
    assert first and first != "planted-by-an-attacker"
    again = browser.post("/portal/sign-in", {"email": partners.admin_a.email, "password": PASSWORD}, page="/portal/")
    assert again.status_code == 303
    assert browser.cookie() != first
    replay = PortalBrowser(portal_app)
    replay.client.set_cookie("__Host-livery_portal", first, domain="localhost")
    assert replay.get("/portal/").status_code == 302  # the old id is ended
    cookies = again.headers.getlist("Set-Cookie")
    session_cookie = next(v for v in cookies if v.startswith("__Host-livery_portal="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Path=/" in session_cookie and "Domain" not in session_cookie


def test_plain_http_on_loopback_drops_the_host_prefix(make_app, clock):
    app = make_app(public_base_url="http://127.0.0.1:8000")
    app.extensions["livery.portal.clock"] = clock
    from tests import factories

    user = make_user(app, "admin@local.example", "admin", factories.make_partner(app, "local"))
    browser = PortalBrowser(app).sign_in(user)
    assert browser.client.get_cookie("livery_portal") is not None
    assert browser.client.get_cookie("__Host-livery_portal") is None


def test_sessions_end_after_the_idle_timeout(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    clock.advance(minutes=29)
    assert browser.get("/portal/").status_code == 200  # a request resets the idle clock
    clock.advance(minutes=29)
    assert browser.get("/portal/").status_code == 200
    clock.advance(minutes=31)
    response = browser.get("/portal/")
    assert response.status_code == 302 and response.location.startswith("/portal/sign-in")


def test_sessions_end_after_the_absolute_timeout(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    for _ in range(11 * 3):  # busy all day: a request every 20 minutes for 11 hours
        clock.advance(minutes=20)
        assert browser.get("/portal/").status_code == 200
    clock.advance(minutes=61)
    assert browser.get("/portal/").status_code == 302


def test_a_password_change_signs_out_every_other_session(portal_app, partners, clock):
    laptop = PortalBrowser(portal_app).sign_in(partners.admin_a)
    phone = PortalBrowser(portal_app).sign_in(partners.admin_a)
    old_cookie = laptop.cookie()
    new_password = "a brand new long password"
    response = laptop.post(
        "/portal/account/password",
        {"current_password": PASSWORD, "new_password": new_password, "new_password_again": new_password},
        page="/portal/account",
    )
    assert response.status_code == 303
    assert laptop.cookie() != old_cookie  # this browser goes on, with a new session id
    assert laptop.get("/portal/").status_code == 200
    assert phone.get("/portal/").status_code == 302
    again = PortalBrowser(portal_app)
    assert again.post("/portal/sign-in", {"email": partners.admin_a.email, "password": PASSWORD}).status_code == 401
    again.sign_in(partners.admin_a, password=new_password)


def test_sign_out_everywhere(portal_app, partners, clock):
    one = PortalBrowser(portal_app).sign_in(partners.admin_a)
    two = PortalBrowser(portal_app).sign_in(partners.admin_a)
    assert one.post("/portal/account/sign-out-everywhere", {}, page="/portal/account").status_code == 303
    assert one.get("/portal/").status_code == 302
    assert two.get("/portal/").status_code == 302


def test_sign_out_ends_the_session_server_side(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    cookie = browser.cookie()
    assert browser.post("/portal/sign-out", {}, page="/portal/").status_code == 303
    replay = PortalBrowser(portal_app)
    replay.client.set_cookie("__Host-livery_portal", cookie, domain="localhost")
    assert replay.get("/portal/").status_code == 302


def test_login_is_throttled_per_account(make_app, clock):
    app = make_app(ratelimit_portal_login_account="3 per 10 minutes", ratelimit_portal_login_address="")
    app.extensions["livery.portal.clock"] = clock
    from tests import factories

    user = make_user(app, "admin@t.example", "admin", factories.make_partner(app, "throttled"))
    browser = PortalBrowser(app)
    statuses = [
        browser.post("/portal/sign-in", {"email": user.email, "password": "wrong"}).status_code for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    # even the right password is refused for this account now; another account is not
    assert browser.post("/portal/sign-in", {"email": user.email, "password": PASSWORD}).status_code == 429
    other = make_user(app, "other@t.example", "admin", user_partner(app, user))
    PortalBrowser(app).sign_in(other)


def user_partner(app, info) -> int:
    from app.portal.models import PortalUser

    with app.app_context():
        return session().get(PortalUser, info.id).partner_id


def test_login_is_throttled_per_address(make_app, clock):
    app = make_app(ratelimit_portal_login_address="4 per 10 minutes", ratelimit_portal_login_account="")
    app.extensions["livery.portal.clock"] = clock
    browser = PortalBrowser(app)
    statuses = [
        browser.post("/portal/sign-in", {"email": f"u{i}@t.example", "password": "wrong"}).status_code for i in range(6)
    ]
    assert statuses == [401, 401, 401, 401, 429, 429]
    response = browser.post("/portal/sign-in", {"email": "u9@t.example", "password": "wrong"})
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_operators_sign_in_with_totp_and_recovery_codes(portal_app, partners, clock):
    op = partners.operator
    browser = PortalBrowser(portal_app)
    response = browser.post("/portal/sign-in", {"email": op.email, "password": PASSWORD})
    assert response.status_code == 303 and response.location.startswith("/portal/sign-in/code")
    assert browser.get("/portal/").status_code == 302  # half signed in: no pages yet
    assert browser.post("/portal/sign-in/code", {"code": "000000"}).status_code == 401
    code = totp_now(op.totp_secret, clock)
    assert browser.post("/portal/sign-in/code", {"code": code}).status_code == 303
    assert browser.get("/portal/").status_code == 200
    # the same code cannot be used twice
    again = PortalBrowser(portal_app)
    again.post("/portal/sign-in", {"email": op.email, "password": PASSWORD})
    assert again.post("/portal/sign-in/code", {"code": code}).status_code == 401
    # a recovery code works once
    recovery = op.recovery_codes[0]
    assert again.post("/portal/sign-in/code", {"code": recovery}).status_code == 303
    third = PortalBrowser(portal_app)
    third.post("/portal/sign-in", {"email": op.email, "password": PASSWORD})
    assert third.post("/portal/sign-in/code", {"code": recovery}).status_code == 401


def test_enforced_totp_makes_users_set_it_up(portal_app, partners, clock):
    viewer = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    admin = PortalBrowser(portal_app).sign_in(partners.admin_a)
    saved = admin.post("/portal/account/partner-policy", {"require_totp": "1"}, page="/portal/account")
    assert saved.status_code == 303
    assert (
        viewer.post("/portal/account/partner-policy", {}, page="/portal/account").status_code == 403
    )  # viewers cannot
    browser = PortalBrowser(portal_app)
    response = browser.post("/portal/sign-in", {"email": partners.admin_a.email, "password": PASSWORD})
    assert response.location.startswith("/portal/sign-in/setup-code")
    page = browser.get(response.location).get_data(as_text=True)
    assert browser.get("/portal/").status_code == 302
    secret = re.search(r'name="secret" value="([A-Z2-7]{32})"', page).group(1)
    done = browser.post(
        "/portal/sign-in/setup-code", {"secret": secret, "code": totp_now(secret, clock)}, csrf=csrf_of(page)
    )
    assert done.status_code == 200 and "recovery codes" in done.get_data(as_text=True)
    assert browser.get("/portal/").status_code == 200


def test_invitations_are_single_use_and_expire(portal_app, partners, clock):
    with portal_app.app_context():
        _row, token = accounts.invite(
            session(),
            email="New.Person@Acme.example",
            role="viewer",
            actor="test",
            now=clock.now,
            valid_for=timedelta(hours=72),
            partner_id=partners.a.partner_id,
        )
        _row, late = accounts.invite(
            session(),
            email="late@acme.example",
            role="viewer",
            actor="test",
            now=clock.now,
            valid_for=timedelta(hours=1),
            partner_id=partners.a.partner_id,
        )
        session().commit()
    browser = PortalBrowser(portal_app)
    path = f"/portal/invitations/{token}"
    assert "new.person@acme.example" in browser.get(path).get_data(as_text=True)
    short = browser.post(path, {"password": "short", "password_again": "short"})
    assert short.status_code == 422
    good = "a long enough password"
    assert browser.post(path, {"password": good, "password_again": good}).status_code == 303
    assert browser.get("/portal/").status_code == 200
    assert PortalBrowser(portal_app).get(path).status_code == 410  # used
    clock.advance(hours=2)
    assert PortalBrowser(portal_app).get(f"/portal/invitations/{late}").status_code == 410  # expired
