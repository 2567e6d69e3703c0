"""Optimistic concurrency for admin resources: ETags from (kind, id, version) and If-Match.

Reads send ``ETag``; every PATCH/PUT/DELETE/publish must send ``If-Match`` with it:
428 without one, 412 when it is stale. The check is backed by the row's ``version`` column
(SQLAlchemy ``version_id_col``), so two writers that both passed the header check still cannot
both win: the second UPDATE matches no row, SQLAlchemy raises StaleDataError and the
handler registered here answers 412.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.api.conditional import match
from app.audit.resources import resource_of
from app.formats import canonical_json, sha256_hex
from app.problems import Conflict, Problem, problem_response

STALE_DETAIL = "The resource changed since you read it; GET it again and retry with its new ETag."


class PreconditionRequired(Problem):
    def __init__(self) -> None:
        super().__init__(
            "precondition_required",
            "Send If-Match with the ETag of your last GET, so that you cannot overwrite someone else's change.",
        )


class PreconditionFailed(Problem):
    def __init__(self, detail: str = STALE_DETAIL) -> None:
        super().__init__("precondition_failed", detail)


def etag_for(kind: str, ident: object, version: object) -> str:
    """A strong ETag for version ``version`` of resource ``kind``/``ident``."""
    return '"' + hashlib.sha256(f"{kind}:{ident}:{version}".encode()).hexdigest()[:24] + '"'


def etag_of(row: Any) -> str:
    """The ETag of an audited row's current version: its mapper's version column (the one the
    lost-update check uses), or for a model without one a digest of its audit snapshot."""
    row = getattr(row, "__wrapped__", row)  # a row shown with extra values (spec.WithExtra)
    resource = resource_of(row)
    mapper = sa_inspect(type(row))
    if mapper.version_id_col is not None:
        version = getattr(row, mapper.get_property_by_column(mapper.version_id_col).key)
    else:
        version = sha256_hex(canonical_json(resource.snapshot(row)))[:16]
    return etag_for(resource.type, resource.ident(row), version)


IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "schema": {"type": "string"},
    "description": "The ETag of your last read of this resource (428 without it, 412 when stale).",
}


ETAG_HEADER = {
    "ETag": {
        "description": "This version of the resource (also the body's `etag`): send it as If-Match to change it.",
        "schema": {"type": "string"},
    }
}


def documents_if_match(blp):
    """Decorator: show the If-Match header in the OpenAPI document (and so in the explorer)."""
    return blp.doc(parameters=[IF_MATCH_PARAMETER])


def require_if_match(etag: str) -> None:
    """Refuse the write unless ``If-Match`` names ``etag`` (428 when absent, 412 when stale)."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    if not match(header, etag):
        raise PreconditionFailed()


def register_concurrency_errors(app: Flask) -> None:
    """Lost updates caught by the database become 412; unique-key races become 409."""

    @app.errorhandler(StaleDataError)
    def _stale(_exc: StaleDataError):
        return problem_response(PreconditionFailed())

    @app.errorhandler(IntegrityError)
    def _integrity(_exc: IntegrityError):
        return problem_response(
            Conflict("This conflicts with a change made at the same time; read the resource again and retry.")
        )
