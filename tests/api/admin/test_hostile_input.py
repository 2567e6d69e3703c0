"""Hostile admin input: every case is a 4xx problem+json and changes nothing stored, on both databases.

The list is the fault-injection campaign's (issue 11): integers beyond the database's range in
paths, filters, bodies and cursors; NUL characters and unpaired surrogates in strings and
filters; JSON nested 10,000 deep; number literals of 5,000 digits; garbage cursors.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.db import Base, session
from tests.api.admin.conftest import ADMIN, Caller, Partner, make_operator, onboard
from tests.upgrades.catalogue import add_release, control_file, upload_control_file

BIG = 2**31  # one beyond PostgreSQL's INTEGER
HUGE = 2**63  # one beyond a 64-bit integer (SQLite's INTEGER, PostgreSQL's BIGINT)
DIGITS = "9" * 5000
NESTED = "[" * 10_000 + "]" * 10_000
# columns every authenticated request touches by design
VOLATILE_COLUMNS = {"last_used_at"}


def _cursor(document: str) -> str:
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


@dataclass
class World:
    operator: Caller
    partner: Partner
    brand_id: int

    def send(self, method: str, path: str, body: object = None, raw: str | None = None):
        path = path.format(brand=self.brand_id, partner=self.partner.id)
        headers = {"Authorization": f"Bearer {self.operator.key}", "If-Match": '"anything"'}
        current = self.operator.client.get(ADMIN + path.split("?")[0], headers=headers)
        if current.status_code == 200 and "ETag" in current.headers:  # reach the rules behind If-Match
            headers["If-Match"] = current.headers["ETag"]
        if raw is not None:
            return self.operator.client.open(
                ADMIN + path, method=method, data=raw, content_type="application/json", headers=headers
            )
        return self.operator.client.open(ADMIN + path, method=method, json=body, headers=headers)


@pytest.fixture
def world(db_app) -> World:
    operator = make_operator(db_app)
    partner = onboard(operator, "alpha")
    brand = partner.admin.post("/brands", {"name": "Alpha Connect"})
    assert brand.status_code == 201, brand.json
    add_release(partner.admin, "5.2.0")
    assert upload_control_file(partner.admin, control_file(("5.2.0", 100))).status_code == 201
    return World(operator, partner, brand.json["id"])


def _stored(app) -> str:
    """A digest of every stored row (but the columns each request updates by design)."""
    digest = hashlib.sha256()
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            columns = [column for column in table.columns if column.name not in VOLATILE_COLUMNS]
            for row in session().execute(select(*columns).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


NUL = "a\u0000b"
CONTROL_FILE = '{"schema_version": 1, "channel": "stable", "default_mode": "passive", "notes": %s, "releases": []}'
SURROGATE = '"\\ud800"'  # as JSON text: json.dumps would refuse to write it

CASES = [
    # integer ids in paths: no route matches, like any unknown id
    ("GET", f"/partners/{BIG}", None, None, 404),
    ("GET", f"/partners/{HUGE}", None, None, 404),
    ("GET", f"/partners/{DIGITS}", None, None, 404),
    ("PATCH", f"/partners/{BIG}", {"status": "live"}, None, 404),
    ("GET", f"/brands/{BIG}", None, None, 404),
    ("PATCH", f"/brands/{HUGE}", {"name": "x"}, None, 404),
    ("POST", f"/brands/{BIG}/publish", None, None, 404),
    ("GET", f"/brands/{BIG}/diff", None, None, 404),
    ("GET", "/brands/{brand}/revisions/" + str(BIG), None, None, 404),
    ("POST", f"/brands/{BIG}/access-codes", {"kind": "live"}, None, 404),
    ("GET", f"/access-codes/{BIG}", None, None, 404),
    ("POST", f"/access-codes/{HUGE}/revoke", None, None, 404),
    ("POST", f"/access-codes/{BIG}/rotate", {}, None, 404),
    ("GET", f"/api-keys/{BIG}", None, None, 404),
    ("DELETE", f"/api-keys/{HUGE}", None, None, 404),
    ("GET", f"/releases/{BIG}", None, None, 404),
    ("PATCH", f"/releases/{BIG}", {"status": "withdrawn"}, None, 404),
    ("GET", f"/channels/stable/control-files/{BIG}", None, None, 404),
    # strings in paths
    ("GET", "/channels/a%00b", None, None, 404),
    ("POST", "/channels/a%00b/halt", {"reason": "x"}, None, 404),
    ("GET", "/assets/a%00b", None, None, 404),
    ("GET", "/channels/%ED%A0%80", None, None, 404),
    # integers in filters
    ("GET", f"/brands?partner_id={BIG}", None, None, 422),
    ("GET", f"/access-codes?brand_id={HUGE}", None, None, 422),
    ("GET", f"/api-keys?partner_id={DIGITS}", None, None, 422),
    ("GET", f"/audit-events?partner_id=-{BIG + 1}", None, None, 422),
    ("GET", f"/channels?partner_id={BIG}", None, None, 422),
    ("GET", f"/releases?partner_id={HUGE}", None, None, 422),
    ("GET", f"/partners?limit={HUGE}", None, None, 422),
    ("GET", f"/reports/usage?month=2026-10&partner_id={BIG}", None, None, 422),
    ("GET", f"/partners/{BIG}/readiness", None, None, 404),
    ("GET", f"/partners/{BIG}/onboarding", None, None, 404),
    ("GET", "/reports/usage?month=2026-1%00", None, None, 422),
    # strings in filters
    ("GET", "/audit-events?resource_id=a%00b", None, None, 422),
    ("GET", "/audit-events?actor=%00", None, None, 422),
    ("GET", "/audit-events?action=%ED%A0%80", None, None, None),  # decoded as U+FFFD: a plain filter
    ("GET", "/releases?version=5%00", None, None, 422),
    ("GET", "/channels/stable?partner_id=%00", None, None, 422),
    # cursors
    ("GET", "/partners?cursor=" + _cursor(json.dumps({"after": BIG})), None, None, 422),
    ("GET", "/brands?cursor=" + _cursor(json.dumps({"after": HUGE})), None, None, 422),
    ("GET", "/brands?cursor=" + _cursor('{"after": ' + DIGITS + "}"), None, None, 422),
    ("GET", "/brands?cursor=" + _cursor(NESTED), None, None, 422),
    ("GET", "/brands?cursor=" + _cursor('{"after": "\\u0000"}'), None, None, 422),
    ("GET", "/brands?cursor=%00", None, None, 422),
    # integers in bodies
    ("POST", "/brands", {"name": "x", "partner_id": BIG}, None, 422),
    ("POST", "/brands", {"name": "x", "partner_id": HUGE}, None, 422),
    ("POST", "/brands", None, '{"name": "x", "partner_id": ' + DIGITS + "}", 400),
    ("POST", "/brands/{brand}/rollback", {"revision": BIG}, None, 422),
    ("POST", "/api-keys", {"role": "admin", "partner_id": HUGE}, None, 422),
    ("POST", "/channels/stable/rollback?partner_id={partner}", {"serial": BIG}, None, 422),
    ("POST", "/releases", {"partner_id": BIG, "version": "5.3.0", "platform": "windows-x64"}, None, 422),
    (
        "POST",
        "/releases",
        {
            "partner_id": "{partner}",
            "version": "5.3.0",
            "platform": "windows-x64",
            "installer_url": "https://dl.example/x.exe",
            "sha256": "a" * 64,
            "bytes": HUGE,
        },
        None,
        422,
    ),
    ("PATCH", "/brands/{brand}", {"draft": {"splash_seconds": HUGE}}, None, 422),
    # strings in bodies
    ("POST", "/partners", {"slug": NUL, "name": "x"}, None, 422),
    ("POST", "/partners", {"slug": "acme\n", "name": "x"}, None, 422),  # "$" matches before a final newline
    ("PATCH", "/brands/{brand}", {"draft": {"upgrade_channel": "stable\n"}}, None, 422),
    ("POST", "/partners", None, '{"slug": "ok", "name": ' + SURROGATE + "}", 422),
    ("PATCH", "/brands/{brand}", {"name": NUL}, None, 422),
    ("PATCH", "/brands/{brand}", None, '{"draft": {"product_name": ' + SURROGATE + "}}", 422),
    ("PATCH", "/brands/{brand}", {"draft": {"tray_icon": NUL}}, None, 422),
    ("POST", "/brands/{brand}/access-codes", {"kind": "live", "label": NUL}, None, 422),
    ("POST", "/api-keys", None, '{"role": "operator", "label": ' + SURROGATE + "}", 422),
    ("POST", "/channels/stable/halt?partner_id={partner}", {"reason": NUL}, None, 422),
    ("PUT", "/settings", {"standard_viewer_url": "https://viewer.example/" + NUL}, None, 422),
    ("POST", "/releases", {"partner_id": "{partner}", "version": NUL, "platform": "windows-x64"}, None, 422),
    # upgrade safety: guard, plans, approvals, webhook (docs/upgrades.md § 8-11)
    ("PUT", "/channels/stable/guard", {"partner_id": "{partner}", "min_reports": BIG}, None, 422),
    ("PUT", "/channels/stable/guard", {"partner_id": "{partner}", "window_minutes": HUGE}, None, 422),
    ("PUT", "/channels/stable/guard", None, '{"failure_percent": 1.' + "5" * 5000 + "}", 400),
    ("GET", f"/channels/stable/health?partner_id={BIG}", None, None, 422),
    ("GET", f"/channels/stable/plans/{BIG}?partner_id={{partner}}", None, None, 404),
    (
        "POST",
        "/channels/stable/plans",
        {"partner_id": "{partner}", "release_version": "5.2.0", "steps": [{"percent": 10, "min_successes": BIG}]},
        None,
        422,
    ),
    ("POST", "/channels/stable/plans", {"partner_id": "{partner}", "release_version": NUL, "steps": []}, None, 422),
    ("POST", f"/channels/stable/approvals/{BIG}/approve?partner_id={{partner}}", None, None, 404),
    # two-person activation is off here: refused before the body is read (with it on, the same body
    # is a 422: tests/upgrades/test_approvals.py)
    ("POST", "/channels/stable/approvals?action=activate&partner_id={partner}", None, NESTED, 409),
    ("PUT", "/webhook", {"partner_id": "{partner}", "url": "https://hooks.example/" + NUL}, None, 422),
    ("GET", "/webhook/deliveries?status=%00&partner_id={partner}", None, None, 422),
    ("PUT", "/upgrade-policy", {"partner_id": HUGE, "two_person": True}, None, 422),
    # JSON itself
    ("POST", "/brands", None, NESTED, 400),
    ("POST", "/brands", None, '{"name": ' + NESTED + "}", 400),
    ("POST", "/brands", None, '{"name": "x", "partner_id": 1' + "0" * 80 + "}", 400),
    ("POST", "/brands", None, '{"name": "x", "partner_id": 1.' + "5" * 5000 + "}", 400),
    ("POST", "/channels/stable/control-files?partner_id={partner}", None, NESTED, 422),
    ("POST", "/channels/stable/control-files?partner_id={partner}", None, CONTROL_FILE % SURROGATE, 422),
    ("POST", "/channels/stable/control-files?partner_id={partner}", None, '{"serial": ' + DIGITS + "}", 422),
    ("POST", "/channels/stable/control-files?partner_id={partner}", None, '{"serial": ' + str(HUGE) + "}", 422),
]


def _case_id(case) -> str:
    method, path, body, raw, _ = case
    text = path if raw is None and body is None else json.dumps(body)[:40] if raw is None else raw[:40]
    return f"{method} {path[:50]} {text[:40] if text != path else ''}".strip()


@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_hostile_input_is_a_4xx_problem_and_changes_nothing(db_app, world, case):
    method, path, body, raw, expected = case
    if isinstance(body, dict):  # the partner id is only known now
        body = {k: (world.partner.id if v == "{partner}" else v) for k, v in body.items()}
    before = _stored(db_app)
    response = world.send(method, path, body, raw)
    if expected is None:  # harmless after decoding: answered normally
        assert response.status_code < 500, response.data[:300]
    else:
        assert response.status_code == expected, response.data[:300]
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == expected
        assert response.json.get("detail")
    assert _stored(db_app) == before


def test_field_errors_name_the_field(db_app, world):
    response = world.send("POST", "/brands", {"name": "x", "partner_id": BIG})
    assert list(response.json["errors"]) == ["partner_id"]
    assert "2147483647" in response.json["detail"]
    response = world.send("POST", "/partners", None, '{"slug": "ok", "name": ' + SURROGATE + "}")
    assert response.json["errors"]["name"] == ["Must be valid Unicode text: no unpaired surrogates (\\ud800-\\udfff)."]
    response = world.send("GET", "/audit-events?actor=%00")
    assert response.json["errors"] == {"actor": ["Must not contain NUL (\\u0000) characters."]}
    response = world.send("POST", "/brands", None, NESTED)
    assert response.json["code"] == "malformed_json"
    assert "nested" in response.json["detail"]


def test_the_largest_id_is_an_ordinary_unknown_id(db_app, world):
    response = world.send("GET", f"/partners/{BIG - 1}")
    assert response.status_code == 404
    assert response.json["detail"] == f"No partner with id {BIG - 1}."


@pytest.mark.parametrize(
    "filename", [b"a\x00b.png", b"a\x80\xed\xa0\x80.png", b"x" * 5000 + b".png"], ids=["nul", "bad-utf-8", "overlong"]
)
def test_hostile_upload_filenames_are_refused_or_stored_safely(db_app, world, filename):
    from tests import images

    parts = [
        b'--b\r\nContent-Disposition: form-data; name="role"\r\n\r\nsplash\r\n',
        b'--b\r\nContent-Disposition: form-data; name="partner_id"\r\n\r\n%d\r\n' % world.partner.id,
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: image/png\r\n\r\n" + images.png(640, 360) + b"\r\n--b--\r\n",
    ]
    before = _stored(db_app)
    response = world.operator.client.post(
        ADMIN + "/assets",
        data=b"".join(parts),
        content_type="multipart/form-data; boundary=b",
        headers={"Authorization": f"Bearer {world.operator.key}"},
    )
    assert response.status_code < 500, response.data[:300]
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        assert _stored(db_app) == before
    else:
        assert response.json["filename"].encode("utf-8")  # storable text
        assert "\x00" not in response.json["filename"]
