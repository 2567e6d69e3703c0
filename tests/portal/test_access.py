"""Every portal route: anonymous users are sent to sign in, other partners' resources are 404,
every form refuses a missing or wrong CSRF token, and a portal cookie never opens /admin/v1."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.branding.models import AccessCode, Brand
from app.db import session
from tests.portal.access import path_of, portal_routes
from tests.portal.helpers import PortalBrowser, csrf_of


def test_anonymous_users_are_sent_to_sign_in(portal_app, partners):
    browser = PortalBrowser(portal_app)
    pre_token = csrf_of(browser.get("/portal/sign-in").get_data(as_text=True))
    routes = portal_routes(portal_app)
    assert len(routes) >= 12
    for rule in routes:
        path = path_of(rule, partners.a, portal_app)
        if "GET" in rule.methods:
            response = browser.get(path)
            assert response.status_code == 302, path
            assert response.location.startswith("/portal/sign-in"), path
        if "POST" in rule.methods:
            response = browser.post(path, {}, csrf=pre_token)
            assert response.status_code == 302 and response.location.startswith("/portal/sign-in"), path


def test_other_partners_resources_answer_404(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_b)
    token = csrf_of(browser.get("/portal/").get_data(as_text=True))
    checked = 0
    for rule in portal_routes(portal_app):
        if "<" not in rule.rule:
            continue
        path = path_of(rule, partners.a, portal_app)  # partner A's ids, seen by partner B
        if "GET" in rule.methods:
            assert browser.get(path).status_code == 404, path
        if "POST" in rule.methods:
            assert browser.post(path, {"revision": "1"}, csrf=token).status_code == 404, path
        checked += 1
    assert checked >= 7
    own = path_of(next(r for r in portal_routes(portal_app) if r.endpoint == "portal.brand"), partners.b, portal_app)
    assert browser.get(own).status_code == 200
    # listings show only partner B's rows
    with portal_app.app_context():
        a_codes = [
            c.prefix for c in session().scalars(select(AccessCode).where(AccessCode.brand_id == partners.a.brand_id))
        ]
    codes_page = browser.get("/portal/codes").get_data(as_text=True)
    assert not any(f">{prefix}…<" in codes_page for prefix in a_codes)


@pytest.mark.parametrize("token", ["", "wrong-token-0123456789012345678901234567890"])
def test_every_form_refuses_a_missing_or_wrong_csrf_token(portal_app, partners, clock, token):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    with portal_app.app_context():
        before = session().get(Brand, partners.a.brand_id).version
    posted = 0
    for rule in portal_routes(portal_app):
        if "POST" not in rule.methods:
            continue
        path = path_of(rule, partners.a, portal_app)
        response = browser.post(path, {"name": "x", "product_name": "Hacked", "comment": "x"}, csrf=token)
        assert response.status_code == 403, path
        assert "csrf_failed" in response.get_data(as_text=True) or "Form check failed" in response.get_data(
            as_text=True
        )
        posted += 1
    assert posted >= 8
    # the open forms too: sign-in and sign-out
    assert browser.post("/portal/sign-out", {}, csrf=token).status_code == 403
    assert browser.get("/portal/").status_code == 200  # still signed in
    anonymous = PortalBrowser(portal_app)
    anonymous.get("/portal/sign-in")
    response = anonymous.post("/portal/sign-in", {"email": partners.admin_a.email, "password": "x"}, csrf=token)
    assert response.status_code == 403
    with portal_app.app_context():
        assert session().get(Brand, partners.a.brand_id).version == before


def test_cross_site_posts_are_refused(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    response = browser.post("/portal/sign-out", {}, page="/portal/", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


def test_a_portal_cookie_never_authenticates_the_admin_api(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.operator, clock)
    assert browser.cookie()
    for path in ("/admin/v1/brands", "/admin/v1/partners", f"/admin/v1/brands/{partners.a.brand_id}"):
        response = browser.get(path)
        assert response.status_code == 401, path
        assert response.mimetype == "application/problem+json"


def test_portal_pages_carry_a_strict_csp_and_are_not_cached(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    response = browser.get(f"/portal/brands/{partners.a.brand_id}")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "<style" not in body and " style=" not in body
    assert re.search(r"<script(?![^>]*\bsrc=)", body) is None  # no inline script


def test_viewers_read_but_cannot_change(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    assert browser.get(path).status_code == 200
    response = browser.post(path, {"product_name": "Viewer was here", "action": "save"})
    assert response.status_code == 403


def test_an_expired_session_sends_htmx_updates_to_sign_in(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    other = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    token = csrf_of(browser.get(path).get_data(as_text=True))
    other_token = csrf_of(other.get(path).get_data(as_text=True))
    clock.advance(hours=1)
    response = browser.post(f"{path}/preview", {"product_name": "x"}, csrf=token, headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/portal/sign-in"
    response = other.post(path, {"product_name": "x", "action": "save"}, csrf=other_token)
    assert response.status_code == 302 and response.location == "/portal/sign-in"
    fresh = PortalBrowser(portal_app)
    pre = csrf_of(fresh.get("/portal/sign-in").get_data(as_text=True))
    response = fresh.post(f"{path}/preview", {"product_name": "x"}, csrf=pre, headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/portal/sign-in"
