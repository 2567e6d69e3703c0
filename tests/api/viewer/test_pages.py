"""The CRM viewer pages and their JSON twin, through HTTP: standard, CI-C branded, CI-B, preview, caching."""

from __future__ import annotations

import re

import pytest

from app.db import session
from app.viewer.services import load_catalogue
from tests import factories
from tests.api.admin.conftest import make_operator

BASE = "http://livery.test"


@pytest.fixture
def catalogue_app(app):
    with app.app_context():
        created, _ = load_catalogue(session(), actor="test")
        session().commit()
    assert created >= 20
    return app


def _slug(app, brand_id: int) -> str:
    from app.branding.models import Brand

    with app.app_context():
        return session().get(Brand, brand_id).slug


def _names(html: str) -> list[str]:
    return re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', html)


def test_standard_viewer_searches_filters_and_revalidates(catalogue_app):
    client = catalogue_app.test_client()
    page = client.get("/viewer")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp and "script" not in csp
    assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
    assert page.headers["Cache-Control"].startswith("public")
    assert len(_names(page.text)) >= 20 and "theme.css" not in page.text
    assert client.get("/viewer", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304

    assert _names(client.get("/viewer?q=salesforce").text) == ["Salesforce Sales Cloud"]
    helpdesk = _names(client.get("/viewer?category=helpdesk").text)
    assert "Zendesk Support" in helpdesk and "HubSpot CRM" not in helpdesk
    mac = _names(client.get("/viewer?platform=macos").text)
    assert "Apple Contacts" in mac and "GoldMine" not in mac
    logging = _names(client.get("/viewer?feature=call_logging").text)
    assert "Xero" not in logging and "Salesforce Sales Cloud" in logging
    assert client.get("/viewer?category=nonsense").status_code == 200  # unknown filters are ignored

    detail = client.get("/viewer/integrations/salesforce")
    assert detail.status_code == 200 and "Salesforce Sales Cloud" in detail.text and "<ol>" in detail.text
    missing = client.get("/viewer/integrations/nope")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    logo = client.get("/viewer/logos/salesforce.svg")
    assert logo.status_code == 200 and logo.mimetype == "image/svg+xml" and b">SS<" in logo.data


def test_ci_c_brand_viewer_shows_the_brand_and_no_vendor(catalogue_app):
    app = catalogue_app
    seeded = factories.seed_ci_c(app)
    slug = _slug(app, seeded.brand_id)
    client = app.test_client()
    page = client.get(f"/viewer/{slug}")
    assert page.status_code == 200
    assert "Acme Viewer" in page.text and f"/viewer/{slug}/theme.css" in page.text
    assert "livery" not in page.text.lower()
    assert client.get(f"/viewer/{slug}", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    theme = client.get(f"/viewer/{slug}/theme.css")
    assert theme.mimetype == "text/css" and "--primary: #112233;" in theme.text
    assert "--on-primary: #ffffff;" in theme.text  # white on a dark primary: contrast chosen, >= 4.5:1
    assert "Acme Viewer" not in client.get("/viewer").text
    detail = client.get(f"/viewer/{slug}/integrations/hubspot")
    assert detail.status_code == 200 and "Acme Viewer" in detail.text

    # the client's discovery document points at the branded page
    document = client.get(f"/v1/discovery/{seeded.live_code}").get_json()
    assert document["crm_viewer"]["url"] == f"{BASE}/viewer/{slug}"

    twin = client.get(f"/v1/viewer/{slug}")
    assert twin.status_code == 200 and twin.json["viewer"]["name"] == "Acme Viewer"
    assert twin.json["viewer"]["kind"] == "branded" and len(twin.json["integrations"]) >= 20
    assert client.get(f"/v1/viewer/{slug}", headers={"If-None-Match": twin.headers["ETag"]}).status_code == 304
    assert client.get("/v1/viewer").json["viewer"]["kind"] == "standard"


def test_test_code_previews_the_draft_and_a_live_code_never_does(catalogue_app):
    app = catalogue_app
    seeded = factories.seed_ci_c(app)
    slug = _slug(app, seeded.brand_id)
    factories.edit(app, seeded.brand_id, viewer_name="Acme Viewer Next", viewer_primary_color="#f0e68c")
    client = app.test_client()
    assert "Acme Viewer Next" not in client.get(f"/viewer/{slug}").text
    preview = client.get(f"/viewer/{slug}?code={seeded.test_code}")
    assert preview.status_code == 200 and "Acme Viewer Next" in preview.text and "Preview" in preview.text
    assert preview.headers["Cache-Control"] == "private, no-store"
    theme = client.get(f"/viewer/{slug}/theme.css?code={seeded.test_code}")
    assert "--on-primary: #000000;" in theme.text  # dark text on a light primary
    assert client.get(f"/viewer/{slug}?code={seeded.live_code}").status_code == 404
    assert client.get(f"/viewer/{slug}?code=NOT-A-CODE").status_code == 404


def test_ci_b_brand_slug_redirects_to_the_standard_viewer(catalogue_app):
    app = catalogue_app
    partner_id = factories.make_partner(app, "bee")
    brand_id = factories.make_brand(app, partner_id, branding_level="CI-B")
    code = factories.issue(app, brand_id)
    client = app.test_client()
    response = client.get(f"/viewer/{_slug(app, brand_id)}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://viewer.livery.test/standard"  # the operator's setting
    assert client.get(f"/v1/discovery/{code}").get_json()["crm_viewer"]["url"] == "https://viewer.livery.test/standard"
    assert client.get("/viewer/no-such-brand").status_code == 404


def test_catalogue_changes_change_pages_not_discovery(catalogue_app):
    app = catalogue_app
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    document = client.get(f"/v1/discovery/{seeded.live_code}")
    page = client.get("/viewer")
    operator = make_operator(app)
    entry = operator.get("/integrations/hubspot")
    changed = operator.patch("/integrations/hubspot", {"description": "Changed."}, etag=entry.headers["ETag"])
    assert changed.status_code == 200, changed.json
    assert client.get("/viewer", headers={"If-None-Match": page.headers["ETag"]}).status_code == 200
    again = client.get(f"/v1/discovery/{seeded.live_code}", headers={"If-None-Match": document.headers["ETag"]})
    assert again.status_code == 304


def test_default_standard_viewer_is_this_service(make_app):
    app = make_app(standard_viewer_url="")
    partner_id = factories.make_partner(app, "bee")
    code = factories.issue(app, factories.make_brand(app, partner_id))
    assert app.test_client().get(f"/v1/discovery/{code}").get_json()["crm_viewer"]["url"] == f"{BASE}/viewer"
