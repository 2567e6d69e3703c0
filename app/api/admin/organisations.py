"""The shared recipe of the two licensing organisations, resellers and end customers.

Both are named, optionally carry an external id and a seat cap, and are created, listed,
read, changed (If-Match) and deleted (If-Match; 409 while they hold anything) the same way;
``resellers.py`` and ``customers.py`` each register these routes on their own blueprint.
"""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import acting_partner, current_actor, load_owned, partner_filter, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.licensing.services import create_org, delete_org, update_org


class OrgPatch(ma.Schema):
    name = fields.String(validate=ma.validate.Length(min=1, max=200))
    external_id = fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=200),
        metadata={"description": "The partner's own id for it (e.g. from its CRM); optional."},
    )
    seat_cap = fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0),
        metadata={"description": "Most active users it may have; users beyond answer `seat_limit`. null: no cap."},
    )


class OrgIn(OrgPatch):
    name = fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    partner_id = fields.Integer(
        minimum=1, load_default=None, metadata={"description": "Operators: the partner it is for."}
    )


class OrgOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    name = fields.String()
    external_id = fields.String(allow_none=True)
    seat_cap = fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    etag = ma.fields.Function(etag_of)


class OrgQuery(PageQuery):
    partner_id = fields.Integer(minimum=1, metadata={"description": "Operators: only this partner's."})
    name = fields.String(metadata={"description": "Only those whose name contains this (case-insensitive)."})


def register_org_routes(blp, model: type, *, path: str, kind: str, schemas: dict[str, type]) -> None:
    """Add create/list/get/patch/delete routes for ``model`` under ``/{path}`` to ``blp``."""
    what = kind.replace("_", " ")

    @blp.route(f"/{path}", methods=["POST"], endpoint=f"create_{kind}")
    @blp.arguments(schemas["in"])
    @blp.response(201, schemas["out"], headers=ETAG_HEADER)
    @problems(blp, 403, 404, 422)
    @blp.doc(summary=f"Create a {what}.")
    def create(data):
        partner = acting_partner(data.pop("partner_id", None))
        actor = require_role("admin")
        row = create_org(session(), model, partner.id, data, actor=actor.name)
        session().commit()
        return row, {"ETag": etag_of(row)}

    @blp.route(f"/{path}", methods=["GET"], endpoint=f"list_{kind}s")
    @blp.arguments(schemas["query"], location="query")
    @blp.response(200, page_of(schemas["out"]))
    @problems(blp, 404, 422)
    @blp.doc(summary=f"List {what}s (search by name).")
    def list_rows(args):
        current_actor()
        partner_id = partner_filter(args.get("partner_id"))
        stmt = select(model)
        if partner_id is not None:
            stmt = stmt.where(model.partner_id == partner_id)
        if args.get("name"):
            stmt = stmt.where(model.name.ilike(f"%{args['name']}%"))
        for name in schemas.get("filters", ()):
            if args.get(name) is not None:
                stmt = stmt.where(getattr(model, name) == args[name])
        return paginate(stmt, model.id, args)

    @blp.route(f"/{path}/<int:row_id>", methods=["GET"], endpoint=f"get_{kind}")
    @blp.response(200, schemas["out"], headers=ETAG_HEADER)
    @problems(blp, 404)
    @blp.doc(summary=f"Read a {what}.")
    def get(row_id):
        row = load_owned(model, row_id, what)
        return row, {"ETag": etag_of(row)}

    @blp.route(f"/{path}/<int:row_id>", methods=["PATCH"], endpoint=f"update_{kind}")
    @blp.arguments(OrgPatch)
    @blp.response(200, schemas["out"], headers=ETAG_HEADER)
    @problems(blp, 403, 404, 412, 422, 428)
    @documents_if_match(blp)
    @blp.doc(summary=f"Change a {what}'s name, external id or seat cap.")
    def patch(changes, row_id):
        row = load_owned(model, row_id, what)
        actor = require_role("admin")
        require_if_match(etag_of(row))
        update_org(session(), row, changes, actor=actor.name)
        session().commit()
        return row, {"ETag": etag_of(row)}

    @blp.route(f"/{path}/<int:row_id>", methods=["DELETE"], endpoint=f"delete_{kind}")
    @blp.response(204)
    @problems(blp, 403, 404, 409, 412, 428)
    @documents_if_match(blp)
    @blp.doc(summary=f"Delete a {what} that holds nothing any more.")
    def delete(row_id):
        row = load_owned(model, row_id, what)
        actor = require_role("admin")
        require_if_match(etag_of(row))
        delete_org(session(), row, actor=actor.name)
        session().commit()
