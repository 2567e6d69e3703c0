"""Catalogue rules: through the admin API (422 problems) and the pure helpers (sanitising, contrast)."""

from __future__ import annotations

import json

import pytest

from app.viewer.catalogue import FEATURES, integration_problems, render_markdown
from app.viewer.services import SEED_FILE
from app.viewer.theme import MIN_CONTRAST, contrast, text_colour_on
from tests import factories
from tests.api.admin.conftest import make_operator

GOOD = {
    "slug": "examplecrm",
    "name": "Example CRM",
    "category": "crm",
    "description": "Caller lookup in Example CRM.",
    "features": {name: {"support": "yes", "note": ""} for name in FEATURES},
    "deployment": "cloud",
    "platforms": ["windows"],
    "min_client_version": "5.0.0",
    "setup_markdown": "1. Open **Settings**.\n2. See [the guide](https://example.com/guide).",
    "docs_url": "https://example.com/docs",
    "published": True,
}


def test_the_seed_file_is_valid_and_large_enough():
    entries = json.loads(SEED_FILE.read_text())
    assert len(entries) >= 20
    assert len({e["slug"] for e in entries}) == len(entries)
    for entry in entries:
        assert integration_problems({"position": 0, "logo_sha256": None, **entry}) == {}, entry["slug"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"features": {**GOOD["features"], "telepathy": {"support": "yes"}}}, "features"),
        ({"features": {**GOOD["features"], "screen_pop": {"support": "maybe"}}}, "features"),
        ({"setup_markdown": "Click <script>alert(1)</script>"}, "setup_markdown"),
        ({"setup_markdown": "[open](javascript:alert(1))"}, "setup_markdown"),
        ({"setup_markdown": '<img src=x onerror="alert(1)">'}, "setup_markdown"),
        ({"docs_url": "http://example.com"}, "docs_url"),
        ({"category": "games"}, "category"),
        ({"platforms": ["linux"]}, "platforms"),
        ({"min_client_version": "five"}, "min_client_version"),
        ({"logo_sha256": "abc"}, "logo_sha256"),
        ({"slug": "Bad Slug"}, "slug"),
    ],
)
def test_bad_catalogue_entries_are_422(app, change, field):
    operator = make_operator(app)
    response = operator.post("/integrations", {**GOOD, **change})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json


def test_catalogue_admin_create_read_update(app):
    operator = make_operator(app)
    created = operator.post("/integrations", GOOD)
    assert created.status_code == 201, created.json
    assert operator.post("/integrations", GOOD).status_code == 409
    assert operator.patch("/integrations/examplecrm", {"published": False}).status_code == 428
    hidden = operator.patch("/integrations/examplecrm", {"published": False}, etag=created.headers["ETag"])
    assert hidden.status_code == 200 and hidden.json["published"] is False
    assert app.test_client().get("/viewer/integrations/examplecrm").status_code == 404
    bad = operator.patch("/integrations/examplecrm", {"setup_markdown": "<b>x</b>"}, etag=hidden.headers["ETag"])
    assert bad.status_code == 422
    partner_id = factories.make_partner(app, "nosy")
    from app.db import session
    from app.partners.models import Partner
    from app.partners.services import create_api_key  # a partner key may not touch the catalogue

    with app.app_context():
        _key, plain = create_api_key(session(), role="admin", actor="t", partner=session().get(Partner, partner_id))
        session().commit()
    nosy = type(operator)(operator.client, plain)
    assert nosy.post("/integrations", {**GOOD, "slug": "other"}).status_code == 403


def test_bad_viewer_colours_are_422(app):
    operator = make_operator(app)
    partner_id = factories.make_partner(app, "colour")
    response = operator.post(
        "/brands",
        {"name": "C", "partner_id": partner_id, "draft": {"branding_level": "CI-C", "viewer_primary_color": "red"}},
    )
    assert response.status_code == 422 and "viewer_primary_color" in json.dumps(response.json["errors"])


def test_rendered_setup_steps_are_sanitised():
    html = render_markdown("**bold** [ok](https://example.com) [mail](mailto:a@example.com)")
    assert '<a href="https://example.com" rel="noopener noreferrer">ok</a>' in html
    assert "<strong>bold</strong>" in html
    assert "<" not in render_markdown("<script>x</script>").replace("<p>", "").replace("</p>", "")


@pytest.mark.parametrize("background", ["#000000", "#ffffff", "#777777", "#0b5fff", "#ff7a00", "#f0e68c", "#112233"])
def test_text_colour_on_any_background_reaches_aa_contrast(background):
    assert contrast(text_colour_on(background), background) >= MIN_CONTRAST
