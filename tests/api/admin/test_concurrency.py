"""ETags on reads; If-Match on writes: 428 without it, 412 when stale, and never a lost update."""

from __future__ import annotations

import threading

import pytest

from app import create_app, migrate
from app.api.admin import brands
from app.branding.services import update_draft
from app.config import Settings
from tests import services
from tests.api.admin.conftest import make_operator, onboard


def new_brand(admin):
    response = admin.post("/brands", {"name": "B", "draft": {"product_name": "P"}})
    assert response.status_code == 201
    return response.json["id"], response.headers["ETag"]


def test_a_second_update_with_the_first_ones_if_match_is_412(partner_a):
    admin = partner_a.admin
    brand_id, etag = new_brand(admin)

    first = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "First"}}, etag=etag)
    second = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "Second"}}, etag=etag)

    assert sorted([first.status_code, second.status_code]) == [200, 412]
    assert second.json["code"] == "precondition_failed"
    assert admin.get(f"/brands/{brand_id}").json["draft"]["product_name"] == "First"


def test_writes_without_if_match_are_428_and_change_nothing(operator, partner_a):
    admin = partner_a.admin
    brand_id, _ = new_brand(admin)
    code = admin.post(f"/brands/{brand_id}/access-codes", {"kind": "test"}).json
    key_id = admin.get("/api-keys").json["items"][0]["id"]
    writes = [
        admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "X"}}),
        admin.post(f"/brands/{brand_id}/publish"),
        admin.post(f"/brands/{brand_id}/rollback", {"revision": 1}),
        admin.post(f"/access-codes/{code['id']}/revoke"),
        admin.post(f"/access-codes/{code['id']}/rotate", {"old_valid_until": "2099-01-01T00:00:00Z"}),
        admin.delete(f"/api-keys/{key_id}"),
        operator.patch(f"/partners/{partner_a.id}", {"status": "suspended"}),
        operator.put("/settings", {"standard_viewer_url": "https://viewer.example/x"}),
    ]
    assert [w.status_code for w in writes] == [428] * len(writes)
    assert all(w.mimetype == "application/problem+json" for w in writes)
    brand = admin.get(f"/brands/{brand_id}").json
    assert brand["draft"]["product_name"] == "P" and brand["live_revision"] is None


def test_every_read_of_a_mutable_resource_has_the_etag_it_reports(operator, partner_a):
    admin = partner_a.admin
    brand_id, etag = new_brand(admin)
    code = admin.post(f"/brands/{brand_id}/access-codes", {"kind": "test"}).json
    key_id = admin.get("/api-keys").json["items"][0]["id"]
    for caller, path in [
        (admin, f"/brands/{brand_id}"),
        (admin, f"/access-codes/{code['id']}"),
        (admin, f"/api-keys/{key_id}"),
        (operator, f"/partners/{partner_a.id}"),
        (operator, "/settings"),
    ]:
        response = caller.get(path)
        assert response.status_code == 200, path
        assert response.headers["ETag"] == response.json["etag"], path
    assert admin.get(f"/brands/{brand_id}").headers["ETag"] == etag


def test_stale_etag_after_publish_is_412(partner_a):
    admin = partner_a.admin
    brand_id, etag = new_brand(admin)
    assert admin.post(f"/brands/{brand_id}/publish", etag=etag).status_code == 201
    stale = admin.patch(f"/brands/{brand_id}", {"draft": {"product_name": "Late"}}, etag=etag)
    assert stale.status_code == 412


@pytest.mark.postgres
def test_concurrent_updates_on_postgres_lose_nothing(tmp_path, monkeypatch):
    """Threads on their own connections, one If-Match: the version column lets exactly one win.

    A barrier holds every request after its If-Match check, so all of them pass it with the
    same ETag and only the database's version check can stop the lost update. Runs on a
    database of its own: the shared test database rolls each test back on one connection,
    which concurrent requests cannot share.
    """
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = services.create_pg_database("livery_race")
    migrate.upgrade(url)
    app = create_app(Settings(database_url=url, static_brands_dir=str(tmp_path / "assets")))
    try:
        admin = onboard(make_operator(app), "race").admin
        brand_id, etag = new_brand(admin)
        barrier = threading.Barrier(4)
        results: list[int] = []

        def update_after_everyone_checked(*args, **kwargs):
            barrier.wait(10)
            return update_draft(*args, **kwargs)

        monkeypatch.setattr(brands, "update_draft", update_after_everyone_checked)

        def patch(name: str) -> None:
            client = app.test_client()
            response = client.patch(
                f"/admin/v1/brands/{brand_id}",
                json={"draft": {"product_name": name}},
                headers={"Authorization": f"Bearer {admin.key}", "If-Match": etag},
            )
            results.append(response.status_code)

        threads = [threading.Thread(target=patch, args=(f"Writer {n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [200, 412, 412, 412]
        events = admin.get(f"/audit-events?resource_type=brand&resource_id={brand_id}&action=brand.update_draft")
        assert len(events.json["items"]) == 1
    finally:
        app.extensions["livery.engine"].dispose()
        services.drop_pg_database(url)
