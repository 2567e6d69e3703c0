"""The whole life of a brand through HTTP: from an operator key to what a client sees."""

from __future__ import annotations

from tests import images
from tests.api.admin.conftest import onboard

IMAGES = {
    "tray_icon": (images.ico(32), "tray.ico"),
    "app_icon_windows": (images.ico(256), "app.ico"),
    "app_icon_macos": (images.icns(), "app.icns"),
    "splash": (images.png(640, 360), "splash.png"),
    "viewer_logo": (images.png(200, 60), "logo.png"),
}


def discovery(client, code: str, etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    return client.get(f"/v1/discovery/{code}", headers=headers)


def test_from_nothing_to_a_published_ci_c_brand_a_client_sees(app, operator):
    partner = onboard(operator, "acme")
    admin, client = partner.admin, app.test_client()

    shas = {}
    for role, (data, filename) in IMAGES.items():
        response = admin.upload(role, data, filename)
        assert response.status_code == 201, response.json
        shas[role] = response.json["sha256"]
    again = admin.upload("tray_icon", *IMAGES["tray_icon"])
    assert again.status_code == 200 and again.json["created"] is False  # de-duplicated

    fields = {
        "product_name": "Acme Connect",
        "short_name": "Acme",
        "publisher": "Acme Ltd",
        "branding_level": "CI-C",
        "support_url": "https://acme.example/support",
        "viewer_name": "Acme Viewer",
        "viewer_primary_color": "#112233",
        **shas,
    }
    created = admin.post("/brands", {"name": "Acme Connect", "draft": fields})
    assert created.status_code == 201, created.json
    brand = created.json
    assert brand["live_revision"] is None and brand["has_unpublished_changes"] is True
    assert brand["install_folder"] == "Partner CRM"
    brand_id, etag = brand["id"], created.headers["ETag"]

    live = admin.post(f"/brands/{brand_id}/access-codes", {"kind": "live", "label": "production"})
    test = admin.post(f"/brands/{brand_id}/access-codes", {"kind": "test", "label": "dev build"})
    assert live.status_code == test.status_code == 201
    live_code, test_code = live.json["code"], test.json["code"]
    assert live.json["discovery_url"] == f"http://livery.test/v1/discovery/{live_code}"
    listed = admin.get(f"/access-codes?brand_id={brand_id}").json["items"]
    assert {c["prefix"] for c in listed} == {live_code[:5], test_code[:5]}
    assert all("code" not in c for c in listed)

    assert discovery(client, live_code).status_code == 404  # nothing published yet
    assert discovery(client, test_code).get_json()["product"]["name"] == "Acme Connect"

    published = admin.post(f"/brands/{brand_id}/publish", etag=etag)
    assert published.status_code == 201, published.json
    assert published.json["revision"] == 1 and published.json["created"] is True
    etag = published.headers["ETag"]
    first = discovery(client, live_code)
    assert first.status_code == 200
    first_doc, first_etag = first.get_json(), first.headers["ETag"]
    assert first_doc["revision"] == 1
    assert first_doc["crm_viewer"]["kind"] == "branded"
    assert first_doc["assets"]["splash"]["sha256"] == shas["splash"]
    assert discovery(client, live_code, first_etag).status_code == 304

    edited = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "Acme Connect 2"}}, etag=etag)
    assert edited.status_code == 200, edited.json
    assert edited.json["has_unpublished_changes"] is True and edited.json["live_revision"] == 1
    etag = edited.headers["ETag"]
    # the test code sees the draft at once; the live code sees nothing new until publish
    assert discovery(client, test_code).get_json()["product"]["name"] == "Acme Connect 2"
    assert discovery(client, live_code, first_etag).status_code == 304
    diff = admin.get(f"/brands/{brand_id}/diff").json
    assert diff == {"live_revision": 1, "changes": {"product_name": {"from": "Acme Connect", "to": "Acme Connect 2"}}}

    published = admin.post(f"/brands/{brand_id}/publish", etag=etag)
    assert published.json["revision"] == 2 and published.json["created"] is True
    etag = published.headers["ETag"]
    second = discovery(client, live_code, first_etag)
    assert second.status_code == 200
    assert second.get_json()["product"]["name"] == "Acme Connect 2"
    assert second.headers["ETag"] != first_etag

    same = admin.post(f"/brands/{brand_id}/publish", etag=etag)
    assert same.status_code == 200
    assert same.json == {
        "revision": 2,
        "created": False,
        "changed_fields": [],
        "message": "Identical to revision 2; nothing published.",
        "etag": etag,
    }

    rolled = admin.post(f"/brands/{brand_id}/rollback", {"revision": 1}, etag=etag)
    assert rolled.status_code == 201, rolled.json
    assert rolled.json["revision"] == 3 and rolled.json["changed_fields"] == ["product_name"]
    # one meaning of revision: discovery shows the live revision's number, 3, with revision 1's content
    restored = discovery(client, live_code)
    assert restored.get_json() == {**first_doc, "revision": 3}
    assert restored.headers["ETag"] != first_etag

    revisions = admin.get(f"/brands/{brand_id}/revisions").json["items"]
    assert [(r["number"], r["rollback_of"]) for r in revisions] == [(1, None), (2, None), (3, 1)]
    assert all("content_revision" not in r for r in revisions)
    assert admin.get(f"/brands/{brand_id}/revisions/3").json["content"]["product_name"] == "Acme Connect"
    # history is kept; the draft follows the rollback, so nothing unpublished is left behind
    brand = admin.get(f"/brands/{brand_id}").json
    assert brand["live_revision"] == 3 and brand["draft"]["product_name"] == "Acme Connect"
    assert brand["has_unpublished_changes"] is False


def test_revoke_and_rotate_codes(app, operator):
    partner = onboard(operator, "acme")
    admin, client = partner.admin, app.test_client()
    brand = admin.post("/brands", {"name": "B", "draft": {"product_name": "P"}})
    admin.post(f"/brands/{brand.json['id']}/publish", etag=brand.headers["ETag"])
    issued = admin.post(f"/brands/{brand.json['id']}/access-codes", {"kind": "live"}).json

    rotated = admin.post(
        f"/access-codes/{issued['id']}/rotate", {"old_valid_until": "2099-01-01T00:00:00Z"}, etag=issued["etag"]
    )
    assert rotated.status_code == 201, rotated.json
    assert discovery(client, rotated.json["code"]).status_code == 200
    assert discovery(client, issued["code"]).status_code == 200  # still valid until the given time
    old = admin.get(f"/access-codes/{issued['id']}")
    assert old.json["replaced_by_id"] == rotated.json["id"]
    assert old.json["expires_at"].startswith("2099-01-01")

    revoked = admin.post(f"/access-codes/{issued['id']}/revoke", etag=old.headers["ETag"])
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert discovery(client, issued["code"]).status_code == 410
    again = admin.post(f"/access-codes/{issued['id']}/revoke", etag=revoked.headers["ETag"])
    assert again.status_code == 409 and again.json["code"] == "already_revoked"


def test_code_options_and_their_rules(app, partner_a):
    admin, client = partner_a.admin, app.test_client()
    brand = admin.post("/brands", {"name": "B"}).json
    beta = admin.post(f"/brands/{brand['id']}/access-codes", {"kind": "test", "channel": "beta", "label": "QA"})
    assert beta.status_code == 201 and beta.json["channel"] == "beta"
    assert discovery(client, beta.json["code"]).get_json()["upgrade"]["channel"] == "beta"

    for body, field in [
        ({"kind": "staging"}, "kind"),
        ({"kind": "live", "channel": "Beta!"}, "channel"),
        ({"kind": "live", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"kind": "live", "expires_at": "2099-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"kind": "live", "label": "x" * 201}, "label"),
    ]:
        response = admin.post(f"/brands/{brand['id']}/access-codes", body)
        assert response.status_code == 422, body
        assert field in response.json["errors"], response.json
    assert len(admin.get("/access-codes").json["items"]) == 1
