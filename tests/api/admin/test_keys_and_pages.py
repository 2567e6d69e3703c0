"""Authentication, roles, API keys and the one pagination scheme of every list."""

from __future__ import annotations

import pytest

from tests import images
from tests.api.admin.conftest import Caller

LISTS = ["/partners", "/api-keys", "/brands", "/assets", "/access-codes", "/audit-events"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer lvk_nope", "Basic dXNlcjpwYXNz", "lvk_raw"])
def test_missing_or_invalid_key_is_401_problem(app, header):
    headers = {"Authorization": header} if header else {}
    for path in ["/partners", "/brands/1", "/settings", "/audit-events"]:
        response = app.test_client().get("/admin/v1" + path, headers=headers)
        assert response.status_code == 401, path
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_keys_are_shown_once_used_time_recorded_and_revocable(operator, partner_a):
    admin = partner_a.admin
    created = admin.post("/api-keys", {"role": "viewer", "label": "ci"})
    assert created.status_code == 201
    key = created.json["key"]
    listed = admin.get("/api-keys").json["items"]
    assert all("key" not in k and "digest" not in k for k in listed)
    assert key.startswith(listed[-1]["prefix"])
    assert listed[-1]["last_used_at"] is None

    reader = Caller(admin.client, key)
    assert reader.get("/brands").status_code == 200
    assert admin.get(f"/api-keys/{created.json['id']}").json["last_used_at"] is not None

    revoked = admin.delete(f"/api-keys/{created.json['id']}", etag=created.headers["ETag"])
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert reader.get("/brands").status_code == 401


def test_viewer_reads_but_cannot_write(partner_a):
    viewer = partner_a.viewer
    assert viewer.get("/brands").status_code == 200
    response = viewer.post("/brands", {"name": "B"})
    assert response.status_code == 403 and response.json["code"] == "insufficient_role"
    assert viewer.post("/api-keys", {"role": "admin"}).status_code == 403
    brand = partner_a.admin.post("/brands", {"name": "B"})
    patched = viewer.patch(f"/brands/{brand.json['id']}", {"name": "C"}, etag=brand.headers["ETag"])
    assert patched.status_code == 403


def test_partner_keys_cannot_do_operator_things(partner_a):
    admin = partner_a.admin
    assert admin.get("/partners").status_code == 403
    assert admin.post("/partners", {"slug": "x1", "name": "X"}).status_code == 403
    assert admin.get("/settings").status_code == 403
    assert admin.post("/api-keys", {"role": "operator"}).status_code == 403
    own = admin.get(f"/partners/{partner_a.id}")
    assert own.status_code == 200 and own.json["status"] == "live"
    assert (
        admin.patch(f"/partners/{partner_a.id}", {"status": "suspended"}, etag=own.headers["ETag"]).status_code == 403
    )


def test_a_suspended_partner_reads_but_changes_nothing_until_live_again(operator, partner_a):
    admin = partner_a.admin
    brand = admin.post("/brands", {"name": "Main", "draft": {"product_name": "Alpha Connect"}})
    assert brand.status_code == 201, brand.json
    partner = operator.get(f"/partners/{partner_a.id}")
    suspended = operator.patch(f"/partners/{partner_a.id}", {"status": "suspended"}, etag=partner.headers["ETag"])
    assert suspended.status_code == 200

    path = f"/brands/{brand.json['id']}"
    assert admin.get(path).status_code == 200 and partner_a.viewer.get("/audit-events").status_code == 200
    writes = [
        admin.patch(path, {"draft": {"product_name": "Renamed"}}, etag=brand.headers["ETag"]),
        admin.post(f"{path}/publish", etag=brand.headers["ETag"]),
        admin.post("/brands", {"name": "Another"}),
        admin.post("/api-keys", {"role": "admin", "label": "sneaky"}),
    ]
    for response in writes:
        assert response.status_code == 403, response.json
        assert response.mimetype == "application/problem+json" and response.json["code"] == "partner_suspended"
    assert admin.get(path).json["draft"]["product_name"] == "Alpha Connect"
    assert [b["name"] for b in admin.get("/brands").json["items"]] == ["Main"]

    # the operator still acts for the partner, and lifting the suspension gives the keys back
    assert operator.post("/brands", {"name": "By operator", "partner_id": partner_a.id}).status_code == 201
    live = operator.patch(f"/partners/{partner_a.id}", {"status": "live"}, etag=suspended.headers["ETag"])
    assert live.status_code == 200
    current = admin.get(path)
    renamed = admin.patch(path, {"draft": {"product_name": "Renamed"}}, etag=current.headers["ETag"])
    assert renamed.status_code == 200, renamed.json


def test_operator_must_name_the_partner_for_creates(operator, partner_a):
    response = operator.post("/brands", {"name": "B"})
    assert response.status_code == 422 and "partner_id" in response.json["errors"]
    assert operator.post("/brands", {"name": "B", "partner_id": 999999}).status_code == 404
    assert operator.post("/brands", {"name": "B", "partner_id": partner_a.id}).status_code == 201


def test_partner_lifecycle_and_settings(operator, partner_a):
    partner = operator.get(f"/partners/{partner_a.id}")
    suspended = operator.patch(f"/partners/{partner_a.id}", {"status": "suspended"}, etag=partner.headers["ETag"])
    assert suspended.json["status"] == "suspended"
    back = operator.patch(f"/partners/{partner_a.id}", {"status": "onboarding"}, etag=suspended.headers["ETag"])
    assert back.status_code == 422 and "status" in back.json["errors"]
    duplicate = operator.post("/partners", {"slug": "alpha", "name": "Again"})
    assert duplicate.status_code == 409

    settings = operator.get("/settings")
    bad = operator.put("/settings", {"standard_viewer_url": "http://viewer.example"}, etag=settings.headers["ETag"])
    assert bad.status_code == 422 and "standard_viewer_url" in bad.json["errors"]
    good = operator.put(
        "/settings", {"standard_viewer_url": "https://viewer.example/v2"}, etag=settings.headers["ETag"]
    )
    assert good.status_code == 200 and good.json["standard_viewer_url"] == "https://viewer.example/v2"
    assert operator.get("/settings").headers["ETag"] == good.headers["ETag"] != settings.headers["ETag"]


@pytest.mark.parametrize("path", LISTS)
def test_every_list_pages_the_same_way(operator, partner_a, path):
    admin = partner_a.admin
    for n in range(5):
        brand = admin.post("/brands", {"name": f"B{n}"})
        admin.post(f"/brands/{brand.json['id']}/access-codes", {"kind": "test"})
        admin.post("/api-keys", {"role": "viewer", "label": f"k{n}"})
        admin.upload("splash", images.png(640, 360, color=(n, n, n, 255)), "s.png")
        operator.post("/partners", {"slug": f"extra-{n}", "name": "X"})
    caller = operator if path == "/partners" else admin
    everything = caller.get(path + "?limit=200").json
    assert everything["next_cursor"] is None
    assert len(everything["items"]) >= 5

    seen, cursor = [], None
    while True:
        page = caller.get(path + "?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        assert set(page) == {"items", "next_cursor"} and len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [item["id"] for item in seen]
    assert ids == [item["id"] for item in everything["items"]]
    assert ids == sorted(ids)


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=garbage!", "cursor=eyJhZnRlciI6ICJ4In0"])
def test_bad_page_parameters_are_422(partner_a, query):
    response = partner_a.admin.get(f"/brands?{query}")
    assert response.status_code == 422
    assert set(response.json["errors"]) <= {"limit", "cursor"}


def test_answers_carrying_a_secret_are_never_stored(operator, partner_a):
    admin = partner_a.admin
    key = admin.post("/api-keys", {"role": "viewer", "label": "ci"})
    brand = admin.post("/brands", {"name": "Acme"})
    code = admin.post(f"/brands/{brand.json['id']}/access-codes", {"kind": "live"})
    rotated = admin.post(
        f"/access-codes/{code.json['id']}/rotate", {"old_valid_until": "2099-01-01T00:00Z"}, etag=code.headers["ETag"]
    )
    assert (key.status_code, code.status_code, rotated.status_code) == (201, 201, 201), rotated.json
    assert "key" in key.json and "code" in code.json and "code" in rotated.json
    for response in (key, code, rotated, admin.get("/api-keys"), admin.get("/nothing-here")):
        assert response.headers["Cache-Control"] == "no-store"
