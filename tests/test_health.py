"""Liveness and readiness probes."""

from __future__ import annotations


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_checks_database_and_every_store(backend_app):
    response = backend_app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert checks == {
        "database": "ok",
        "storage.assets": "ok",
        "storage.installers": "ok",
        "storage.control_files": "ok",
        "public_answers": "ok",
    }


def test_readyz_reports_an_unreachable_store(make_app):
    app = make_app(storage="s3", s3_endpoint_url="http://127.0.0.1:9")
    for store in app.extensions["livery.stores"].all().values():
        store.client.meta.config.retries = {"max_attempts": 1}
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["storage.assets"].startswith(("error", "timeout")) and "storage.assets" in body["down"]


def test_unknown_route_and_method_are_problems(client):
    missing = client.get("/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = client.post("/healthz")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "GET" in wrong.headers["Allow"]
