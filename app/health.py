"""Liveness and readiness probes, the metrics page, and the security headers every response carries."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import text

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
    """Liveness: the process answers (no dependency is asked)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers, the public answers are loaded, every object store is reachable.

    The probes run in parallel, each given ``LIVERY_READINESS_TIMEOUT`` seconds; a probe that has
    not answered by then reports ``timeout`` (a hung dependency) and is left to its own bounded wait.
    """
    app = current_app._get_current_object()  # the probes run in threads, outside the app context
    probes: dict[str, Callable[[], str]] = {"database": lambda: _database(app)}
    for name, store in app.extensions["livery.stores"].all().items():
        probes[f"storage.{name}"] = lambda store=store: _store(store)
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="livery-readyz")
    futures = {name: pool.submit(probe) for name, probe in probes.items()}
    pool.shutdown(wait=False)
    wait(futures.values(), timeout=app.config["LIVERY"].readiness_timeout)
    checks = {name: future.result() if future.done() else "timeout" for name, future in futures.items()}
    answers = app.extensions["livery.public"]
    if not answers.loaded and checks["database"] == "ok":
        answers.refresh()
    checks["public_answers"] = "ok" if answers.loaded else "not loaded (database unavailable)"
    down = [name for name, value in checks.items() if value != "ok"]
    body = {"status": "not_ready" if down else "ready", "checks": checks}
    if down:
        body["down"] = down
    return jsonify(body), 503 if down else 200


def _database(app: Flask) -> str:
    health = app.extensions["livery.db_health"]
    if not health.attempt_due():
        return f"error: unreachable (next attempt in {health.retry_after()} s)"
    try:
        with app.extensions["livery.engine"].connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
        return f"error: {exc.__class__.__name__}"


def _store(store) -> str:
    try:
        store.check()
        return "ok"
    except StorageError as exc:
        return f"error: {exc}"


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
