"""Every write leaves an audit event naming the actor, the action and the state before and after."""

from __future__ import annotations

from tests import images
from tests.api.admin.conftest import onboard


def events(caller, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return caller.get(f"/audit-events?limit=200&{query}").json["items"]


def test_every_write_is_audited_with_before_and_after(operator):
    partner = onboard(operator, "acme")
    admin = partner.admin
    sha = admin.upload("tray_icon", images.ico(32), "tray.ico").json["sha256"]
    brand = admin.post("/brands", {"name": "B", "draft": {"product_name": "One", "tray_icon": sha}})
    brand_id = brand.json["id"]
    edited = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "Two"}}, etag=brand.headers["ETag"])
    published = admin.post(f"/brands/{brand_id}/publish", etag=edited.headers["ETag"])
    edited = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "Three"}}, etag=published.headers["ETag"])
    published = admin.post(f"/brands/{brand_id}/publish", etag=edited.headers["ETag"])
    admin.post(f"/brands/{brand_id}/rollback", {"revision": 1}, etag=published.headers["ETag"])
    code = admin.post(f"/brands/{brand_id}/access-codes", {"kind": "live"}).json
    rotated = admin.post(
        f"/access-codes/{code['id']}/rotate", {"old_valid_until": "2099-01-01T00:00Z"}, etag=code["etag"]
    )
    admin.post(f"/access-codes/{rotated.json['id']}/revoke", etag=rotated.json["etag"])
    viewer_key = admin.get("/api-keys").json["items"][1]
    admin.delete(f"/api-keys/{viewer_key['id']}", etag=viewer_key["etag"])
    settings = operator.get("/settings")
    operator.put("/settings", {"standard_viewer_url": "https://viewer.example/v2"}, etag=settings.headers["ETag"])

    seen = events(operator)
    actions = [e["action"] for e in seen]
    for action in (
        "partner.create",
        "partner.set_status",
        "api_key.create",
        "asset.create",
        "brand.create",
        "brand.update_draft",
        "brand.publish",
        "brand.rollback",
        "access_code.issue",
        "access_code.rotate",
        "access_code.revoke",
        "api_key.revoke",
        "settings.update",
    ):
        assert action in actions, action
    for event in seen:
        assert event["actor"] and event["created_at"] and event["resource_id"]
        assert event["after"] is not None, event["action"]
        if event["action"].endswith(
            ("update_draft", "publish", "rollback", "revoke", "rotate", "set_status", "update")
        ):
            assert event["before"] is not None, event["action"]

    update = events(admin, action="brand.update_draft", resource_id=brand_id)[0]
    assert update["before"]["draft"]["product_name"] == "One"
    assert update["after"]["draft"]["product_name"] == "Two"
    assert update["actor"].startswith(f"partner:{partner.id}/admin-key:")
    assert update["partner_id"] == partner.id
    assert events(operator, action="settings.update")[0]["actor"].startswith("operator-key:")


def test_failed_writes_leave_no_event(partner_a):
    admin = partner_a.admin
    before = len(events(admin))
    assert admin.post("/brands", {"name": "B", "draft": {"install_folder": "X"}}).status_code == 422
    assert admin.upload("splash", b"not an image", "s.png").status_code == 422
    assert len(events(admin)) == before


def test_audit_filters(operator, partner_a, partner_b):
    partner_a.admin.post("/brands", {"name": "A"})
    partner_b.admin.post("/brands", {"name": "B"})
    assert {e["partner_id"] for e in events(partner_a.admin)} == {partner_a.id}
    assert len(events(operator, action="brand.create")) == 2
    assert len(events(operator, action="brand.create", partner_id=partner_b.id)) == 1
    assert events(operator, since="2999-01-01T00:00:00Z") == []
    assert len(events(operator, until="2999-01-01T00:00:00Z")) == len(events(operator))
    assert operator.get("/audit-events?since=yesterday").status_code == 422
