"""Team and API keys: invite (link shown once), change role, revoke access (sessions end), create an
API key (shown once, it then authenticates the admin API) and revoke it; viewers are refused."""

from __future__ import annotations

import re

from app.db import session
from app.portal.models import PortalUser
from tests.portal.helpers import PortalBrowser, make_user, version_of


def test_invite_change_role_and_revoke_access(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    bad = browser.post("/portal/team/invitations", {"email": "not-an-email", "role": "viewer"}, page="/portal/team")
    assert bad.status_code == 422 and 'href="#field-email"' in bad.get_data(as_text=True)
    invited = browser.post(
        "/portal/team/invitations", {"email": "new@acme.example", "role": "viewer"}, page="/portal/team"
    )
    body = invited.get_data(as_text=True)
    assert invited.status_code == 200 and "/portal/invitations/" in body
    assert "/portal/invitations/" not in browser.get("/portal/team").get_data(as_text=True)  # shown once

    member = make_user(portal_app, "member@acme.example", "viewer", partners.a.partner_id)
    theirs = PortalBrowser(portal_app).sign_in(member)
    page = f"/portal/team/users/{member.id}"
    loaded = version_of(browser.get(page).get_data(as_text=True))
    assert browser.post(page, {"action": "role", "role": "admin", **loaded}).status_code == 303
    assert "<dd>admin</dd>" in browser.get(page).get_data(as_text=True)
    stale = browser.post(page, {"action": "revoke", **loaded})
    assert stale.status_code == 409
    fresh = version_of(browser.get(page).get_data(as_text=True))
    assert browser.post(page, {"action": "revoke", **fresh}).status_code == 303
    assert theirs.get("/portal/").status_code == 302  # their session ended
    own = f"/portal/team/users/{partners.admin_a.id}"
    with portal_app.app_context():
        version = str(session().get(PortalUser, partners.admin_a.id).version)
    refused = browser.post(own, {"action": "revoke", "version": version}, page="/portal/team")
    assert refused.status_code == 422 and "another admin" in refused.get_data(as_text=True)


def test_api_key_shown_once_works_and_revokes(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    created = browser.post("/portal/team/keys", {"role": "viewer", "label": "release CI"}, page="/portal/team")
    body = created.get_data(as_text=True)
    key = re.search(r'data-testid="shown-once">([^<]+)<', body).group(1)
    client = portal_app.test_client()
    assert client.get("/admin/v1/brands", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    operator_key = browser.post("/portal/team/keys", {"role": "operator"}, page="/portal/team")
    assert operator_key.status_code == 422
    team = browser.get("/portal/team").get_data(as_text=True)
    assert key not in team
    form = re.search(
        r'action="(/portal/team/keys/\d+/revoke)">\s*<input[^>]+>\s*<input type="hidden" name="etag" value="([^"]+)"',
        team,
    )
    import html

    assert browser.post(form.group(1), {"etag": "stale"}, page="/portal/team").status_code == 409
    assert browser.post(form.group(1), {"etag": html.unescape(form.group(2))}, page="/portal/team").status_code == 303
    assert client.get("/admin/v1/brands", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_viewers_have_no_team_screen(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    assert browser.get("/portal/team").status_code == 403
