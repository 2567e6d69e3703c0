"""Licensing in the portal: add a user and the licence check answers valid, suspend and remove on
the loaded version, CSV import with a row-by-row report, search, and the reseller scope."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.db import session
from app.licensing.models import Customer, LicensedUser
from tests.portal.helpers import PortalBrowser, csrf_of, make_user, version_of
from tests.portal.seed_b import seed_licensing


def _check(app, code: str, user_id: str) -> str:
    body = {"access_code": code, "user_id": user_id, "install_id": "install-1"}
    response = app.test_client().post("/v1/licenses/check", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["payload"]["status"]


def test_add_a_user_and_the_licence_check_answers_valid(portal_app, partners, clock):
    ids = seed_licensing(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    page = f"/portal/licensing/customers/{ids['customer_id']}"
    assert _check(portal_app, partners.a.live_code, "bob@example.com") == "not_licensed"
    empty = browser.post(page, {"user_id": ""})
    assert empty.status_code == 422 and 'href="#field-user_id"' in empty.get_data(as_text=True)
    assert browser.post(page, {"user_id": "Bob@Example.com", "licence_type": "standard"}).status_code == 303
    assert "Bob@Example.com" in browser.get(page).get_data(as_text=True)
    assert _check(portal_app, partners.a.live_code, " bob@example.COM") == "valid"
    duplicate = browser.post(page, {"user_id": "BOB@example.com"})
    assert duplicate.status_code == 409


def test_suspend_reactivate_and_remove_on_the_loaded_version(portal_app, partners, clock):
    ids = seed_licensing(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    page = f"/portal/licensing/users/{ids['licensed_user_id']}"
    loaded = version_of(browser.get(page).get_data(as_text=True))
    assert browser.post(page, {"action": "suspend", **loaded}).status_code == 303
    assert _check(portal_app, partners.a.live_code, "anna@example.com") == "suspended"
    stale = browser.post(page, {"action": "remove", **loaded})  # loaded before the suspension
    assert stale.status_code == 409 and "Someone else saved this meanwhile" in stale.get_data(as_text=True)
    fresh = version_of(browser.get(page).get_data(as_text=True))
    assert browser.post(page, {"action": "activate", **fresh}).status_code == 303
    assert _check(portal_app, partners.a.live_code, "anna@example.com") == "valid"
    fresh = version_of(browser.get(page).get_data(as_text=True))
    assert browser.post(page, {"action": "remove", **fresh}).status_code == 303
    assert browser.get(page).status_code == 404
    body = browser.get("/portal/licensing?user_id=ANNA").get_data(as_text=True)
    assert "No user id starts with that." in body


def test_csv_import_reports_every_bad_line_and_imports_nothing_then_all(portal_app, partners, clock):
    ids = seed_licensing(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    token = csrf_of(browser.get("/portal/licensing").get_data(as_text=True))
    customer = ids["customer_id"]

    def send(text: str):
        data = {"csrf_token": token, "csv": (io.BytesIO(text.encode()), "users.csv")}
        return browser.client.post("/portal/licensing/import", data=data, content_type="multipart/form-data")

    bad = send(f"user_id,customer_id\ncarl@example.com,{customer}\n,{customer}\ndora@example.com,999999\n")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Lines to fix" in body
    assert "<td>3</td>" in body and "<td>4</td>" in body and "<td>2</td>" not in body
    with portal_app.app_context():
        assert session().scalar(select(LicensedUser).where(LicensedUser.user_key == "carl@example.com")) is None
    good = send(f"user_id,customer_id\ncarl@example.com,{customer}\nanna@example.com,{customer}\n")
    assert good.status_code == 200 and "1 added, 0 updated, 1 unchanged" in good.get_data(as_text=True)
    found = browser.get("/portal/licensing?user_id=carl").get_data(as_text=True)
    assert "carl@example.com" in found


def test_reseller_users_see_and_manage_only_their_own_customers(portal_app, partners, clock):
    mine = seed_licensing(portal_app, partners.a.partner_id, "mine@example.com")
    other = seed_licensing(portal_app, partners.a.partner_id, "theirs@example.com")
    user = make_user(
        portal_app, "sales@resell.example", "reseller", partners.a.partner_id, reseller_id=mine["reseller_id"]
    )
    browser = PortalBrowser(portal_app).sign_in(user)
    overview = browser.get("/portal/licensing").get_data(as_text=True)
    assert f'/licensing/customers/{mine["customer_id"]}"' in overview
    assert f'/licensing/customers/{other["customer_id"]}"' not in overview
    assert "Add a reseller" not in overview
    for path in (
        f"/portal/licensing/customers/{other['customer_id']}",
        f"/portal/licensing/users/{other['licensed_user_id']}",
        f"/portal/licensing/resellers/{other['reseller_id']}",
    ):
        assert browser.get(path).status_code == 404, path
    assert browser.get(f"/portal/licensing/customers/{mine['customer_id']}").status_code == 200
    assert "theirs@example.com" not in browser.get("/portal/licensing?user_id=t").get_data(as_text=True)
    # writes: its own customers only; a new customer lands under its reseller whatever the form says
    page = f"/portal/licensing/customers/{other['customer_id']}"
    assert browser.post(page, {"user_id": "x@example.com"}, page="/portal/licensing").status_code == 404
    response = browser.post(
        "/portal/licensing/customers",
        {"name": "New Co", "reseller_id": str(other["reseller_id"])},
        page="/portal/licensing",
    )
    assert response.status_code == 303
    with portal_app.app_context():
        created = session().scalar(select(Customer).where(Customer.name == "New Co"))
        assert created.reseller_id == mine["reseller_id"]
    token = csrf_of(overview)
    data = {
        "csrf_token": token,
        "csv": (io.BytesIO(f"user_id,customer_id\nz@example.com,{other['customer_id']}\n".encode()), "u.csv"),
    }
    refused = browser.client.post("/portal/licensing/import", data=data, content_type="multipart/form-data")
    assert refused.status_code == 422 and "No such customer" in refused.get_data(as_text=True)
    # reseller users have no other screens
    assert browser.get("/portal/releases").status_code == 403
    assert browser.get("/portal/licensing/settings").status_code == 403


def test_settings_rotate_a_secret_shown_once(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    page = "/portal/licensing/settings"
    bad = browser.post(page, {"licence_types": "standard", "lease_days": "500"})
    assert bad.status_code == 422 and 'href="#field-lease_days"' in bad.get_data(as_text=True)
    data = {"licence_types": "standard, pro", "lease_days": "14", "grace_lease_hours": "24", "grace_max_hours": "72"}
    rotated = browser.post(page, {**data, "web_service_url_template": "", "rotate_secret": "on"})
    assert rotated.status_code == 200 and 'id="new-secret"' in rotated.get_data(as_text=True)
    again = browser.get(page).get_data(as_text=True)
    assert 'id="new-secret"' not in again and 'value="standard, pro"' in again
    assert "licensing_settings.update" in again
    refused = browser.post(f"{page}/verify", {"known_user_id": ""}, page=page)
    assert refused.status_code == 422


def test_another_partners_ids_in_form_fields_change_nothing(portal_app, partners, clock):
    theirs = seed_licensing(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_b)
    sent = {"name": "Sneaky", "reseller_id": str(theirs["reseller_id"])}
    assert browser.post("/portal/licensing/customers", sent, page="/portal/licensing").status_code == 404
    token = csrf_of(browser.get("/portal/licensing").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "csv": (io.BytesIO(f"user_id,customer_id\nz@x.example,{theirs['customer_id']}\n".encode()), "u.csv"),
    }
    response = browser.client.post("/portal/licensing/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "No such customer of this partner." in response.get_data(as_text=True)
    with portal_app.app_context():
        assert session().scalar(select(Customer).where(Customer.name == "Sneaky")) is None
        assert session().scalar(select(LicensedUser).where(LicensedUser.user_key == "z@x.example")) is None
