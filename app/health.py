"""Liveness and readiness probes, the metrics page, and the security headers every response carries."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import text

from app.db import session
from app.problems import NotFound, Problem
from app.storage import StorageError

bp = Blueprint("health", __name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers and every object store is reachable and writable."""
    checks: dict[str, str] = {}
    try:
        session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
        checks["database"] = f"error: {exc.__class__.__name__}"
    for name, store in current_app.extensions["livery.stores"].all().items():
        try:
            store.check()
            checks[f"storage.{name}"] = "ok"
        except StorageError as exc:
            checks[f"storage.{name}"] = f"error: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not_ready", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    """Prometheus metrics of every worker; needs ``Authorization: Bearer $LIVERY_METRICS_TOKEN`` (off when unset)."""
    from app.metrics import exposition

    token = current_app.config["LIVERY"].metrics_token
    if not token:
        raise NotFound("Metrics are off: set LIVERY_METRICS_TOKEN to turn them on.")
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Problem(
            "unauthenticated",
            "GET /metrics needs Authorization: Bearer <LIVERY_METRICS_TOKEN>.",
            headers={"WWW-Authenticate": 'Bearer realm="livery-metrics"'},
        )
    response = Response(exposition(), mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


def add_security_headers(app: Flask) -> None:
    """Send the security headers on every response, errors included."""

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
