"""Partner-submitted usage reports through HTTP: idempotency, versions, every bad row listed,
bad CSVs refused with nothing stored, reconciliation lists, the operator's table."""

from __future__ import annotations

import csv
import io

from tests.billing.world import CSV, BillingWorld, t

MONTH = "2026-09"


def send(world: BillingWorld, body, key: str, *, month: str = MONTH, content_type: str = "text/csv"):
    if isinstance(body, dict):
        return world.admin.post(f"/usage-reports?month={month}", body, headers={"Idempotency-Key": key})
    return world.admin.post(
        f"/usage-reports?month={month}", data=body, headers={"Idempotency-Key": key, "Content-Type": content_type}
    )


def versions(world: BillingWorld) -> int:
    response = world.admin.get(f"/reports/usage/{MONTH}/reconciliation")
    return 0 if response.status_code == 404 else response.json["version"]


def test_same_key_same_answer_later_submission_new_version(db_app):
    world = BillingWorld(db_app)
    body = {"users": ["anna@example.com", {"user_id": "Bob@Example.com", "licence_type": "standard"}]}
    first = send(world, body, "k1")
    assert first.status_code == 201, first.json
    assert first.json["version"] == 1 and first.json["users"] == 2
    assert first.headers["Idempotent-Replayed"] == "false"
    again = send(world, body, "k1")
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert versions(world) == 1
    reused = send(world, {"users": ["carl@example.com"]}, "k1")
    assert reused.status_code == 409 and reused.json["code"] == "idempotency_key_reused"
    second = send(world, b"user_id\nanna@example.com\n", "k2")
    assert second.status_code == 201 and second.json["version"] == 2
    assert versions(world) == 2


def test_every_bad_row_listed_and_nothing_stored(db_app):
    world = BillingWorld(db_app)
    body = b"user_id,licence_type\nanna@example.com,standard\n,standard\nANNA@example.com,\nbob@example.com,gold\n"
    response = send(world, body, "k1")
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert [row["line"] for row in response.json["errors"]] == [3, 4, 5]
    assert "Duplicate" in response.json["errors"][1]["errors"][0]
    assert versions(world) == 0
    assert send(world, b"user_id\nanna@example.com\n", "k1").status_code == 201  # the key was not used up


def test_bad_bodies_are_4xx_problems_and_nothing_is_stored(make_app):
    app = make_app(billing_max_usage_report_bytes=4096)
    world = BillingWorld(app)
    cases = [
        (b"email\nanna@example.com\n", "text/csv", 400),  # wrong columns
        (b"user_id,user_id\na,b\n", "text/csv", 400),  # a column twice
        (b"user_id\n\xff\xfe\n", "text/csv", 400),  # not UTF-8
        (b"", "text/csv", 400),
        (b"user_id\na,b\n", "text/csv", 422),  # more cells than columns: that line is listed
        (b"user_id\n" + b"x" * 5000 + b"\n", "text/csv", 413),
        (b"[1, 2]", "application/json", 400),
        (b"{", "application/json", 400),
        (b"user_id\nanna\n", "application/xml", 400),
    ]
    for index, (body, content_type, status) in enumerate(cases):
        response = send(world, body, f"k{index}", content_type=content_type)
        assert response.status_code == status, (body[:40], response.json)
        assert response.headers["Content-Type"] == "application/problem+json"
    assert send(world, {"users": ["a"]}, "nokey", month="2026-9").status_code == 422
    assert world.admin.post(f"/usage-reports?month={MONTH}", {"users": []}).status_code == 400  # no key
    assert versions(world) == 0


def test_reconciliation_lists_and_flag(db_app):
    world = BillingWorld(db_app)
    for name in ("anna", "bob", "carl"):
        world.checked(f"{name}@example.com", t(9, 3))
    world.checked("dora@example.com", t(10, 3))  # another month
    assert (
        send(world, {"users": ["anna@example.com", "BOB@example.com", "xavier@example.com"]}, "k1").status_code == 201
    )
    response = world.admin.get(f"/reports/usage/{MONTH}/reconciliation")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["reported_not_seen"] == {"count": 1, "user_ids": ["xavier@example.com"]}
    assert body["seen_not_reported"] == {"count": 1, "user_ids": ["carl@example.com"]}
    assert body["flagged"] is False and body["threshold"] == {"percent": 2.0, "min_users": 5}
    many = {"users": [f"u{i}@example.com" for i in range(10)]}
    assert send(world, many, "k2").status_code == 201
    assert world.admin.get(f"/reports/usage/{MONTH}/reconciliation").json["flagged"] is True


def test_operator_table_of_partners(db_app):
    world = BillingWorld(db_app)
    world.history("anna@example.com", (t(9, 2), None))
    other = BillingWorld(db_app, "globex", operator=world.operator)
    other.checked("zed@example.com", t(9, 4))
    assert send(other, {"users": ["zed@example.com"]}, "k1").status_code == 201
    world.operator.post(f"/reports/usage/{MONTH}/close", {"partner_id": world.partner.id})
    response = world.operator.get(f"/reports/usage/partners?month={MONTH}")
    assert response.status_code == 200
    rows = {row["partner_id"]: row for row in response.json["partners"]}
    assert rows[world.partner.id]["method"] == "portal" and rows[world.partner.id]["closed"] is True
    assert rows[world.partner.id]["users"] == 1 and rows[world.partner.id]["reconciliation_flagged"] is None
    assert rows[other.partner.id]["method"] == "web_service" and rows[other.partner.id]["closed"] is False
    assert rows[other.partner.id]["reconciliation_flagged"] is False
    response = world.operator.get(f"/reports/usage/partners?month={MONTH}", headers=CSV)
    table = list(csv.DictReader(io.StringIO(response.data.decode())))
    assert {row["slug"]: row["closed"] for row in table} == {"acme": "true", "globex": "false"}
