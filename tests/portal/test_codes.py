"""Access codes in the portal: issue (shown once), revoke with confirmation, rotate, expiry."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.branding.models import AccessCode
from app.db import session
from tests.portal.helpers import PortalBrowser, version_of

CODE_RE = re.compile(r'data-testid="new-code">([0-9A-Z-]+)<')


def _issue(browser, brand_id: int, **fields) -> str:
    response = browser.post("/portal/codes", {"brand_id": str(brand_id), "kind": "live", **fields})
    assert response.status_code == 200, response.get_data(as_text=True)
    return CODE_RE.search(response.get_data(as_text=True)).group(1)


def _code_id(app, label: str) -> int:
    with app.app_context():
        return session().scalar(select(AccessCode.id).where(AccessCode.label == label))


def test_issue_shows_the_code_once(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    expires = (clock.now + timedelta(days=30)).strftime("%Y-%m-%d")
    plain = _issue(browser, partners.a.brand_id, label="Build 7", expires_on=expires)
    assert portal_app.test_client().get(f"/v1/discovery/{plain}").status_code == 200
    code_id = _code_id(portal_app, "Build 7")
    page = browser.get(f"/portal/codes/{code_id}").get_data(as_text=True)
    assert plain not in page and plain[:5] in page  # only the prefix, ever again
    assert expires in page
    assert "Codes expiring within 14 days" in browser.get("/portal/").get_data(as_text=True)


def test_issue_refuses_bad_input_by_field(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    response = browser.post(
        "/portal/codes", {"brand_id": str(partners.a.brand_id), "kind": "forever", "expires_on": "2001-01-01"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'href="#field-kind"' in html
    other = browser.post("/portal/codes", {"brand_id": str(partners.b.brand_id), "kind": "live"})
    assert other.status_code == 404  # another partner's brand


def test_revoke_needs_confirmation_and_refuses_a_stale_page(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    plain = _issue(browser, partners.a.brand_id, label="To revoke")
    code_id = _code_id(portal_app, "To revoke")
    confirm = browser.get(f"/portal/codes/{code_id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    page = browser.get(f"/portal/codes/{code_id}").get_data(as_text=True)
    stale = version_of(page)
    rotated = browser.post(
        f"/portal/codes/{code_id}/rotate", {**stale, "old_valid_until": "2999-01-01"}, page=f"/portal/codes/{code_id}"
    )
    assert rotated.status_code == 200 and CODE_RE.search(rotated.get_data(as_text=True))
    # the page the revoke was confirmed on is older than the rotation: nothing is revoked
    response = browser.post(f"/portal/codes/{code_id}/revoke", stale, page=f"/portal/codes/{code_id}")
    assert response.status_code == 409 and "changed since you opened the page" in response.get_data(as_text=True)
    assert portal_app.test_client().get(f"/v1/discovery/{plain}").status_code == 200
    fresh = version_of(browser.get(f"/portal/codes/{code_id}").get_data(as_text=True))
    assert browser.post(f"/portal/codes/{code_id}/revoke", fresh, page=f"/portal/codes/{code_id}").status_code == 303
    assert portal_app.test_client().get(f"/v1/discovery/{plain}").status_code == 410


def test_viewers_cannot_issue_or_revoke(portal_app, partners):
    browser = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    assert (
        browser.post(
            "/portal/codes", {"brand_id": str(partners.a.brand_id), "kind": "live"}, page="/portal/codes"
        ).status_code
        == 403
    )
    code_id = _code_id(portal_app, "")
    assert browser.get(f"/portal/codes/{code_id}/revoke").status_code == 403
