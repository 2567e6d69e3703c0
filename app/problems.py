"""Errors as RFC 9457 ``application/problem+json``: one exception type, one handler for all.

Every error a client or partner can see has a stable ``code`` (also the last segment of its
``type`` URI) so that callers can branch on it without parsing prose.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, json, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.db_health import DatabaseUnavailable
from app.storage import StorageError, StorageUnavailable

PROBLEM_TYPE_BASE = "https://livery.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
WEBARGS_LOCATIONS = frozenset({"json", "query", "querystring", "form", "files", "headers", "cookies", "view_args"})

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error answer: HTTP status, stable code, human title and a detail saying what to fix."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: dict[str, Any] | list[Any] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
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
        super().__init__(404, "not_found", "Not found", detail, **kw)


class Gone(Problem):
    def __init__(self, detail: str, **kw: Any) -> None:
        super().__init__(410, "gone", "Gone", detail, **kw)


class BadRequest(Problem):
    def __init__(self, detail: str, code: str = "bad_request", **kw: Any) -> None:
        super().__init__(400, code, "Bad request", detail, **kw)


class ValidationProblem(Problem):
    """422 with per-field messages: ``errors`` maps a field (dotted for nested) to messages."""

    def __init__(self, errors: dict[str, Any] | list[Any], detail: str | None = None) -> None:
        if detail is None:
            detail = "The request is well-formed but breaks these rules: " + _summarise(errors)
        super().__init__(422, "validation_failed", "Validation failed", detail, errors=errors)


class Conflict(Problem):
    def __init__(self, detail: str, code: str = "conflict", **kw: Any) -> None:
        super().__init__(409, code, "Conflict", detail, **kw)


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


def database_unavailable(retry_after: int) -> Problem:
    """503 while the database cannot be reached: nothing was changed, retry after ``retry_after`` s."""
    return Problem(
        503,
        "database_unavailable",
        "Service unavailable",
        "The database is unreachable; nothing was changed. Retry later.",
        headers={"Retry-After": str(retry_after)},
    )


def storage_unavailable(
    retry_after: int = 5, detail: str = "Object storage is unreachable; nothing was changed. Retry later."
) -> Problem:
    """503 while the object store cannot be reached: retry after ``retry_after`` s."""
    return Problem(503, "storage_unavailable", "Service unavailable", detail, headers={"Retry-After": str(retry_after)})


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
    code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    detail = exc.description
    errors = None
    data = getattr(exc, "data", None)  # flask-smorest / webargs attach validation messages here
    if isinstance(data, dict) and data.get("message"):
        detail = str(data["message"])  # flask_smorest.abort(status, message=...)
    if isinstance(data, dict) and ("messages" in data or "errors" in data):
        messages = data.get("messages", data.get("errors"))
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in WEBARGS_LOCATIONS:
            # webargs nests messages under the location ("json", "query", "files", ...)
            messages = next(iter(messages.values()))
        errors = messages
        if status == 422:
            problem = ValidationProblem(errors) if detail == exc.description else ValidationProblem(errors, detail)
        else:
            problem = Problem(status, code, exc.name, _summarise(errors), errors=errors)
        problem.headers.update(data.get("headers") or {})
        return problem
    headers = dict(data.get("headers") or {}) if isinstance(data, dict) else {}
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return Problem(status, code, exc.name or "Error", detail, errors=errors, headers=headers)


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
        # was logged once by its DependencyHealth, not per request.
        if not isinstance(exc, StorageUnavailable):
            log.warning("object storage unavailable on %s %s: %s", request.method, request.path, exc)
        problem = storage_unavailable(getattr(exc, "retry_after", 5))
        return problem_response(problem, head=request.method == "HEAD")

    @app.errorhandler(DatabaseUnavailable)
    def _database_down(exc: DatabaseUnavailable):
        # logged once by DatabaseHealth when the state changed, not per request
        return problem_response(database_unavailable(exc.retry_after), head=request.method == "HEAD")

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
        return problem_response(database_unavailable(retry_after), head=request.method == "HEAD")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        problem = Problem(
            500, "internal_error", "Internal server error", "An unexpected error occurred; it has been logged."
        )
        return problem_response(problem, head=request.method == "HEAD")
