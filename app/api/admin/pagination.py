"""The one way every admin list is paginated.

Query ``?limit=`` (1-200, default 50) and ``?cursor=`` (opaque, from the previous page);
response ``{"items": [...], "next_cursor": "..." | null}``; items in ascending id order, so
pages are stable while rows are added. A resource's query schema subclasses :class:`PageQuery`,
its response schema is ``page_of(ItemSchema)`` and the route returns ``paginate(stmt, Model.id, args)``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import marshmallow as ma
from sqlalchemy import Select

from app.api.admin import fields
from app.db import session
from app.json_input import load_json
from app.problems import ValidationProblem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_page_schemas: dict[type, type] = {}


class PageQuery(ma.Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Items per page, 1-{MAX_LIMIT}."},
    )
    cursor = fields.String(
        load_default=None, metadata={"description": "The `next_cursor` of the previous page; omit for the first."}
    )


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The response schema of a page of ``item_schema`` items (one class per item schema)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema").removesuffix("Out") + "Page"
        _page_schemas[item_schema] = ma.Schema.from_dict(
            {
                "items": ma.fields.List(ma.fields.Nested(item_schema)),
                "next_cursor": fields.String(
                    allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last."}
                ),
            },
            name=name,
        )
    return _page_schemas[item_schema]


def encode_cursor(last_id: int) -> str:
    """The opaque cursor of the page after ``last_id``."""
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor continues after; 422 on anything that is not a cursor we issued."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = load_json(base64.urlsafe_b64decode(padded.encode()))["after"]
        if isinstance(after, int) and not isinstance(after, bool) and 0 <= after <= fields.INT_MAX:
            return after
    except (ValueError, KeyError, TypeError, binascii.Error):  # JSONInputError is a ValueError
        pass
    raise ValidationProblem({"cursor": ["Not a valid cursor; use the next_cursor of the previous page."]})


def paginate(stmt: Select, id_column: Any, args: dict[str, Any]) -> dict[str, Any]:
    """One page of ``stmt``'s rows ordered by ``id_column``, as ``{"items", "next_cursor"}``."""
    limit = args.get("limit") or DEFAULT_LIMIT
    if args.get("cursor"):
        stmt = stmt.where(id_column > decode_cursor(args["cursor"]))
    rows = list(session().scalars(stmt.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more and rows else None}
