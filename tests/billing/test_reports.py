"""Monthly usage reports through HTTP: counts, CSV, month close, byte-stable regeneration,
corrections as versions, comparison; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json

from tests.billing.world import CSV, BillingWorld, t

MONTH = "2026-09"
HEADER = "user_id,basis,reseller_id,reseller,customer_id,customer,licence_type,evidence_from,evidence_to\n"


def september(app) -> BillingWorld:
    """September: anna all month, bob moved A to B, carl churned, dora gone in August, eve from October, zed checked."""
    world = BillingWorld(app)
    other = world.customer_with(name="B")
    world.history("anna@example.com", (t(8, 20), None))
    world.history("bob@example.com", (t(9, 5), None), (t(9, 10), {"customer_id": other["id"]}))
    world.history(
        "carl@example.com",
        (t(9, 2), None),
        (t(9, 3), {"status": "suspended"}),
        (t(9, 4), {"status": "active"}),
        (t(9, 6), None),
    )
    world.history("dora@example.com", (t(8, 1), None), (t(8, 31), None))
    world.history("eve@example.com", (t(10, 1, 0), None))
    world.checked("zed@example.com", t(9, 15))
    world.checked("zed@example.com", t(9, 16))
    world.other = other
    return world


def expected_csv(world: BillingWorld) -> str:
    a, b = world.customer, world.other
    return HEADER + (
        f"anna@example.com,portal,,,{a['id']},{a['name']},standard,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z\n"
        f"bob@example.com,portal,,,{b['id']},B,standard,2026-09-05T12:00:00Z,2026-10-01T00:00:00Z\n"
        f"carl@example.com,portal,,,{a['id']},{a['name']},standard,2026-09-02T12:00:00Z,2026-09-06T12:00:00Z\n"
        "zed@example.com,web_service,,,,,,2026-09-15T12:00:00Z,2026-09-15T12:00:00Z\n"
    )


def test_running_report_json_and_csv(db_app):
    world = september(db_app)
    response = world.admin.get(f"/reports/usage?month={MONTH}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["provisional"] is False and body["closed"] is None
    assert body["totals"]["users"] == 4
    assert body["totals"]["per_customer"] == {str(world.customer["id"]): 2, str(world.other["id"]): 1, "none": 1}
    assert body["totals"]["per_basis"] == {"portal": 3, "web_service": 1}
    for name in ("per_licence_type", "per_reseller", "per_customer"):
        assert sum(body["totals"][name].values()) == 4
    assert [row["user_id"] for row in body["rows"]] == [
        "anna@example.com",
        "bob@example.com",
        "carl@example.com",
        "zed@example.com",
    ]
    response = world.admin.get(f"/reports/usage?month={MONTH}", headers=CSV)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.decode() == expected_csv(world)
    assert world.admin.get("/reports/usage?month=2026-08").json["totals"]["users"] == 2  # anna, dora


def test_current_month_is_provisional_and_cannot_close(db_app):
    world = BillingWorld(db_app)
    from app.db import utcnow

    month = utcnow().strftime("%Y-%m")
    assert world.admin.get(f"/reports/usage?month={month}").json["provisional"] is True
    response = world.operator.post(f"/reports/usage/{month}/close", {"partner_id": world.partner.id})
    assert response.status_code == 409
    assert response.json["code"] == "month_not_ended"


def test_close_is_byte_stable_and_corrections_are_versions(db_app):
    world = september(db_app)
    live = world.admin.get(f"/reports/usage?month={MONTH}", headers=CSV).data
    response = world.operator.post(f"/reports/usage/{MONTH}/close", {"partner_id": world.partner.id})
    assert response.status_code == 200, response.json
    (closed,) = response.json["reports"]
    assert closed["version"] == 1 and closed["closed_now"] is True and closed["users"] == 4
    assert closed["csv_sha256"] == hashlib.sha256(live).hexdigest()

    # later history does not move a closed month; closing again answers the same version
    world.history("fred@example.com", (t(9, 20), None))
    again = world.operator.post(f"/reports/usage/{MONTH}/close", {"partner_id": world.partner.id}).json["reports"][0]
    assert again["version"] == 1 and again["closed_now"] is False
    assert world.admin.get(f"/reports/usage?month={MONTH}", headers=CSV).data == live
    report = world.admin.get(f"/reports/usage?month={MONTH}").json
    assert report["closed"]["version"] == 1 and report["closed"]["closed_by"].startswith("operator")

    # a correction is a new version with a reason; the versions can be compared
    response = world.operator.post(
        f"/reports/usage/{MONTH}/close", {"partner_id": world.partner.id, "reason": "fred was back-dated"}
    )
    fixed = response.json["reports"][0]
    assert fixed["version"] == 2 and fixed["users"] == 5
    versions = world.admin.get(f"/reports/usage/{MONTH}/versions").json["versions"]
    assert [(v["version"], v["reason"]) for v in versions] == [(1, ""), (2, "fred was back-dated")]
    diff = world.admin.get(f"/reports/usage/{MONTH}/diff?from_version=1&to_version=2").json
    assert [row["user_id"] for row in diff["added"]] == ["fred@example.com"]
    assert diff["removed"] == [] and diff["changed"] == []
    csv_v2 = world.admin.get(f"/reports/usage?month={MONTH}", headers=CSV).data
    assert hashlib.sha256(csv_v2).hexdigest() == fixed["csv_sha256"]
    assert world.admin.get(f"/reports/usage/{MONTH}/diff?from_version=1&to_version=9").status_code == 404


def test_close_every_partner_and_only_operators(db_app):
    world = september(db_app)
    other = BillingWorld(db_app, "globex", operator=world.operator)
    assert world.admin.post(f"/reports/usage/{MONTH}/close", {}).status_code == 403
    response = world.operator.post(f"/reports/usage/{MONTH}/close", {})
    assert response.status_code == 200
    closed = {row["partner_id"]: row["users"] for row in response.json["reports"]}
    assert closed[world.partner.id] == 4 and closed[other.partner.id] == 0
    assert world.operator.post("/reports/usage/2026-13/close", {}).status_code == 422
    assert world.operator.post(f"/reports/usage/{MONTH}/close", {"partner_id": 999999}).status_code == 404


def test_isolation(app):
    world = september(app)
    other = BillingWorld(app, "globex", operator=world.operator)
    other.history("olga@example.com", (t(9, 3), None))
    mine = world.admin.get(f"/reports/usage?month={MONTH}").json
    theirs = other.admin.get(f"/reports/usage?month={MONTH}").json
    assert {row["user_id"] for row in theirs["rows"]} == {"olga@example.com"}
    assert "olga@example.com" not in {row["user_id"] for row in mine["rows"]}
    for path in ("/reports/usage?month=2026-09", "/reports/usage/2026-09/versions", "/reports/usage/2026-09/diff"
                 "?from_version=1&to_version=1", "/reports/usage/2026-09/reconciliation"):  # fmt: skip
        joiner = "&" if "?" in path else "?"
        response = other.admin.get(f"{path}{joiner}partner_id={world.partner.id}")
        assert response.status_code == 404, path
    assert other.admin.get("/reports/usage/partners?month=2026-09").status_code == 403
    assert world.operator.get("/reports/usage?month=2026-09").status_code == 422  # operators name the partner
    response = world.operator.get(f"/reports/usage?month=2026-09&partner_id={other.partner.id}")
    assert response.json["totals"]["users"] == 1


def test_cli_close_matches_the_api(app):
    world = september(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reports", "close", "--month", MONTH, "--partner", "acme"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.splitlines()[0])
    assert line["version"] == 1 and line["users"] == 4 and line["closed_now"] is True
    csv_bytes = world.admin.get(f"/reports/usage?month={MONTH}", headers=CSV).data
    assert hashlib.sha256(csv_bytes).hexdigest() == line["csv_sha256"]
    again = runner.invoke(args=["reports", "close", "--month", MONTH], catch_exceptions=False)
    assert json.loads(again.output.splitlines()[0])["closed_now"] is False
    assert runner.invoke(args=["reports", "close", "--month", "2026-9"]).exit_code != 0
    from app.db import utcnow

    current = runner.invoke(args=["reports", "close", "--month", utcnow().strftime("%Y-%m")])
    assert current.exit_code == 1 and "ends at" in current.output


def test_a_user_renamed_within_the_month_counts_once_under_its_new_id(db_app):
    world = BillingWorld(db_app)
    world.history(
        "old.name@example.com",
        (t(8, 20), None),
        (t(9, 10), {"user_id": "New.Name@example.com"}),
        (t(9, 20), {"status": "suspended"}),
        (t(10, 5), {"status": "active"}),
    )
    world.history("renamed.twice@example.com", (t(9, 2), None), (t(9, 3), {"user_id": "b@example.com"}),
                  (t(9, 4), {"user_id": "c@example.com"}))  # fmt: skip
    september_rows = world.admin.get(f"/reports/usage?month={MONTH}").json["rows"]
    assert [(row["user_id"], row["evidence_from"], row["evidence_to"]) for row in september_rows] == [
        ("c@example.com", "2026-09-02T12:00:00Z", "2026-10-01T00:00:00Z"),
        ("new.name@example.com", "2026-09-01T00:00:00Z", "2026-09-20T12:00:00Z"),
    ]
    august = world.admin.get("/reports/usage?month=2026-08").json["rows"]
    assert [row["user_id"] for row in august] == ["old.name@example.com"]
    october = world.admin.get("/reports/usage?month=2026-10").json["rows"]  # the old id no longer counts
    assert [(row["user_id"], row["evidence_from"]) for row in october] == [
        ("c@example.com", "2026-10-01T00:00:00Z"),
        ("new.name@example.com", "2026-10-05T12:00:00Z"),
    ]


def test_the_count_reads_only_intervals_overlapping_the_month(db_app):
    from app.billing.reports import _portal_groups
    from app.db import session

    world = BillingWorld(db_app)
    world.history("gone@example.com", (t(5, 1), None), (t(6, 1), None))
    world.history("suspended@example.com", (t(5, 1), None), (t(6, 1), {"status": "suspended"}))
    world.history("moved@example.com", (t(5, 1), None), (t(6, 1), {"licence_type": "standard", "external_id": "x"}),
                  (t(9, 15), None))  # fmt: skip
    world.history("kept@example.com", (t(5, 1), None))
    with db_app.app_context():
        read = {key: len(states) for key, states, _ in _portal_groups(session(), world.partner.id, MONTH)}
    assert read == {"kept@example.com": 1, "moved@example.com": 2}


def test_closing_every_partner_over_http_stops_within_its_time_budget(make_app):
    app = make_app(billing_close_budget_seconds=1e-6)  # spent by the first partner
    world = september(app)
    other = BillingWorld(app, "globex", operator=world.operator)
    response = world.operator.post(f"/reports/usage/{MONTH}/close", {})
    assert response.status_code == 202, response.json
    assert response.json["complete"] is False and response.json["remaining"] == 1
    assert [row["partner_id"] for row in response.json["reports"]] == [world.partner.id]
    response = world.operator.post(f"/reports/usage/{MONTH}/close", {})  # resumes: the first answers its version
    assert response.status_code == 202 and response.json["reports"][0]["closed_now"] is False
    response = world.operator.post(f"/reports/usage/{MONTH}/close", {"partner_id": other.partner.id})
    assert response.status_code == 200 and response.json["complete"] is True
    refused = world.operator.post(f"/reports/usage/{MONTH}/close", {"reason": "fix"})
    assert refused.status_code == 422 and "partner_id" in refused.json["errors"]
