"""Roles in the portal: operators across partners, reseller users kept off partner screens, the demo accounts."""

from __future__ import annotations

import json
import re

import pyotp
from sqlalchemy import select

from app.branding.models import Brand
from app.db import session
from app.licensing.models import Reseller
from app.licensing.services import create_org
from tests.portal.helpers import Clock, PortalBrowser, PortalUserInfo, make_user


def test_operators_see_and_change_every_partner(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.operator, clock)
    home = browser.get("/portal/").get_data(as_text=True)
    assert "Acme" in home and "Bravo" in home
    assert browser.get(f"/portal/brands/{partners.b.brand_id}").status_code == 200
    response = browser.post("/portal/brands", {"name": "Operator's brand", "partner_id": str(partners.b.partner_id)})
    assert response.status_code == 303
    with portal_app.app_context():
        brand = session().scalar(select(Brand).where(Brand.name == "Operator's brand"))
        assert brand.partner_id == partners.b.partner_id


def test_reseller_users_do_not_open_partner_screens(portal_app, partners, clock):
    with portal_app.app_context():
        reseller = create_org(session(), Reseller, partners.a.partner_id, {"name": "R1"}, actor="test")
        session().commit()
        reseller_id = reseller.id
    user = make_user(portal_app, "seller@r1.example", "reseller", partners.a.partner_id, reseller_id=reseller_id)
    browser = PortalBrowser(portal_app).sign_in(user)
    home = browser.get("/portal/").get_data(as_text=True)
    assert "Licences this month" in home and "Drafts waiting" not in home
    for path in ("/portal/brands", f"/portal/brands/{partners.a.brand_id}", "/portal/codes"):
        assert browser.get(path).status_code == 403, path
    assert browser.get("/portal/account").status_code == 200


def test_users_can_turn_on_totp_from_their_account(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    page = browser.get("/portal/sign-in/setup-code").get_data(as_text=True)
    secret = re.search(r'name="secret" value="([A-Z2-7]{32})"', page).group(1)
    code = pyotp.TOTP(secret).at(clock.now)
    done = browser.post(
        "/portal/sign-in/setup-code", {"secret": secret, "code": code}, page="/portal/sign-in/setup-code"
    )
    assert done.status_code == 200 and "recovery codes" in done.get_data(as_text=True)
    assert "On (10 recovery codes left)" in browser.get("/portal/account").get_data(as_text=True)
    clock.advance(seconds=60)
    info = PortalUserInfo(partners.admin_a.id, partners.admin_a.email, secret)
    PortalBrowser(portal_app).sign_in(info, clock)  # now asked for a code


def test_demo_seed_prints_portal_accounts_that_sign_in(make_app):
    app = make_app()
    clock = Clock()
    app.extensions["livery.portal.clock"] = clock
    runner = app.test_cli_runner()
    for _ in range(2):  # idempotent, the same credentials each time
        result = runner.invoke(args=["demo", "seed", "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        seeded = json.loads(result.output)
    admin = PortalUserInfo(0, seeded["portal_admin_email"])
    PortalBrowser(app).sign_in(admin, password=seeded["portal_admin_password"])
    operator = PortalUserInfo(0, seeded["portal_operator_email"], seeded["portal_operator_totp_secret"])
    PortalBrowser(app).sign_in(operator, clock, password=seeded["portal_operator_password"])
