"""The brand editor, its preview, review and publish, and history, through the test client."""

from __future__ import annotations

import io

from app.audit.models import AuditEvent
from app.branding.models import Brand
from app.db import session
from tests import images
from tests.portal.helpers import PortalBrowser, version_of


def _draft(app, brand_id: int) -> dict:
    with app.app_context():
        return dict(session().get(Brand, brand_id).draft)


def _form(page_html: str, **fields) -> dict:
    return {**version_of(page_html), "name": "Test brand", **fields}


def test_preview_shows_the_typed_values_and_saves_nothing(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    long_name = "Acme Connect Enterprise Communications CRM Integrator Suite 2027"
    fragment = browser.post(f"{path}/preview", {"product_name": long_name, "publisher": "P" * 80}, page=path)
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert "<html" not in html  # a fragment for htmx
    assert long_name in html
    assert "Cut to 127 characters" in html  # tooltip "name (publisher)" is longer than Windows keeps
    assert "The title bar shows only about 42 characters" in html
    assert "Cut in the About box" in html
    assert 'width="640" height="360"' in html  # the splash at its real size
    assert _draft(portal_app, partners.a.brand_id)["product_name"] == "Acme Connect"
    # the no-JavaScript "Preview" button: the whole page, still nothing saved
    page = browser.get(path).get_data(as_text=True)
    response = browser.post(path, _form(page, product_name="Typed only", action="preview"), page=path)
    assert response.status_code == 200 and "Preview of your changes" in response.get_data(as_text=True)
    assert 'value="Typed only"' in response.get_data(as_text=True)
    assert _draft(portal_app, partners.a.brand_id)["product_name"] == "Acme Connect"


def test_preview_warns_about_poor_contrast(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    poor = browser.post(
        f"{path}/preview", {"viewer_primary_color": "#ffff00", "viewer_accent_color": "#ffffff"}, page=path
    )
    assert "below 4.5:1" in poor.get_data(as_text=True)
    fine = browser.post(
        f"{path}/preview", {"viewer_primary_color": "#112233", "viewer_accent_color": "#ffcc00"}, page=path
    )
    assert "below 4.5:1" not in fine.get_data(as_text=True)
    css = browser.get("/portal/preview-theme.css?viewer_primary_color=%23112233&viewer_accent_color=red;}*{x:y")
    assert css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "#112233" in text and "red" not in text and "x:y" not in text


def test_save_then_a_stale_save_shows_the_conflict_and_writes_nothing(portal_app, partners):
    alice = PortalBrowser(portal_app).sign_in(partners.admin_a)
    bob = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    alice_page, bob_page = alice.get(path).get_data(as_text=True), bob.get(path).get_data(as_text=True)
    saved = alice.post(path, _form(alice_page, product_name="Alice's name", action="save"), page=path)
    assert saved.status_code == 303
    assert "Draft saved." in alice.get(path).get_data(as_text=True)
    stale = bob.post(path, _form(bob_page, product_name="Bob's name", short_name="Bob", action="save"), page=path)
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Someone else saved this meanwhile" in html
    assert "Changed meanwhile to: <strong>Alice&#39;s name</strong>" in html
    assert 'value="Bob&#39;s name"' in html  # Bob's input is kept
    draft = _draft(portal_app, partners.a.brand_id)
    assert (draft["product_name"], draft["short_name"]) == ("Alice's name", "Acme")
    # the conflict page carries the new version: saving again is deliberate and works
    again = bob.post(path, _form(html, product_name="Bob's name", action="save"), csrf=None, page=path)
    assert again.status_code == 303
    assert _draft(portal_app, partners.a.brand_id)["product_name"] == "Bob's name"


def test_validation_errors_are_listed_and_linked_to_fields(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    page = browser.get(path).get_data(as_text=True)
    response = browser.post(
        path, _form(page, product_name="", support_url="http://x.example", action="save"), page=path
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'href="#field-product_name"' in html and 'href="#field-support_url"' in html
    assert 'aria-invalid="true"' in html
    assert _draft(portal_app, partners.a.brand_id)["product_name"] == "Acme Connect"


def test_images_are_uploaded_through_the_asset_service(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    page = browser.get(path).get_data(as_text=True)
    data = _form(page, action="save", upload_splash=(io.BytesIO(images.png(800, 450)), "new-splash.png"))
    response = browser.post(path, data, page=path, content_type="multipart/form-data")
    assert response.status_code == 303
    assert 'width="800" height="450"' in browser.get(path).get_data(as_text=True)
    page = browser.get(path).get_data(as_text=True)
    bad = _form(page, action="save", upload_splash=(io.BytesIO(b"not an image"), "x.png"))
    response = browser.post(path, bad, page=path, content_type="multipart/form-data")
    assert response.status_code == 422 and 'href="#field-upload_splash"' in response.get_data(as_text=True)


def test_publish_needs_a_comment_and_reaches_discovery(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    page = browser.get(path).get_data(as_text=True)
    assert browser.post(path, _form(page, product_name="Acme Next", action="save"), page=path).status_code == 303
    review = browser.get(f"{path}/review").get_data(as_text=True)
    assert "Acme Next" in review and 'data-testid="live-codes">1<' in review
    missing = browser.post(f"{path}/publish", version_of(review), page=f"{path}/review")
    assert missing.status_code == 422 and 'href="#field-comment"' in missing.get_data(as_text=True)
    published = browser.post(f"{path}/publish", {**version_of(review), "comment": "Rename"}, page=f"{path}/review")
    assert published.status_code == 303
    document = portal_app.test_client().get(f"/v1/discovery/{partners.a.live_code}").get_json()
    assert document["product"]["name"] == "Acme Next" and document["revision"] == 2
    with portal_app.app_context():
        event = session().query(AuditEvent).filter_by(action="brand.publish").order_by(AuditEvent.id.desc()).first()
        assert event.after["comment"] == "Rename"
        assert event.actor == f"partner:{partners.a.partner_id}/portal-admin:{partners.admin_a.id}"
    assert "“Rename”" in browser.get(f"{path}/review").get_data(as_text=True)


def test_a_review_is_not_published_when_the_draft_changed_since(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    page = browser.get(path).get_data(as_text=True)
    browser.post(path, _form(page, product_name="Reviewed", action="save"), page=path)
    review = browser.get(f"{path}/review").get_data(as_text=True)
    page = browser.get(path).get_data(as_text=True)
    browser.post(path, _form(page, product_name="Changed after review", action="save"), page=path)
    response = browser.post(f"{path}/publish", {**version_of(review), "comment": "ok"}, page=f"{path}/review")
    assert response.status_code == 409
    document = portal_app.test_client().get(f"/v1/discovery/{partners.a.live_code}").get_json()
    assert document["product"]["name"] == "Acme Connect"


def test_restore_a_revision_as_the_draft(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    path = f"/portal/brands/{partners.a.brand_id}"
    page = browser.get(path).get_data(as_text=True)
    browser.post(path, _form(page, product_name="Second", action="save"), page=path)
    review = browser.get(f"{path}/review").get_data(as_text=True)
    browser.post(f"{path}/publish", {**version_of(review), "comment": "second"}, page=f"{path}/review")
    review = browser.get(f"{path}/review").get_data(as_text=True)
    assert "Restore revision 1 as the draft" in review
    response = browser.post(f"{path}/restore", {**version_of(review), "revision": "1"}, page=f"{path}/review")
    assert response.status_code == 303
    assert _draft(portal_app, partners.a.brand_id)["product_name"] == "Acme Connect"
    document = portal_app.test_client().get(f"/v1/discovery/{partners.a.live_code}").get_json()
    assert document["product"]["name"] == "Second"  # restored as the draft only: live until published
    assert (
        browser.post(f"{path}/restore", {**version_of(review), "revision": "99"}, page=f"{path}/review").status_code
        == 404
    )
