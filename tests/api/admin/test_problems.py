"""Errors raised the flask-smorest way still leave as problem+json through app/problems.py."""

from __future__ import annotations

from flask_smorest import abort


def test_flask_smorest_abort_becomes_a_problem(app):
    @app.get("/_abort/<kind>")
    def _abort(kind):
        if kind == "message":
            abort(404, message="No such widget.")
        abort(422, errors={"name": ["Must not be empty."]}, headers={"X-Hint": "name"})

    client = app.test_client()
    missing = client.get("/_abort/message")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.json["detail"] == "No such widget."

    invalid = client.get("/_abort/errors")
    assert invalid.status_code == 422 and invalid.mimetype == "application/problem+json"
    assert invalid.json["errors"] == {"name": ["Must not be empty."]}
    assert invalid.json["code"] == "validation_failed"
    assert invalid.headers["X-Hint"] == "name"


def test_webargs_location_is_unwrapped_and_invalid_json_is_a_problem(partner_a):
    response = partner_a.admin.post("/brands", {"draft": {}})
    assert response.json["errors"] == {"name": ["Missing data for required field."]}
    query = partner_a.admin.get("/brands?limit=0")
    assert set(query.json["errors"]) == {"limit"}
    malformed = partner_a.admin.client.post(
        "/admin/v1/brands",
        data=b'{"name": ',
        headers={**partner_a.admin._headers(None, None), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and malformed.mimetype == "application/problem+json"
    assert malformed.json["code"] == "bad_request"
