"""Errors as RFC 9457 ``application/problem+json``: one exception type, one handler for all.

Every error a client or partner can see has a stable ``code`` (also the last segment of its
``type`` URI) so that callers can branch on it without parsing prose. The codes are a closed,
registered set (``PROBLEM_TYPES``, shown in docs/problems.md): the code fixes status and title.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, json, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.db_health import DatabaseUnavailable
from app.storage import StorageError, StoreUnreachable

PROBLEM_TYPE_BASE = "https://livery.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
WEBARGS_LOCATIONS = frozenset({"json", "query", "querystring", "form", "files", "headers", "cookies", "view_args"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProblemType:
    """One registered problem ``code``: its HTTP status (None: the status of the error it maps) and title."""

    code: str
    status: int | None
    title: str


# The closed set of codes clients and partners may branch on, shown (with when each is answered)
# in docs/problems.md; tests/test_problems_registry.py keeps the two equal. Problem refuses any
# other code.
PROBLEM_TYPES: dict[str, ProblemType] = {
    t.code: t
    for t in (
        ProblemType("bad_request", 400, "Bad request"),
        ProblemType("malformed_json", 400, "Malformed JSON"),
        ProblemType("csv_rejected", 400, "CSV rejected"),
        ProblemType("usage_report_rejected", 400, "Usage report rejected"),
        ProblemType("idempotency_key_required", 400, "Idempotency key required"),
        ProblemType("invalid_version", 400, "Invalid version"),
        ProblemType("invalid_platform", 400, "Invalid platform"),
        ProblemType("invalid_install_id", 400, "Invalid install id"),
        ProblemType("malformed_json", 400, "Malformed JSON"),
        ProblemType("unauthenticated", 401, "Unauthenticated"),
        ProblemType("insufficient_role", 403, "Insufficient role"),
        ProblemType("partner_suspended", 403, "Partner suspended"),
        ProblemType("csrf_failed", 403, "Form check failed"),
        ProblemType("partner_not_live", 403, "Partner not live"),
        ProblemType("not_found", 404, "Not found"),
        ProblemType("method_not_allowed", 405, "Method not allowed"),
        ProblemType("conflict", 409, "Conflict"),
        ProblemType("duplicate_slug", 409, "Duplicate slug"),
        ProblemType("duplicate_user_id", 409, "Duplicate user id"),
        ProblemType("duplicate_email", 409, "Duplicate email"),
        ProblemType("not_empty", 409, "Not empty"),
        ProblemType("month_not_ended", 409, "Month not ended"),
        ProblemType("idempotency_key_reused", 409, "Idempotency key reused"),
        ProblemType("already_revoked", 409, "Already revoked"),
        ProblemType("release_exists", 409, "Release exists"),
        ProblemType("external_installer", 409, "External installer"),
        ProblemType("release_not_draft", 409, "Release not draft"),
        ProblemType("invalid_transition", 409, "Invalid transition"),
        ProblemType("installer_missing", 409, "Installer missing"),
        ProblemType("partner_not_ready", 409, "Partner not ready"),
        ProblemType("approval_required", 409, "Approval required"),
        ProblemType("approval_already_asked", 409, "Approval already asked"),
        ProblemType("two_person_off", 409, "Two-person activation off"),
        ProblemType("plan_conflict", 409, "Plan conflict"),
        ProblemType("licensing_not_configured", 409, "Licensing not configured"),
        ProblemType("licensing_not_verified", 409, "Licensing web service not verified"),
        ProblemType("request_timeout", 408, "Request timeout"),
        ProblemType("gone", 410, "Gone"),
        ProblemType("precondition_failed", 412, "Precondition failed"),
        ProblemType("payload_too_large", 413, "Payload too large"),
        ProblemType("batch_too_large", 413, "Batch too large"),
        ProblemType("unsupported_media_type", 415, "Unsupported media type"),
        ProblemType("validation_failed", 422, "Validation failed"),
        ProblemType("control_file_invalid", 422, "Invalid control file"),
        ProblemType("precondition_required", 428, "Precondition required"),
        ProblemType("too_many_requests", 429, "Too many requests"),
        ProblemType("too_many_reports", 429, "Too many reports"),
        ProblemType("internal_error", 500, "Internal server error"),
        ProblemType("storage_unavailable", 503, "Service unavailable"),
        ProblemType("database_unavailable", 503, "Service unavailable"),
        ProblemType("control_file_corrupt", 503, "Service unavailable"),
        ProblemType("http_error", None, "HTTP error"),
    )
}
# Werkzeug's (and webargs', flask-smorest's) errors by status; any other status is http_error.
HTTP_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "too_many_requests",
    500: "internal_error",
}
STORAGE_RETRY_AFTER = "5"  # seconds: an outage of the object store is usually short


class Problem(Exception):
    """An error answer: a registered ``code`` (which fixes status and title) and a detail saying what to fix."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        errors: dict[str, Any] | list[Any] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        kind = PROBLEM_TYPES.get(code)
        if kind is None:
            raise ValueError(f"unregistered problem code {code!r}: add it to app.problems.PROBLEM_TYPES")
        if kind.status is not None and status not in (None, kind.status):
            raise ValueError(f"problem code {code!r} is status {kind.status}, not {status}")
        super().__init__(detail or kind.title)
        self.status = status or kind.status or 500
        self.code = code
        self.title = kind.title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    def to_dict(self) -> dict[str, Any]:
        """The problem document's members."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


class NotFound(Problem):
    def __init__(self, detail: str = "No such resource.", **kw: Any) -> None:
        super().__init__("not_found", detail, **kw)


class Gone(Problem):
    def __init__(self, detail: str, **kw: Any) -> None:
        super().__init__("gone", detail, **kw)


class BadRequest(Problem):
    def __init__(self, detail: str, code: str = "bad_request", **kw: Any) -> None:
        super().__init__(code, detail, status=400, **kw)


class ValidationProblem(Problem):
    """422 with per-field messages: ``errors`` maps a field (dotted for nested) to messages."""

    def __init__(self, errors: dict[str, Any] | list[Any], detail: str | None = None) -> None:
        if detail is None:
            detail = "The request is well-formed but breaks these rules: " + _summarise(errors)
        super().__init__("validation_failed", detail, errors=errors)


class Conflict(Problem):
    def __init__(self, detail: str, code: str = "conflict", **kw: Any) -> None:
        super().__init__(code, detail, status=409, **kw)


class PayloadTooLarge(Problem):
    """413: the body is larger than ``limit`` bytes (raised before it is read)."""

    def __init__(self, limit: int, what: str = "The body") -> None:
        super().__init__("payload_too_large", f"{what} may be at most {limit} bytes.")


class UnsupportedMediaType(Problem):
    """415: the body is not of the media type the route reads; ``detail`` says which to send."""

    def __init__(self, detail: str) -> None:
        super().__init__("unsupported_media_type", detail)


class StorageUnavailable(Problem):
    """503 with Retry-After: the object store is unreachable; nothing was changed."""

    def __init__(
        self,
        detail: str = "Object storage is unreachable; nothing was changed. Retry later.",
        retry_after: int | str = STORAGE_RETRY_AFTER,
    ) -> None:
        super().__init__("storage_unavailable", detail, headers={"Retry-After": str(retry_after)})

    @classmethod
    def after(cls, exc: StorageError, detail: str | None = None) -> StorageUnavailable:
        """The problem for ``exc``, retried when the store's schedule says (StoreUnreachable) or in 5 s."""
        retry_after = exc.retry_after if isinstance(exc, StoreUnreachable) else STORAGE_RETRY_AFTER
        return cls(detail, retry_after) if detail else cls(retry_after=retry_after)


class DatabaseDown(Problem):
    """503 with Retry-After: the database is unreachable (refused, stopped or hung); nothing was changed."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "database_unavailable",
            "The database is unreachable; nothing was changed. Retry later.",
            headers={"Retry-After": str(retry_after)},
        )


def _summarise(errors: dict[str, Any] | list[Any], prefix: str = "") -> str:
    parts: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], (dict, list))):
                parts.append(_summarise(value, name + "."))
            elif isinstance(value, list):
                parts.append(f"{name}: {' '.join(str(v) for v in value)}")
            else:
                parts.append(f"{name}: {value}")
    else:
        parts.extend(str(item) for item in errors)
    return "; ".join(p for p in parts if p)


def problem_response(problem: Problem, *, head: bool = False) -> Response:
    """Serialise ``problem`` as a problem+json response (no body for HEAD)."""
    body = b"" if head else json.dumps(problem.to_dict()).encode()
    response = Response(body, status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> Problem:
    status = exc.code or 500
    code = HTTP_STATUS_CODES.get(status, "http_error")
    detail = exc.description
    data = getattr(exc, "data", None)  # flask-smorest / webargs attach validation messages here
    if isinstance(data, dict) and data.get("message"):
        detail = str(data["message"])  # flask_smorest.abort(status, message=...)
    headers = dict(data.get("headers") or {}) if isinstance(data, dict) else {}
    if isinstance(data, dict) and ("messages" in data or "errors" in data):
        messages = data.get("messages", data.get("errors"))
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in WEBARGS_LOCATIONS:
            # webargs nests messages under the location ("json", "query", "files", ...)
            messages = next(iter(messages.values()))
        if status == 422:
            problem = ValidationProblem(messages) if detail == exc.description else ValidationProblem(messages, detail)
        else:
            problem = Problem(code, _summarise(messages), status=status, errors=messages)
        problem.headers.update(headers)
        return problem
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return Problem(code, detail, status=status, headers=headers)


def register_error_handlers(app: Flask) -> None:
    """Route every error, ours or Werkzeug's or an unexpected one, through problem+json."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc, head=request.method == "HEAD")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return problem_response(_from_http_exception(exc), head=request.method == "HEAD")

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError):
        # the object store is down: a retryable outage, not a bug; writes stored nothing (they
        # happen before the commit), so the client can simply try again. A store known to be down
        # was logged (and counted) once by its DependencyHealth, not per request.
        from app.metrics import count_dependency_error  # not at import: see gunicorn.conf.py

        if not isinstance(exc, StoreUnreachable):
            # the route's name, not its path: a path may hold an access code
            log.warning("object storage unavailable on %s %s: %s", request.method, request.endpoint, exc)
            count_dependency_error("object_store")
        return problem_response(StorageUnavailable.after(exc), head=request.method == "HEAD")

    @app.errorhandler(DatabaseUnavailable)
    def _database_down(exc: DatabaseUnavailable):
        # logged once by DatabaseHealth when the state changed, not per request
        return problem_response(DatabaseDown(exc.retry_after), head=request.method == "HEAD")

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database_error(exc: DBAPIError | PoolTimeout):
        if isinstance(exc, DBAPIError) and not (
            isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated
        ):
            return _unexpected(exc)
        # lost connection, refused connect, statement timeout, no free pooled connection, a locked
        # SQLite file: retryable
        health = current_app.extensions["livery.db_health"]
        retry_after = 1 if health.up else health.retry_after()
        return problem_response(DatabaseDown(retry_after), head=request.method == "HEAD")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.endpoint)
        problem = Problem("internal_error", "An unexpected error occurred; it has been logged.")
        return problem_response(problem, head=request.method == "HEAD")
