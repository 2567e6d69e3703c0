"""Hostile form values on every portal form: an answer below 500, and nothing stored that cannot be."""

from __future__ import annotations

import pytest

from tests.portal.access import path_of, portal_routes
from tests.portal.helpers import PortalBrowser, csrf_of

FIELDS = (
    "name",
    "product_name",
    "short_name",
    "publisher",
    "support_url",
    "eula_url",
    "branding_level",
    "licensing_method",
    "upgrade_channel",
    "splash_seconds",
    "viewer_name",
    "viewer_url",
    "viewer_primary_color",
    "viewer_accent_color",
    "comment",
    "revision",
    "brand_id",
    "kind",
    "label",
    "channel",
    "expires_on",
    "old_valid_until",
    "version",
    "base",
    "action",
    "email",
    "password",
    "password_again",
    "code",
    "secret",
    "current_password",
    "new_password",
    "new_password_again",
    "partner_id",
    "next",
    # part B's forms
    "reason",
    "status",
    "etag",
    "platform",
    "release_notes_url",
    "installer_url",
    "sha256",
    "bytes",
    "file_name",
    "channel_name",
    "default_mode",
    "minimum_version",
    "blocked_versions",
    "notes",
    "releases-0-version",
    "releases-0-rollout_percent",
    "releases-0-available_from",
    "releases-0-platforms",
    "user_id",
    "licence_type",
    "external_id",
    "seat_cap",
    "reseller_id",
    "role",
    "known_user_id",
    "licence_types",
    "lease_days",
    "grace_lease_hours",
    "grace_max_hours",
    "web_service_url_template",
    "slug",
    "standard_viewer_url",
    "enabled",
    "failure_percent",
    "min_reports",
    "window_minutes",
    "release_version",
    "steps-0-percent",
    "steps-0-hold_hours",
    "steps-0-min_successes",
)
VALUES = ["\x00", "a\x00b", "\u202e", "9" * 40, "-1", "", " ", "<script>x</script>", "2026-02-30", "x" * 5000]


def _post_everywhere(portal_app, partners, value):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    token = csrf_of(browser.get("/portal/").get_data(as_text=True))
    data = dict.fromkeys(FIELDS, value)
    data["action"] = "save"
    for rule in portal_routes(portal_app):
        if "POST" not in rule.methods or rule.endpoint in ("portal.sign_out_everywhere", "portal.change_password"):
            continue
        response = browser.post(path_of(rule, partners.a, portal_app), data, csrf=token)
        assert response.status_code < 500, (rule.rule, response.status_code)
        assert "<script>x</script>" not in response.get_data(as_text=True)
    assert browser.get("/portal/").status_code == 200


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_every_form_answers_hostile_values_below_500(portal_app, partners, value):
    _post_everywhere(portal_app, partners, value)


def test_hostile_values_on_postgresql(make_app, clock):
    """PostgreSQL refuses NUL in strings: every form must refuse it first."""
    from tests.portal.conftest import make_partners

    app = make_app(db="postgres")
    app.extensions["livery.portal.clock"] = clock
    partners = make_partners(app)
    for value in ("\x00", "a\x00b", "x" * 5000):
        _post_everywhere(app, partners, value)
    anonymous = PortalBrowser(app)
    response = anonymous.post("/portal/sign-in", {"email": "a\x00@b.example", "password": "\x00"})
    assert response.status_code == 401
