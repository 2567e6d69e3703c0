"""The operator area: onboard a partner, go live only through readiness, suspend; the audit log
with filters (partners see only their own events); operator settings on the loaded version."""

from __future__ import annotations

from app.db import session
from app.partners.models import Partner
from tests.portal.helpers import PortalBrowser
from tests.portal.seed_b import etag_field


def test_onboard_go_live_needs_readiness_and_suspend(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.operator, clock)
    bad = browser.post("/portal/partners", {"name": "Delta", "slug": "Not A Slug"})
    assert bad.status_code == 422 and 'href="#field-slug"' in bad.get_data(as_text=True)
    created = browser.post("/portal/partners", {"name": "Delta", "slug": "delta"})
    assert created.status_code == 303
    page = created.location
    body = browser.get(page).get_data(as_text=True)
    assert "Readiness to go live" in body and "fails" in body
    refused = browser.post(page, {"status": "live", "etag": etag_field(body)})
    assert refused.status_code == 409 and "not ready" in refused.get_data(as_text=True)
    live = f"/portal/partners/{partners.a.partner_id}"
    body = browser.get(live).get_data(as_text=True)
    assert browser.post(live, {"status": "suspended", "etag": "stale"}).status_code == 409
    assert browser.post(live, {"status": "suspended", "etag": etag_field(body)}).status_code == 303
    with portal_app.app_context():
        assert session().get(Partner, partners.a.partner_id).status == "suspended"
    assert "partner.set_status" in browser.get(live).get_data(as_text=True)  # the history pane
    assert "delta" in browser.get("/portal/partners?status=onboarding").get_data(as_text=True)


def test_partner_users_read_their_own_partner_only(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    own = f"/portal/partners/{partners.a.partner_id}"
    body = browser.get(own).get_data(as_text=True)
    assert "Readiness to go live" in body and 'name="status"' not in body
    assert browser.post(own, {"status": "suspended", "etag": "x"}, page=own).status_code == 403
    assert browser.get("/portal/partners").status_code == 403
    assert browser.get("/portal/operator/settings").status_code == 403


def test_audit_log_filters_and_scope(portal_app, partners, clock):
    operator = PortalBrowser(portal_app).sign_in(partners.operator, clock)
    everything = operator.get("/portal/audit").get_data(as_text=True)
    assert "brand.publish" in everything
    only = operator.get("/portal/audit?action=access_code.create").get_data(as_text=True)
    assert "access_code.create" in only and "brand.publish" not in only
    none = operator.get("/portal/audit?since=2999-01-01").get_data(as_text=True)
    assert "No events match." in none
    admin_b = PortalBrowser(portal_app).sign_in(partners.admin_b)
    theirs = admin_b.get(f"/portal/audit?resource_type=brand&resource_id={partners.a.brand_id}").get_data(as_text=True)
    assert "No events match." in theirs  # partner A's events are not partner B's to read
    assert admin_b.get(f"/portal/audit?partner_id={partners.a.partner_id}").status_code == 200


def test_operator_settings_on_the_loaded_version(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.operator, clock)
    page = "/portal/operator/settings"
    body = browser.get(page).get_data(as_text=True)
    bad = browser.post(page, {"standard_viewer_url": "http://insecure.example/", "etag": etag_field(body)})
    assert bad.status_code == 422 and 'href="#field-standard_viewer_url"' in bad.get_data(as_text=True)
    url = "https://viewer.example/crm"
    assert browser.post(page, {"standard_viewer_url": url, "etag": etag_field(body)}).status_code == 303
    stale = browser.post(page, {"standard_viewer_url": "https://other.example/", "etag": etag_field(body)})
    assert stale.status_code == 409 and url in stale.get_data(as_text=True)


def test_operators_pick_the_partner_of_partner_scoped_pages(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.operator, clock)
    for path in ("/portal/reports", "/portal/licensing/settings"):
        body = browser.get(path).get_data(as_text=True)
        assert f"partner_id={partners.b.partner_id}" in body, path
        assert browser.get(f"{path}?partner_id={partners.b.partner_id}").status_code == 200, path
