"""Licensing through the admin API, on SQLite and PostgreSQL: resellers, customers, licensed users
(If-Match, audit, allocation history, search, pages), CSV import, settings and explain, and
partner isolation for every one of these endpoints."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import session
from app.licensing.models import AllocationEvent
from tests.licensing.world import LicensingWorld


@pytest.fixture
def world(db_app) -> LicensingWorld:
    return LicensingWorld(db_app)


@pytest.fixture
def other(world) -> LicensingWorld:
    return LicensingWorld(world.app, "bravo", operator=world.operator)


def _events(world, **query) -> list[dict]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return world.operator.get(f"/audit-events?limit=200&partner_id={world.partner.id}&{params}").json["items"]


def test_users_are_created_read_changed_and_removed_with_if_match_audit_and_history(world):
    user = world.license("Anna@Example.com", external_id="crm-1")
    assert user["user_id"] == "Anna@Example.com" and user["matched_as"] == "anna@example.com"
    assert user["licence_type"] == "standard" and user["status"] == "active"
    assert world.admin.get(f"/licensed-users/{user['id']}").headers["ETag"] == user["etag"]
    path = f"/licensed-users/{user['id']}"
    assert world.admin.patch(path, {"status": "suspended"}).status_code == 428
    assert world.admin.patch(path, {"status": "suspended"}, etag='"stale"').status_code == 412
    changed = world.admin.patch(path, {"status": "suspended"}, etag=user["etag"])
    assert changed.status_code == 200 and changed.json["status"] == "suspended"
    assert world.partner.viewer.delete(path, etag=changed.json["etag"]).status_code == 403
    assert world.admin.delete(path, etag=changed.json["etag"]).status_code == 204
    assert world.admin.get(path).status_code == 404
    actions = [e["action"] for e in _events(world, resource_type="licensed_user")]
    assert actions.count("licensed_user.create") == 1 and "licensed_user.update" in actions
    assert "licensed_user.delete" in actions
    with world.app.app_context():
        history = (
            session()
            .execute(
                select(AllocationEvent.action, AllocationEvent.status, AllocationEvent.user_key).order_by(
                    AllocationEvent.id
                )
            )
            .all()
        )
    assert history == [
        ("added", "active", "anna@example.com"),
        ("changed", "suspended", "anna@example.com"),
        ("removed", "suspended", "anna@example.com"),
    ]


def test_a_user_id_is_unique_per_partner_after_normalisation(world, other):
    world.license("anna@example.com")
    response = world.admin.post(
        "/licensed-users", {"user_id": " ANNA@example.com", "customer_id": world.customer["id"]}
    )
    assert response.status_code == 409 and response.json["code"] == "duplicate_user_id"
    assert other.license("anna@example.com")["partner_id"] == other.partner.id  # another partner may


def test_bad_fields_are_422_naming_them(world, other):
    response = world.admin.post(
        "/licensed-users",
        {"user_id": "a\x00b", "customer_id": other.customer["id"], "licence_type": "platinum"},
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"user_id", "customer_id", "licence_type"}


def test_search_by_user_id_and_pagination(world):
    for name in ("alice", "Alicia", "bob", "ALINE"):
        world.license(f"{name}@example.com")
    found = world.admin.get("/licensed-users?user_id=ALI").json["items"]
    assert sorted(u["matched_as"] for u in found) == ["alice@example.com", "alicia@example.com", "aline@example.com"]
    first = world.admin.get("/licensed-users?limit=3").json
    second = world.admin.get(f"/licensed-users?limit=3&cursor={first['next_cursor']}").json
    assert len(first["items"]) == 3 and len(second["items"]) == 1 and second["next_cursor"] is None
    assert world.admin.get("/licensed-users?user_id=%25").json["items"] == []  # a LIKE wildcard is literal


def test_resellers_and_customers_with_caps_and_delete_rules(world):
    reseller = world.admin.post("/resellers", {"name": "Reseller One", "seat_cap": 10}).json
    customer = world.customer_with(reseller_id=reseller["id"])
    assert customer["reseller_id"] == reseller["id"]
    patched = world.admin.patch(f"/resellers/{reseller['id']}", {"seat_cap": None}, etag=reseller["etag"])
    assert patched.status_code == 200 and patched.json["seat_cap"] is None
    refused = world.admin.delete(f"/resellers/{reseller['id']}", etag=patched.json["etag"])
    assert refused.status_code == 409 and refused.json["code"] == "not_empty"
    assert world.admin.delete(f"/customers/{customer['id']}", etag=customer["etag"]).status_code == 204
    assert world.admin.delete(f"/resellers/{reseller['id']}", etag=patched.json["etag"]).status_code == 204
    assert world.admin.get("/resellers?name=one").json["items"] == []
    actions = {e["action"] for e in _events(world)}
    assert {"reseller.create", "reseller.update", "reseller.delete", "customer.create", "customer.delete"} <= actions


CSV_GOOD = "user_id,customer_id,licence_type,external_id\nanna@example.com,{c},standard,crm-1\nBob@Example.com,{c},,\n"


def test_csv_import_creates_and_updates(world):
    world.license("bob@example.com", status="suspended")
    body = (CSV_GOOD.format(c=world.customer["id"]) + "carl@example.com,{c},standard,\n").format(c=world.customer["id"])
    response = world.admin.post("/licensed-users/import", data=body.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.json
    assert response.json == {"created": 2, "updated": 0, "unchanged": 1}
    assert world.payload("anna@example.com")["status"] == "valid"


def test_csv_import_with_bad_rows_changes_nothing_and_names_each_line(world, other):
    world.license("bob@example.com")
    before = world.admin.get("/licensed-users").json
    events_before = len(_events(world))
    c = world.customer["id"]
    body = (
        "user_id,customer_id,licence_type\n"
        f"anna@example.com,{c},standard\n"  # line 2: fine
        f"eve@example.com,{other.customer['id']},standard\n"  # 3: another partner's customer
        f"ANNA@example.com,{c},standard\n"  # 4: same user as line 2
        f"zed@example.com,{c},platinum\n"  # 5: unknown licence type
        f",{c},standard\n"  # 6: no user id
        f"x@example.com,abc\n"  # 7: wrong number of cells
    )
    response = world.admin.post("/licensed-users/import", data=body.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 422, response.json
    by_line = {item["line"]: set(item["errors"]) for item in response.json["errors"]}
    assert by_line == {3: {"customer_id"}, 4: {"user_id"}, 5: {"licence_type"}, 6: {"user_id"}, 7: {"line"}}
    assert "nothing was imported" in response.json["detail"]
    assert world.admin.get("/licensed-users").json == before
    assert len(_events(world)) == events_before


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"\xff\xfe", "UTF-8"), (b"", "empty"), (b"user,customer\nx,1\n", "header")],
)
def test_csv_files_that_cannot_be_read_are_400(world, body, why):
    response = world.admin.post("/licensed-users/import", data=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 400 and response.json["code"] == "csv_rejected"
    assert why in response.json["detail"]


def test_settings_show_a_new_secret_once_and_never_again(world):
    path = f"/partners/{world.partner.id}/licensing"
    current = world.admin.get(path)
    assert current.status_code == 200 and current.json["lease_days"] == 7
    assert current.headers["Cache-Control"] == "no-store"
    body = {"rotate_secret": True, "web_service_url_template": "https://licences.example.com/u/{user_id}"}
    assert world.admin.put(path, body).status_code == 428
    rotated = world.admin.put(path, body, etag=current.json["etag"])
    assert rotated.status_code == 200, rotated.json
    secret = rotated.json["new_secret"]
    assert secret.startswith("whsec_") and rotated.headers["Cache-Control"] == "no-store"
    again = world.admin.get(path)
    assert "new_secret" not in again.json and secret not in again.get_data(as_text=True)
    assert len(again.json["web_service_secrets"]) == 1
    second = world.admin.put(path, {"rotate_secret": True}, etag=again.json["etag"]).json
    assert len(second["web_service_secrets"]) == 2  # both sign during the rotation
    done = world.admin.put(path, {"drop_previous_secret": True}, etag=second["etag"]).json
    assert len(done["web_service_secrets"]) == 1
    events = _events(world, resource_type="licensing_settings")
    assert len(events) == 3 and secret not in str(events)
    assert world.partner.viewer.put(path, {"lease_days": 3}, etag=done["etag"]).status_code == 403
    assert world.admin.put(path, {"lease_days": 0}, etag=done["etag"]).status_code == 422


def test_explain_says_method_source_and_lease_and_records_no_usage(world):
    world.license("anna@example.com")
    response = world.admin.get(f"/licensing/explain?access_code={world.code}&user_id=ANNA@example.com")
    assert response.status_code == 200, response.json
    explained = response.json
    assert explained["method"] == "portal" and explained["status"] == "valid"
    assert explained["source"]["kind"] == "allocation" and explained["source"]["found"] is True
    assert explained["lease_days"] == 7 and explained["lease_until"].endswith("Z")
    unknown = world.admin.get(f"/licensing/explain?access_code={world.code}&user_id=nobody").json
    assert unknown["status"] == "not_licensed" and unknown["source"]["found"] is False
    assert world.admin.get("/licensing/explain?access_code=NOPE&user_id=x").status_code == 404
    assert world.admin.get(f"/licensing/explain?access_code={world.code}&user_id=").status_code == 422


# every licensing endpoint that can touch partner A's resources, called with partner B's keys
CALLS = {
    "get reseller": lambda c, i: c.get(f"/resellers/{i['reseller']}"),
    "patch reseller": lambda c, i: c.patch(f"/resellers/{i['reseller']}", {"name": "X"}, etag=i["reseller_etag"]),
    "delete reseller": lambda c, i: c.delete(f"/resellers/{i['reseller']}", etag=i["reseller_etag"]),
    "list A's resellers": lambda c, i: c.get(f"/resellers?partner_id={i['partner']}"),
    "create reseller for A": lambda c, i: c.post("/resellers", {"name": "X", "partner_id": i["partner"]}),
    "get customer": lambda c, i: c.get(f"/customers/{i['customer']}"),
    "patch customer": lambda c, i: c.patch(f"/customers/{i['customer']}", {"name": "X"}, etag=i["customer_etag"]),
    "delete customer": lambda c, i: c.delete(f"/customers/{i['customer']}", etag=i["customer_etag"]),
    "list A's customers": lambda c, i: c.get(f"/customers?partner_id={i['partner']}"),
    "create customer for A": lambda c, i: c.post("/customers", {"name": "X", "partner_id": i["partner"]}),
    "get user": lambda c, i: c.get(f"/licensed-users/{i['user']}"),
    "patch user": lambda c, i: c.patch(f"/licensed-users/{i['user']}", {"status": "suspended"}, etag=i["user_etag"]),
    "delete user": lambda c, i: c.delete(f"/licensed-users/{i['user']}", etag=i["user_etag"]),
    "list A's users": lambda c, i: c.get(f"/licensed-users?partner_id={i['partner']}"),
    "create user for A": lambda c, i: c.post(
        "/licensed-users", {"user_id": "x", "customer_id": i["customer"], "partner_id": i["partner"]}
    ),
    "import for A": lambda c, i: c.post(
        f"/licensed-users/import?partner_id={i['partner']}",
        data=f"user_id,customer_id\nx,{i['customer']}\n".encode(),
        headers={"Content-Type": "text/csv"},
    ),
    "get A's settings": lambda c, i: c.get(f"/partners/{i['partner']}/licensing"),
    "put A's settings": lambda c, i: c.put(f"/partners/{i['partner']}/licensing", {"lease_days": 1}, etag="*"),
    "explain A's code": lambda c, i: c.get(f"/licensing/explain?access_code={i['code']}&user_id=anna"),
}


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_another_partners_keys_get_404_and_change_nothing(world, other, role):
    reseller = world.admin.post("/resellers", {"name": "R"}).json
    user = world.license("anna@example.com")
    ids = {
        "partner": world.partner.id,
        "reseller": reseller["id"],
        "reseller_etag": reseller["etag"],
        "customer": world.customer["id"],
        "customer_etag": world.customer["etag"],
        "user": user["id"],
        "user_etag": user["etag"],
        "code": world.code,
    }
    caller = getattr(other.partner, role)
    before = [world.operator.get(p).json for p in ("/resellers", "/customers", "/licensed-users")]
    wrong = {}
    for name, call in CALLS.items():
        response = call(caller, ids)
        if response.status_code != 404 or response.mimetype != "application/problem+json":
            wrong[name] = (response.status_code, response.get_data(as_text=True)[:200])
    assert wrong == {}
    assert [world.operator.get(p).json for p in ("/resellers", "/customers", "/licensed-users")] == before
    for path in ("/resellers", "/customers", "/licensed-users"):
        assert all(item["partner_id"] == other.partner.id for item in other.admin.get(path).json["items"]), path


def test_operators_act_for_any_partner(world):
    created = world.operator.post(
        "/licensed-users",
        {"user_id": "op@example.com", "customer_id": world.customer["id"], "partner_id": world.partner.id},
    )
    assert created.status_code == 201 and created.json["partner_id"] == world.partner.id
    missing = world.operator.post("/licensed-users", {"user_id": "x", "customer_id": world.customer["id"]})
    assert missing.status_code == 422 and "partner_id" in missing.json["errors"]


def test_ids_no_row_can_have_are_422_or_404_never_500(world):
    huge = 2**40
    assert world.admin.get(f"/licensed-users?customer_id={huge}").status_code == 422
    created = world.admin.post("/licensed-users", {"user_id": "x@example.com", "customer_id": huge})
    assert created.status_code == 422 and "customer_id" in created.json["errors"]
    csv = f"user_id,customer_id\nx@example.com,{huge}\n".encode()
    imported = world.admin.post("/licensed-users/import", data=csv, headers={"Content-Type": "text/csv"})
    assert imported.status_code == 422 and imported.json["errors"][0]["errors"] == {
        "customer_id": ["No such customer of this partner."]
    }
    scim = world.client.get(f"/scim/v2/Users/{huge}", headers={"Authorization": f"Bearer {world.admin.key}"})
    assert scim.status_code == 404
    assert world.admin.get(f"/licensed-users/{huge}").status_code == 404
    assert world.admin.delete(f"/customers/{huge}", etag="*").status_code == 404
