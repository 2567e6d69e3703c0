"""Licensed users (portal method): who may run a partner's client, under which customer.

Ids match case-insensitively after NFC and trimming (docs/licensing.md); ``?user_id=`` searches
by that rule (a prefix of the id). Every change is audited and kept in the allocation history.
CSV import: ``POST /licensed-users/import`` with the file as the body (``text/csv``).
"""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import (
    acting_partner,
    admin_blueprint,
    current_actor,
    load_owned,
    partner_filter,
    read_body,
    require_role,
)
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.licensing.csv_import import CsvRejected, parse_users_csv
from app.licensing.models import USER_STATUSES, LicensedUser
from app.licensing.services import add_user, import_users, remove_user, update_user
from app.licensing.user_ids import InvalidUserId, normalise_user_id
from app.problems import BadRequest, ValidationProblem

blp = admin_blueprint("licensed-users", "Users a partner licenses under its customers (portal method).")
MAX_CSV_BYTES = 16 * 1024 * 1024


def user_etag(user: LicensedUser) -> str:
    """The ETag of a licensed user's current version."""
    return etag_of(user)


class LicensedUserPatch(ma.Schema):
    user_id = fields.String(
        validate=ma.validate.Length(min=1, max=256),
        metadata={"description": "The id the partner's client passes (its login id, usually)."},
    )
    customer_id = fields.Integer(minimum=1, metadata={"description": "The end customer it belongs to."})
    licence_type = fields.String(metadata={"description": "One of the partner's licence types."})
    external_id = fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    status = fields.String(validate=ma.validate.OneOf(USER_STATUSES))


class LicensedUserIn(LicensedUserPatch):
    user_id = fields.String(required=True, validate=ma.validate.Length(min=1, max=256))
    customer_id = fields.Integer(minimum=1, required=True)
    partner_id = fields.Integer(
        minimum=1, load_default=None, metadata={"description": "Operators: the partner it is for."}
    )


class LicensedUserOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    customer_id = fields.Integer()
    reseller_id = fields.Integer(allow_none=True)
    user_id = fields.String()
    matched_as = fields.String(attribute="user_key", metadata={"description": "The id as checks match it."})
    external_id = fields.String(allow_none=True)
    licence_type = fields.String()
    status = fields.String()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    etag = ma.fields.Function(user_etag)


class LicensedUserQuery(PageQuery):
    partner_id = fields.Integer(minimum=1, metadata={"description": "Operators: only this partner's."})
    user_id = fields.String(metadata={"description": "Ids starting with this, by the matching rule."})
    customer_id = fields.Integer(minimum=1)
    reseller_id = fields.Integer(minimum=1)
    status = fields.String(validate=ma.validate.OneOf(USER_STATUSES))


class ImportQuery(ma.Schema):
    partner_id = fields.Integer(
        minimum=1, load_default=None, metadata={"description": "Operators: the partner it is for."}
    )


class ImportOut(ma.Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


@blp.route("/licensed-users", methods=["POST"])
@blp.arguments(LicensedUserIn)
@blp.response(201, LicensedUserOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 422)
def create(data):
    """License a user id under a customer (409 when the partner has it already)."""
    partner = acting_partner(data.pop("partner_id", None))
    actor = require_role("admin")
    user = add_user(session(), partner.id, data, actor=actor.name)
    session().commit()
    return user, {"ETag": user_etag(user)}


@blp.route("/licensed-users", methods=["GET"])
@blp.arguments(LicensedUserQuery, location="query")
@blp.response(200, page_of(LicensedUserOut))
@problems(blp, 404, 422)
def list_users(args):
    """List licensed users; search by user id (prefix, matched case-insensitively)."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(LicensedUser)
    if partner_id is not None:
        stmt = stmt.where(LicensedUser.partner_id == partner_id)
    if args.get("user_id"):
        try:
            prefix = normalise_user_id(args["user_id"])
        except InvalidUserId as exc:
            raise ValidationProblem({"user_id": [str(exc)]}) from None
        stmt = stmt.where(LicensedUser.user_key.startswith(prefix, autoescape=True))
    for name in ("customer_id", "reseller_id", "status"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(LicensedUser, name) == args[name])
    return paginate(stmt, LicensedUser.id, args)


@blp.route("/licensed-users/<int:user_id>", methods=["GET"])
@blp.response(200, LicensedUserOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(user_id):
    """Read a licensed user."""
    user = load_owned(LicensedUser, user_id, "licensed user")
    return user, {"ETag": user_etag(user)}


@blp.route("/licensed-users/<int:user_id>", methods=["PATCH"])
@blp.arguments(LicensedUserPatch)
@blp.response(200, LicensedUserOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 422, 428)
@documents_if_match(blp)
def patch(changes, user_id):
    """Change a licensed user (suspend it, move it, change its licence type...)."""
    user = load_owned(LicensedUser, user_id, "licensed user")
    actor = require_role("admin")
    require_if_match(user_etag(user))
    update_user(session(), user, changes, actor=actor.name)
    session().commit()
    return user, {"ETag": user_etag(user)}


@blp.route("/licensed-users/<int:user_id>", methods=["DELETE"])
@blp.response(204)
@problems(blp, 403, 404, 412, 428)
@documents_if_match(blp)
def delete(user_id):
    """Remove a licensed user (its allocation history stays)."""
    user = load_owned(LicensedUser, user_id, "licensed user")
    actor = require_role("admin")
    require_if_match(user_etag(user))
    remove_user(session(), user, actor=actor.name)
    session().commit()


@blp.route("/licensed-users/import", methods=["POST"])
@blp.arguments(ImportQuery, location="query")
@blp.response(200, ImportOut)
@blp.doc(requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}})
@problems(blp, 400, 403, 404, 413, 422)
def import_csv(args):
    """Import licensed users from CSV, all or nothing; every bad line is reported with its number."""
    partner = acting_partner(args.get("partner_id"))
    actor = require_role("admin")
    try:
        rows = parse_users_csv(read_body(MAX_CSV_BYTES, "A CSV import"))
    except CsvRejected as exc:
        raise BadRequest(str(exc), code="csv_rejected") from None
    counts = import_users(session(), partner.id, rows, actor=actor.name)
    session().commit()
    return counts
