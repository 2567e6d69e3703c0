"""Isolation: partner B's keys on partner A's resources answer 404, exactly like a missing id,
and change nothing. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from tests import images
from tests.api.admin.conftest import Caller, Partner, make_operator, onboard


@dataclass
class World:
    operator: Caller
    a: Partner
    b: Partner
    ids: dict


@pytest.fixture
def world(db_app) -> World:
    operator = make_operator(db_app)
    a, b = onboard(operator, "alpha"), onboard(operator, "bravo")
    sha = a.admin.upload("tray_icon", images.ico(32), "tray.ico").json["sha256"]
    brand = a.admin.post("/brands", {"name": "A", "draft": {"product_name": "Alpha", "tray_icon": sha}})
    published = a.admin.post(f"/brands/{brand.json['id']}/publish", etag=brand.headers["ETag"])
    code = a.admin.post(f"/brands/{brand.json['id']}/access-codes", {"kind": "live"}).json
    key = a.admin.get("/api-keys").json["items"][0]
    ids = {
        "partner": a.id,
        "brand": brand.json["id"],
        "brand_etag": published.headers["ETag"],
        "sha": sha,
        "code": code["id"],
        "code_etag": code["etag"],
        "key": key["id"],
        "key_etag": key["etag"],
    }
    return World(operator, a, b, ids)


def _upload(caller: Caller, partner_id: int):
    body = {"role": "splash", "partner_id": str(partner_id), "file": (io.BytesIO(images.png(640, 360)), "s.png")}
    return caller.client.post(
        "/admin/v1/assets", data=body, content_type="multipart/form-data", headers=caller._headers(None, None)
    )


# (name, call(caller, ids)) — every admin endpoint that can touch partner A's resources
CALLS = {
    "get partner": lambda c, i: c.get(f"/partners/{i['partner']}"),
    "patch partner": lambda c, i: c.patch(f"/partners/{i['partner']}", {"status": "suspended"}, etag="*"),
    "create key for A": lambda c, i: c.post("/api-keys", {"role": "admin", "partner_id": i["partner"]}),
    "list A's keys": lambda c, i: c.get(f"/api-keys?partner_id={i['partner']}"),
    "get key": lambda c, i: c.get(f"/api-keys/{i['key']}"),
    "revoke key": lambda c, i: c.delete(f"/api-keys/{i['key']}", etag=i["key_etag"]),
    "create brand for A": lambda c, i: c.post("/brands", {"name": "X", "partner_id": i["partner"]}),
    "list A's brands": lambda c, i: c.get(f"/brands?partner_id={i['partner']}"),
    "get brand": lambda c, i: c.get(f"/brands/{i['brand']}"),
    "patch brand": lambda c, i: c.patch(
        f"/brands/{i['brand']}", {"draft": {"product_name": "Pwned"}}, etag=i["brand_etag"]
    ),
    "publish": lambda c, i: c.post(f"/brands/{i['brand']}/publish", etag=i["brand_etag"]),
    "rollback": lambda c, i: c.post(f"/brands/{i['brand']}/rollback", {"revision": 1}, etag=i["brand_etag"]),
    "diff": lambda c, i: c.get(f"/brands/{i['brand']}/diff"),
    "list revisions": lambda c, i: c.get(f"/brands/{i['brand']}/revisions"),
    "get revision": lambda c, i: c.get(f"/brands/{i['brand']}/revisions/1"),
    "upload for A": lambda c, i: _upload(c, i["partner"]),
    "list A's assets": lambda c, i: c.get(f"/assets?partner_id={i['partner']}"),
    "get asset": lambda c, i: c.get(f"/assets/{i['sha']}"),
    "issue code": lambda c, i: c.post(f"/brands/{i['brand']}/access-codes", {"kind": "live"}),
    "list codes of A's brand": lambda c, i: c.get(f"/access-codes?brand_id={i['brand']}"),
    "list A's codes": lambda c, i: c.get(f"/access-codes?partner_id={i['partner']}"),
    "get code": lambda c, i: c.get(f"/access-codes/{i['code']}"),
    "revoke code": lambda c, i: c.post(f"/access-codes/{i['code']}/revoke", etag=i["code_etag"]),
    "rotate code": lambda c, i: c.post(
        f"/access-codes/{i['code']}/rotate", {"old_valid_until": "2099-01-01T00:00:00Z"}, etag=i["code_etag"]
    ),
    "list A's audit events": lambda c, i: c.get(f"/audit-events?partner_id={i['partner']}"),
}


def snapshot(world: World) -> dict:
    """Everything of partner A's, read with the operator key (whose use touches none of it)."""
    op, pid = world.operator, world.ids["partner"]
    return {
        "partner": op.get(f"/partners/{pid}").json,
        "brands": op.get(f"/brands?partner_id={pid}").json,
        "revisions": op.get(f"/brands/{world.ids['brand']}/revisions").json,
        "codes": op.get(f"/access-codes?partner_id={pid}").json,
        "keys": op.get(f"/api-keys?partner_id={pid}").json,
        "assets": op.get(f"/assets?partner_id={pid}").json,
        "events": op.get(f"/audit-events?partner_id={pid}&limit=200").json,
        "stored": sorted(world.operator.client.application.extensions["livery.stores"].assets.keys()),
    }


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_other_partners_key_gets_404_and_changes_nothing(world, role):
    caller = getattr(world.b, role)
    before = snapshot(world)
    wrong = {}

    for name, call in CALLS.items():
        response = call(caller, world.ids)
        body = response.get_data(as_text=True)
        if response.status_code != 404 or response.mimetype != "application/problem+json" or "alpha" in body:
            wrong[name] = (response.status_code, body[:200])

    assert wrong == {}
    assert snapshot(world) == before


def test_unfiltered_lists_show_only_own_resources(world):
    b = world.b.admin
    for path in ("/brands", "/access-codes", "/assets", "/api-keys", "/audit-events"):
        items = b.get(path).json["items"]
        assert all(item.get("partner_id") == world.b.id for item in items), path
    assert b.get("/brands").json["items"] == []
    assert world.a.admin.get("/brands").json["items"][0]["id"] == world.ids["brand"]
