"""Releases and channels in the portal: halt with a required reason, resume, explain, the control
file form checked by the readiness gate, release creation, installer upload and publishing."""

from __future__ import annotations

import io

from app.db import session
from app.upgrades.models import Channel, Release
from tests.portal.helpers import PortalBrowser, csrf_of
from tests.portal.seed_b import etag_field, seed_catalogue


def test_halt_needs_a_reason_and_resume_lifts_it(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    page = f"/portal/channels/{ids['channel_id']}"
    assert "running" in browser.get(page).get_data(as_text=True)
    refused = browser.post(f"{page}/halt", {"reason": "  "}, page=page)
    assert refused.status_code == 422 and 'href="#field-reason"' in refused.get_data(as_text=True)
    response = browser.post(f"{page}/halt", {"reason": "Crash on start"}, page=page)
    assert response.status_code == 303
    body = browser.get(page).get_data(as_text=True)
    assert "halted" in body and "Crash on start" in body and "channel.halt" in body  # history pane
    explained = browser.get(f"{page}?version=5.2.0&platform=windows-x64&install_id=").get_data(as_text=True)
    assert 'data-testid="explain-action">none<' in explained and "halted" in explained
    confirm = browser.get(f"{page}/resume")
    assert confirm.status_code == 200 and "Resume channel stable?" in confirm.get_data(as_text=True)
    assert browser.post(f"{page}/resume", {}, page=page).status_code == 303
    with portal_app.app_context():
        row = session().get(Channel, ids["channel_id"])
        assert not row.halted and row.halt_reason == ""
    explained = browser.get(f"{page}?version=5.2.0&platform=windows-x64").get_data(as_text=True)
    assert 'data-testid="explain-action">none<' not in explained and "5.3.0" in explained


def test_viewers_cannot_halt(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    page = f"/portal/channels/{ids['channel_id']}"
    assert browser.get(page).status_code == 200
    assert browser.post(f"{page}/halt", {"reason": "x"}, page=page).status_code == 403


def test_control_file_form_reports_the_readiness_gate_by_field_then_activates(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/channels/{ids['channel_id']}/control-file"
    form = browser.get(path).get_data(as_text=True)
    assert 'value="5.3.0"' in form and 'name="releases-0-rollout_percent" value="100"' in form
    bad = {"default_mode": "passive", "releases-0-version": "9.9.9", "releases-0-rollout_percent": "150"}
    response = browser.post(path, {**bad, "action": "check"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'href="#field-releases-0-rollout_percent"' in body or 'href="#field-releases-0-version"' in body
    good = {"default_mode": "passive", "releases-0-version": "5.3.0", "releases-0-rollout_percent": "25"}
    checked = browser.post(path, {**good, "action": "check"})
    assert checked.status_code == 200 and "readiness gate passes" in checked.get_data(as_text=True)
    with portal_app.app_context():
        assert session().get(Channel, ids["channel_id"]).active_serial == 1  # a check stores nothing
    assert browser.post(path, {**good, "action": "activate"}).status_code == 303
    with portal_app.app_context():
        assert session().get(Channel, ids["channel_id"]).active_serial == 2
    assert "25%" in browser.get(f"/portal/channels/{ids['channel_id']}").get_data(as_text=True)


def test_a_new_channel_from_the_form(portal_app, partners, clock):
    seed_catalogue(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    data = {"channel_name": "beta", "default_mode": "dynamic", "releases-0-version": "5.3.0"}
    data["releases-0-rollout_percent"] = "10.5"
    response = browser.post("/portal/channels/new", {**data, "action": "activate"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "beta" in browser.get("/portal/releases").get_data(as_text=True)


def test_create_upload_and_publish_a_release(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    refused = browser.post("/portal/releases", {"version": "not a version", "platform": "windows-x64"})
    assert refused.status_code == 422 and 'href="#field-version"' in refused.get_data(as_text=True)
    response = browser.post("/portal/releases", {"version": "6.0.0", "platform": "windows-x64"})
    assert response.status_code == 303
    page = response.location
    html = browser.get(page).get_data(as_text=True)
    token, etag = csrf_of(html), etag_field(html)
    upload = browser.client.post(
        f"{page}/installer",
        data={"csrf_token": token, "etag": etag, "installer": (io.BytesIO(b"MZ" * 500), "setup.exe")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303, upload.get_data(as_text=True)
    html = browser.get(page).get_data(as_text=True)
    assert "1000 bytes" in html
    stale = browser.post(page, {"status": "published", "etag": etag})
    assert stale.status_code == 409  # loaded before the upload: never applied
    assert browser.post(page, {"status": "published", "etag": etag_field(html)}).status_code == 303
    with portal_app.app_context():
        assert session().get(Release, int(page.rsplit("/", 1)[1])).status == "published"


def test_an_installer_may_be_larger_than_a_form_of_images(portal_app, partners, clock, monkeypatch):
    from app.portal import web

    monkeypatch.setattr(web, "IMAGE_FIELDS", 0)  # any other multipart form: at most MAX_FORM_BYTES
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    page = browser.post("/portal/releases", {"version": "6.1.0", "platform": "windows-x64"}).location
    html = browser.get(page).get_data(as_text=True)
    size = web.MAX_FORM_BYTES + 512 * 1024
    data = {"csrf_token": csrf_of(html), "etag": etag_field(html), "installer": (io.BytesIO(b"M" * size), "setup.exe")}
    upload = browser.client.post(f"{page}/installer", data=data, content_type="multipart/form-data")
    assert upload.status_code == 303, upload.status_code
    assert f"{size} bytes" in browser.get(page).get_data(as_text=True)
    token = csrf_of(browser.get("/portal/brands").get_data(as_text=True))
    big_form = {"csrf_token": token, "name": "x", "logo": (io.BytesIO(b"M" * size), "x.png")}
    assert browser.client.post("/portal/brands", data=big_form, content_type="multipart/form-data").status_code == 413
