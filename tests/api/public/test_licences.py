"""POST /v1/licenses/check as an installed client sees it, on SQLite and PostgreSQL: every
status, the signature, the nonce, leases, usage facts, and refusals like discovery's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.db import session
from app.licensing import registry
from app.licensing.methods import Verdict
from app.licensing.models import UsageFact
from app.upgrades.signing import verify_envelope
from tests import factories
from tests.licensing.world import CHECK, LicensingWorld


@pytest.fixture
def world(db_app) -> LicensingWorld:
    return LicensingWorld(db_app)


def _seconds(payload: dict, field: str) -> float:
    return datetime.fromisoformat(payload[field].replace("Z", "+00:00")).timestamp()


def test_a_licensed_user_is_valid_with_a_signed_lease_of_seven_days(world):
    world.license("Anna@Example.com", licence_type="standard")
    response = world.check(" anna@EXAMPLE.com ", nonce="n-123")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    payload = verify_envelope(response.json, world.keys())  # the key published at /v1/keys
    assert payload["licensed"] is True and payload["status"] == "valid"
    assert payload["licence_type"] == "standard"
    assert payload["user_id"] == "anna@example.com"
    assert payload["method"] == "portal"
    assert payload["install_id"] == "install-1"
    assert payload["nonce"] == "n-123"
    assert len(payload["access_code_digest"]) == 64
    assert payload["issued_at"].endswith("Z") and payload["lease_until"].endswith("Z")
    assert _seconds(payload, "lease_until") - _seconds(payload, "issued_at") == 7 * 86400
    assert set(payload) == {
        "licensed", "status", "licence_type", "user_id", "method", "access_code_digest",
        "install_id", "nonce", "issued_at", "lease_until",
    }  # fmt: skip


def test_ids_match_after_nfc_trimming_and_case_folding(world):
    world.license("Jos\u00e9@Example.com")
    assert world.payload("  JOSE\u0301@example.COM\t".strip() + " ")["status"] == "valid"


def test_an_unknown_user_is_not_licensed_with_no_lease(world):
    payload = world.payload("nobody@example.com")
    assert payload["status"] == "not_licensed" and payload["licensed"] is False
    assert payload["licence_type"] is None and payload["nonce"] is None
    assert payload["lease_until"] == payload["issued_at"]


def test_a_suspended_user_answers_suspended(world):
    user = world.license("anna@example.com")
    assert (
        world.admin.patch(f"/licensed-users/{user['id']}", {"status": "suspended"}, etag=user["etag"]).status_code
        == 200
    )
    payload = world.payload()
    assert payload["status"] == "suspended" and payload["licensed"] is False


def test_users_beyond_a_customer_seat_cap_answer_seat_limit(world):
    world.customer = world.customer_with(seat_cap=1)
    world.license("first@example.com")
    world.license("second@example.com")
    assert world.payload("first@example.com")["status"] == "valid"
    assert world.payload("second@example.com")["status"] == "seat_limit"


def test_a_reseller_cap_counts_users_of_all_its_customers(world):
    reseller = world.admin.post("/resellers", {"name": "R", "seat_cap": 1}).json
    world.customer = world.customer_with(reseller_id=reseller["id"])
    world.license("first@example.com")
    world.customer = world.customer_with(reseller_id=reseller["id"])
    world.license("second@example.com")
    assert world.payload("first@example.com")["status"] == "valid"
    payload = world.payload("second@example.com")
    assert payload["status"] == "seat_limit" and payload["licensed"] is False


def test_lease_length_follows_the_partner_setting(world):
    world.license("anna@example.com")
    current = world.admin.get(f"/partners/{world.partner.id}/licensing")
    response = world.admin.put(f"/partners/{world.partner.id}/licensing", {"lease_days": 2}, etag=current.json["etag"])
    assert response.status_code == 200, response.json
    payload = world.payload()
    assert _seconds(payload, "lease_until") - _seconds(payload, "issued_at") == 2 * 86400


def test_a_method_that_cannot_answer_is_unavailable_with_a_short_lease(db_app):
    world = LicensingWorld(db_app, method="proprietary")  # no adapter configured
    payload = verify_envelope(world.check().json, world.keys())
    assert payload["status"] == "unavailable" and payload["licensed"] is False
    assert payload["method"] == "proprietary"
    assert 0 < _seconds(payload, "lease_until") - _seconds(payload, "issued_at") <= 3600


class GraceMethod:
    """A registered method answering from a last known good answer."""

    name = "test_grace"

    def check(self, request, settings):
        return Verdict("grace", licence_type="pro", source={"kind": "grace"})


def test_a_registered_method_answers_through_the_registry_with_a_grace_lease(world, monkeypatch):
    monkeypatch.setitem(registry._METHODS, "test_grace", GraceMethod())  # a plug-in method
    checks = world.app.extensions["livery.licensing"]
    monkeypatch.setattr(checks, "brand_method", lambda brand_id, live: "test_grace")
    payload = world.payload()
    assert payload["status"] == "grace" and payload["licensed"] is True and payload["licence_type"] == "pro"
    assert _seconds(payload, "lease_until") - _seconds(payload, "issued_at") == 24 * 3600


class BrokenMethod:
    name = "test_broken"

    def check(self, request, settings):
        raise RuntimeError("boom")


def test_a_method_that_raises_answers_unavailable_never_500(world, monkeypatch):
    monkeypatch.setitem(registry._METHODS, "test_broken", BrokenMethod())
    monkeypatch.setattr(world.app.extensions["livery.licensing"], "brand_method", lambda brand_id, live: "test_broken")
    assert world.payload()["status"] == "unavailable"


def test_unknown_revoked_and_suspended_codes_answer_like_discovery(world):
    def both(code):
        check = world.client.post(CHECK, json={"access_code": code, "user_id": "u", "install_id": "i"})
        discovery = world.client.get(f"/v1/discovery/{code}")
        assert check.status_code == discovery.status_code
        assert check.json == discovery.json and check.mimetype == "application/problem+json"
        return check.status_code

    assert both("NOPE-NOPE-NOPE") == 404
    assert both("!!") == 404
    revoked = factories.issue(world.app, world.brand_id, "live")
    factories.revoke(world.app, revoked)
    assert both(revoked) == 410
    factories.set_status(world.app, world.partner.id, "suspended")
    assert both(world.code) == 410


def test_a_live_code_of_a_never_published_brand_answers_404(world):
    brand = factories.make_brand(world.app, world.partner.id, publish=False)
    code = factories.issue(world.app, brand, "live")
    response = world.client.post(CHECK, json={"access_code": code, "user_id": "u", "install_id": "i"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2]", b"\xff\xfe", b"", b'"text"'],
    ids=["truncated", "array", "not-utf8", "empty", "string"],
)
def test_a_body_that_is_not_a_json_object_is_400(world, body):
    response = world.client.post(CHECK, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("user_id", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a" * 257, "256"),
        ("an\x00na", "control"),
        ("line\nbreak", "control"),
        (42, "string"),
    ],
)
def test_an_invalid_user_id_is_422_naming_the_field(world, user_id, why):
    response = world.check(user_id)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["user_id"]
    assert why in response.json["detail"].lower() or why in str(response.json["errors"]).lower()


def test_missing_fields_are_422_each_named(world):
    response = world.client.post(CHECK, json={"nonce": "x" * 500})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"access_code", "user_id", "install_id", "nonce"}


def test_the_first_successful_check_of_a_month_is_written_once(world):
    world.license("anna@example.com")
    checks = world.app.extensions["livery.licensing"]
    moments = iter([datetime(2026, 11, 3, 9, tzinfo=UTC)] * 3 + [datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)])
    checks.clock = lambda: next(moments)
    for _ in range(3):
        assert world.payload()["status"] == "valid"
    world.payload("stranger@example.com")  # not licensed: no usage fact
    checks.clock = lambda: datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    world.payload()
    checks.usage.flush()
    with world.app.app_context():
        facts = session().execute(select(UsageFact.month, UsageFact.user_key, UsageFact.check_count)).all()
    assert sorted(facts) == [("2026-11", "anna@example.com", 3), ("2026-12", "anna@example.com", 1)]


def test_checks_with_a_test_code_are_answered_but_never_counted_as_usage(world):
    world.license("anna@example.com")
    code = factories.issue(world.app, world.brand_id, "test")
    response = world.client.post(CHECK, json={"access_code": code, "user_id": "anna@example.com", "install_id": "i"})
    assert response.json["payload"]["status"] == "valid"  # the test cycle gets real answers
    world.app.extensions["livery.licensing"].usage.flush()
    with world.app.app_context():
        assert session().scalars(select(UsageFact.user_key)).all() == []  # ... that nobody is billed for
    world.payload()  # the live code's check is usage
    world.app.extensions["livery.licensing"].usage.flush()
    with world.app.app_context():
        assert session().scalars(select(UsageFact.user_key)).all() == ["anna@example.com"]


def test_usage_is_durable_before_the_answer_even_for_a_new_worker(world):
    world.license("anna@example.com")
    world.payload()
    other_worker = world.app.extensions["livery.licensing"].usage.__class__(
        world.app.extensions["livery.sessionmaker"], flush_seconds=60, clock=lambda: 0.0
    )
    now = datetime.now(UTC)
    other_worker.record(world.partner.id, "anna@example.com", "portal", "standard", now, written=False)  # counted
    other_worker.flush()
    with world.app.app_context():
        counts = session().scalars(select(UsageFact.check_count)).all()
    assert counts == [2]


def test_a_test_code_sees_the_draft_licensing_method(world):
    code = factories.issue(world.app, world.brand_id, "test")
    factories.edit(world.app, world.brand_id, licensing_method="proprietary")
    response = world.client.post(CHECK, json={"access_code": code, "user_id": "u", "install_id": "i"})
    assert response.json["payload"]["method"] == "proprietary"
    assert world.payload()["method"] == "portal"  # live code: the published revision


def test_another_worker_follows_adds_renames_suspensions_removals_caps_and_imports(make_app):
    """Worker B answers from its index; A's changes reach it through the change log."""
    from app import create_app

    world = LicensingWorld(make_app())
    worker_b = create_app(world.app.config["LIVERY"])
    client_b = worker_b.test_client()

    def check_b(user_id: str) -> str:
        worker_b.extensions["livery.public"]._next_poll = 0  # as if the freshness interval had passed
        body = {"access_code": world.code, "user_id": user_id, "install_id": "b"}
        return client_b.post(CHECK, json=body).json["payload"]["status"]

    assert check_b("anna@example.com") == "not_licensed"  # B loads its index now
    user = world.license("anna@example.com")
    assert check_b("anna@example.com") == "valid"
    renamed = world.admin.patch(f"/licensed-users/{user['id']}", {"user_id": "anna.b@example.com"}, etag=user["etag"])
    assert check_b("anna@example.com") == "not_licensed" and check_b("anna.b@example.com") == "valid"
    suspended = world.admin.patch(
        f"/licensed-users/{user['id']}", {"status": "suspended"}, etag=renamed.json["etag"]
    ).json
    assert check_b("anna.b@example.com") == "suspended"
    world.admin.delete(f"/licensed-users/{user['id']}", etag=suspended["etag"])
    assert check_b("anna.b@example.com") == "not_licensed"

    world.license("first@example.com")
    world.license("second@example.com")
    assert check_b("second@example.com") == "valid"
    customer = world.admin.get(f"/customers/{world.customer['id']}").json
    world.admin.patch(f"/customers/{customer['id']}", {"seat_cap": 1}, etag=customer["etag"])
    assert check_b("first@example.com") == "valid" and check_b("second@example.com") == "seat_limit"

    csv = f"user_id,customer_id\nimported@example.com,{world.customer['id']}\n".encode()
    assert world.admin.post("/licensed-users/import", data=csv, headers={"Content-Type": "text/csv"}).status_code == 200
    assert check_b("imported@example.com") == "seat_limit"  # third seat of a customer capped at one
    worker_b.extensions["livery.engine"].dispose()


def test_checks_keep_answering_from_memory_when_the_database_is_gone(make_app, tmp_path):
    world = LicensingWorld(make_app())
    world.license("anna@example.com")
    assert world.payload()["status"] == "valid"
    checks = world.app.extensions["livery.licensing"]
    checks.usage._seen.add((world.partner.id, datetime.now(UTC).strftime("%Y-%m"), "anna@example.com"))
    world.app.extensions["livery.public"]._next_poll = float("inf")  # no change-log poll in this test
    world.app.extensions["livery.engine"].dispose()
    database = world.app.config["LIVERY"].database_url.removeprefix("sqlite:///")
    import os

    os.rename(database, tmp_path / "moved-away.db")
    assert world.payload()["status"] == "valid"


def test_checks_without_a_nonce_share_one_signed_answer_per_minute(world, monkeypatch):
    import app.licensing.check as check_module

    world.license("anna@example.com")
    checks = world.app.extensions["livery.licensing"]
    signed = []

    def counting(ring, payload):
        signed.append(payload["nonce"])
        return check_module.signed_envelope_bytes.__wrapped__(ring, payload)

    counting.__wrapped__ = check_module.signed_envelope_bytes
    monkeypatch.setattr(check_module, "signed_envelope_bytes", counting)
    moments = iter([datetime(2026, 11, 3, 9, 0, 5, 700, tzinfo=UTC), datetime(2026, 11, 3, 9, 0, 59, tzinfo=UTC),
                    datetime(2026, 11, 3, 9, 1, 0, tzinfo=UTC)])  # fmt: skip
    checks.clock = lambda: next(moments)
    first, second, third = (world.check() for _ in range(3))
    assert first.data == second.data != third.data  # the same bytes within a minute
    payload = verify_envelope(first.json, world.keys())
    assert (payload["issued_at"], payload["lease_until"]) == ("2026-11-03T09:00:00Z", "2026-11-10T09:00:00Z")
    assert verify_envelope(third.json, world.keys())["issued_at"] == "2026-11-03T09:01:00Z"
    checks.clock = lambda: datetime(2026, 11, 3, 9, 1, 30, 250, tzinfo=UTC)
    assert world.check(install_id="install-2").json["payload"]["install_id"] == "install-2"
    with_nonce = verify_envelope(world.check(nonce="n-1").json, world.keys())  # a nonce: exact, never shared
    assert (with_nonce["nonce"], with_nonce["issued_at"]) == ("n-1", "2026-11-03T09:01:30Z")
    assert world.check(nonce="n-1").json["payload"]["nonce"] == "n-1"
    assert signed == [None, None, None, "n-1", "n-1"]  # minute 1, minute 2, install-2; each nonce check
