"""The brand rules answer 422 with the offending field named and a message saying what to fix."""

from __future__ import annotations

import pytest

from tests import images

RULES = {
    "viewer settings on CI-B": ({"branding_level": "CI-B", "viewer_name": "V"}, "viewer_name", "CI-C"),
    "viewer colour on CI-B": ({"viewer_primary_color": "#112233"}, "viewer_primary_color", "CI-C"),
    "install folder": ({"install_folder": "Acme"}, "install_folder", "Partner CRM"),
    "empty product name": ({"product_name": ""}, "product_name", "empty"),
    "over-long product name": ({"product_name": "x" * 81}, "product_name", "80"),
    "control character": ({"product_name": "Acme\u0007Bell"}, "product_name", "control"),
    "invisible formatting character": ({"product_name": "Acme\u202eCRM"}, "product_name", "control"),
    "http support url": ({"support_url": "http://acme.example/help"}, "support_url", "https"),
    "javascript url": ({"eula_url": "javascript:alert(1)"}, "eula_url", "https"),
    "http viewer url": ({"branding_level": "CI-C", "viewer_url": "http://v.example"}, "viewer_url", "https"),
    "splash too short": ({"splash_seconds": 0}, "splash_seconds", "1"),
    "splash too long": ({"splash_seconds": 3600}, "splash_seconds", "15"),
    "splash not a number": ({"splash_seconds": "3"}, "splash_seconds", "integer"),
    "unknown field": ({"colour": "red"}, "colour", "Unknown"),
    "asset never uploaded": ({"tray_icon": "a" * 64}, "tray_icon", "upload"),
    "bad branding level": ({"branding_level": "CI-Z"}, "branding_level", "CI-B"),
}


@pytest.mark.parametrize("case", list(RULES.values()), ids=list(RULES))
def test_create_refuses_rule_breaks_with_field_errors(partner_a, case):
    fields, field, hint = case
    response = partner_a.admin.post("/brands", {"name": "B", "draft": fields})
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    messages = response.json["errors"]["draft"][field]
    assert any(hint.lower() in m.lower() for m in messages), messages
    assert f"draft.{field}" in response.json["detail"]
    assert partner_a.admin.get("/brands").json["items"] == []


@pytest.mark.parametrize("case", list(RULES.values()), ids=list(RULES))
def test_patch_refuses_rule_breaks_and_keeps_the_draft(partner_a, case):
    fields, field, _hint = case
    created = partner_a.admin.post("/brands", {"name": "B", "draft": {"product_name": "Fine"}})
    brand_id, etag = created.json["id"], created.headers["ETag"]
    response = partner_a.admin.patch(f"/brands/{brand_id}", {"draft": fields}, etag=etag)
    assert response.status_code == 422
    assert field in response.json["errors"]["draft"]
    after = partner_a.admin.get(f"/brands/{brand_id}")
    assert after.json["draft"] == created.json["draft"] and after.headers["ETag"] == etag


def test_ci_c_brand_accepts_viewer_settings(partner_a):
    sha = partner_a.admin.upload("viewer_logo", images.png(200, 60), "logo.png").json["sha256"]
    draft = {"branding_level": "CI-C", "viewer_name": "V", "viewer_logo": sha, "viewer_url": "https://v.example"}
    assert partner_a.admin.post("/brands", {"name": "B", "draft": draft}).status_code == 201


def test_malformed_json_and_wrong_types_are_4xx_problems(partner_a):
    admin = partner_a.admin
    broken = admin.client.post(
        "/admin/v1/brands",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin.key}"},
    )
    assert broken.status_code in (400, 422) and broken.mimetype == "application/problem+json"
    assert admin.post("/brands", {"name": 5}).status_code == 422
    assert admin.post("/brands", {"name": "B", "draft": "nope"}).status_code == 422
    assert admin.post("/brands", []).status_code == 422


def test_upload_over_the_configured_limit_is_413(make_app):
    from tests.api.admin.conftest import make_operator, onboard

    app = make_app(max_asset_bytes=4000)
    admin = onboard(make_operator(app), "acme").admin
    response = admin.upload("splash", images.png(640, 360, color=(1, 2, 3, 255)) + b"\0" * 4000, "s.png")
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert list(app.extensions["livery.stores"].assets.keys()) == []


def test_oversized_json_body_is_413(partner_a):
    response = partner_a.admin.post("/brands", {"name": "B", "draft": {"publisher": "x" * (2 * 1024 * 1024)}})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert partner_a.admin.get("/brands").json["items"] == []
