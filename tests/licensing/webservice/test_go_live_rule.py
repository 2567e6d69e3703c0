"""The rule: a brand's licensing method becomes ``web_service`` only after a passed verification."""

from __future__ import annotations

from tests.api.admin.conftest import onboard


def _brand(admin, method: str) -> tuple[int, str]:
    response = admin.post("/brands", {"name": "B", "draft": {"product_name": "P", "licensing_method": method}})
    assert response.status_code == 201, response.json
    return response.json["id"], response.headers["ETag"]


def _publish(admin, brand_id: int):
    etag = admin.get(f"/brands/{brand_id}").headers["ETag"]
    return admin.post(f"/brands/{brand_id}/publish", etag=etag)


def _edit(admin, brand_id: int, **draft):
    etag = admin.get(f"/brands/{brand_id}").headers["ETag"]
    response = admin.patch(f"/brands/{brand_id}", {"draft": draft}, etag=etag)
    assert response.status_code == 200, response.json


def _verify(partner, body_user="alice@example.com"):
    return partner.admin.post(f"/partners/{partner.id}/licensing/verify", {"known_user_id": body_user}).json


def test_publishing_web_service_needs_a_passed_verification(verify_app, operator, configure, partner):
    acme = onboard(operator, "acme")
    brand_id, _ = _brand(acme.admin, "web_service")
    refused = _publish(acme.admin, brand_id)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.json["code"] == "licensing_not_verified"
    assert f"/partners/{acme.id}/licensing/verify" in refused.json["detail"]
    assert acme.admin.get(f"/brands/{brand_id}").json["live_revision"] is None
    configure(acme.id, partner.url_template)
    partner.mode = "garbage"
    assert _verify(acme)["passed"] is False
    assert _publish(acme.admin, brand_id).status_code == 409
    partner.mode = "ok"
    assert _verify(acme)["passed"] is True
    assert _publish(acme.admin, brand_id).status_code == 201


def test_switching_a_live_brand_to_web_service_and_rolling_back_to_it(verify_app, operator, configure, partner):
    acme = onboard(operator, "acme")
    configure(acme.id, partner.url_template)
    brand_id, _ = _brand(acme.admin, "portal")
    assert _publish(acme.admin, brand_id).status_code == 201  # revision 1: portal
    _edit(acme.admin, brand_id, licensing_method="web_service")
    assert _publish(acme.admin, brand_id).status_code == 409
    assert _verify(acme)["passed"] is True
    assert _publish(acme.admin, brand_id).status_code == 201  # revision 2: web_service
    partner.mode = "error"
    assert _verify(acme)["passed"] is False
    # already on web_service: other changes still publish (the method is not being activated)
    _edit(acme.admin, brand_id, product_name="Renamed")
    assert _publish(acme.admin, brand_id).status_code == 201  # revision 3
    _edit(acme.admin, brand_id, licensing_method="portal")
    assert _publish(acme.admin, brand_id).status_code == 201  # revision 4: portal again
    etag = acme.admin.get(f"/brands/{brand_id}").headers["ETag"]
    refused = acme.admin.post(f"/brands/{brand_id}/rollback", {"revision": 2}, etag=etag)
    assert refused.status_code == 409 and refused.json["code"] == "licensing_not_verified"


def test_other_methods_publish_without_verification(verify_app, operator):
    acme = onboard(operator, "acme")
    for method in ("portal", "proprietary"):
        brand_id, _ = _brand(acme.admin, method)
        assert _publish(acme.admin, brand_id).status_code == 201
