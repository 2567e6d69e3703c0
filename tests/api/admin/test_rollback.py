"""A rolled-back change never goes live again: rename → publish → rollback → unrelated publish.

Through the admin API on each database, as a partner would do it. Before the fix the rollback
left the bad change in the draft, and the next unrelated publish shipped it again.
"""

from __future__ import annotations

import pytest

from tests import images
from tests.api.admin.conftest import make_operator, onboard


@pytest.fixture
def partner(db_app):
    return onboard(make_operator(db_app), "acme")


def _live(client, code: str) -> dict:
    response = client.get(f"/v1/discovery/{code}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _brand(admin, draft: dict) -> tuple[int, str, str]:
    created = admin.post("/brands", {"name": "Acme", "draft": draft})
    assert created.status_code == 201, created.json
    brand_id = created.json["id"]
    code = admin.post(f"/brands/{brand_id}/access-codes", {"kind": "live"}).json["code"]
    published = admin.post(f"/brands/{brand_id}/publish", etag=created.headers["ETag"])
    assert published.status_code == 201 and published.json["revision"] == 1
    return brand_id, code, published.headers["ETag"]


def _change_and_publish(admin, brand_id: int, etag: str, draft: dict):
    edited = admin.patch(f"/brands/{brand_id}", {"draft": draft}, etag=etag)
    assert edited.status_code == 200, edited.json
    published = admin.post(f"/brands/{brand_id}/publish", etag=edited.headers["ETag"])
    assert published.status_code == 201, published.json
    return published


def test_a_rolled_back_name_never_ships_again(db_app, partner):
    admin, client = partner.admin, db_app.test_client()
    brand_id, code, etag = _brand(admin, {"product_name": "Acme Connect"})

    renamed = _change_and_publish(admin, brand_id, etag, {"product_name": "Acme Connect TYPO"})
    assert renamed.json["changed_fields"] == ["product_name"]
    assert _live(client, code)["product"]["name"] == "Acme Connect TYPO"

    rolled = admin.post(f"/brands/{brand_id}/rollback", {"revision": 1}, etag=renamed.headers["ETag"])
    assert rolled.status_code == 201, rolled.json
    assert rolled.json["revision"] == 3 and rolled.json["changed_fields"] == ["product_name"]
    brand = admin.get(f"/brands/{brand_id}").json
    assert brand["draft"]["product_name"] == "Acme Connect" and brand["has_unpublished_changes"] is False
    assert admin.get(f"/brands/{brand_id}/diff").json["changes"] == {}
    # admin API and discovery agree on the revision number
    assert brand["live_revision"] == _live(client, code)["revision"] == 3

    unrelated = _change_and_publish(admin, brand_id, rolled.headers["ETag"], {"splash_seconds": 5})
    assert unrelated.json["changed_fields"] == ["splash_seconds"]
    document = _live(client, code)
    assert document["product"]["name"] == "Acme Connect"
    assert document["revision"] == unrelated.json["revision"] == 4


def test_a_rolled_back_ci_c_switch_never_ships_again(db_app, partner):
    admin, client = partner.admin, db_app.test_client()
    brand_id, code, etag = _brand(admin, {"product_name": "Acme Connect"})
    logo = partner.admin.upload("viewer_logo", images.png(200, 60), "logo.png")
    assert logo.status_code == 201, logo.json
    ci_c = {
        "product_name": "Acme Viewer Edition",
        "branding_level": "CI-C",
        "viewer_name": "Acme Viewer",
        "viewer_logo": logo.json["sha256"],
        "viewer_primary_color": "#112233",
    }
    switched = _change_and_publish(admin, brand_id, etag, ci_c)
    assert set(switched.json["changed_fields"]) == set(ci_c)
    assert _live(client, code)["crm_viewer"]["kind"] == "branded"

    rolled = admin.post(f"/brands/{brand_id}/rollback", {"revision": 1}, etag=switched.headers["ETag"])
    assert rolled.status_code == 201, rolled.json
    assert set(rolled.json["changed_fields"]) == set(ci_c)
    assert admin.get(f"/brands/{brand_id}").json["draft"]["branding_level"] == "CI-B"

    _change_and_publish(admin, brand_id, rolled.headers["ETag"], {"splash_seconds": 5})
    document = _live(client, code)
    assert document["crm_viewer"]["kind"] != "branded"
    assert document["product"]["name"] == "Acme Connect"


def test_rolling_back_to_the_live_content_still_resets_the_draft(db_app, partner):
    admin = partner.admin
    brand_id, _code, etag = _brand(admin, {"product_name": "Acme Connect"})
    edited = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "Half-done"}}, etag=etag)
    same = admin.post(f"/brands/{brand_id}/rollback", {"revision": 1}, etag=edited.headers["ETag"])
    assert same.status_code == 200 and same.json["created"] is False and same.json["changed_fields"] == []
    assert admin.get(f"/brands/{brand_id}").json["draft"]["product_name"] == "Acme Connect"
    events = admin.get(f"/audit-events?action=brand.rollback&resource_id={brand_id}").json["items"]
    assert [(e["before"]["draft"]["product_name"], e["after"]["draft"]["product_name"]) for e in events] == [
        ("Half-done", "Acme Connect")
    ]
