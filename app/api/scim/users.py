"""/scim/v2/Users: create, filter, read, replace, PATCH and delete a partner's licensed users."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from sqlalchemy import false, func, select

from app.api.scim import bp, caller, scim_response
from app.api.scim.protocol import ScimError, list_response, parse_filter, patch_changes, user_fields, user_resource
from app.db import session
from app.formats import MAX_ROW_ID
from app.licensing.models import LicensedUser
from app.licensing.services import add_user, remove_user, scim_customer_id, update_user
from app.licensing.user_ids import InvalidUserId, normalise_user_id

MAX_COUNT = 200


def _base_url() -> str:
    return current_app.config["LIVERY"].public_base_url.rstrip("/")


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ScimError(400, "The body must be JSON.", "invalidSyntax")
    return body


def _answer(user: LicensedUser, status: int = 200) -> Any:
    resource = user_resource(user, _base_url())
    headers = {"ETag": resource["meta"]["version"], "Location": resource["meta"]["location"]}
    return scim_response(resource, status, headers)


def _owned(user_id: str) -> LicensedUser:
    user = session().get(LicensedUser, int(user_id)) if user_id.isdigit() and int(user_id) <= MAX_ROW_ID else None
    if user is None or user.partner_id != caller().partner_id:
        raise ScimError(404, f"No User with id {user_id}.")
    if_match = request.headers.get("If-Match")
    if if_match and if_match.strip() not in ("*", f'W/"{user.version}"'):
        raise ScimError(412, "The User changed since you read it.")
    return user


def _int_arg(name: str, default: int, lowest: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit():
        raise ScimError(400, f"{name} must be an integer.", "invalidValue")
    return max(lowest, int(raw))


@bp.post("/Users")
def create_user():
    """Provision a user (201; 409 uniqueness when the partner has its userName)."""
    fields = user_fields(_body())
    who = caller()
    fields.setdefault("customer_id", None)
    if fields["customer_id"] is None:
        fields["customer_id"] = scim_customer_id(session(), who.partner_id, actor=who.actor)
    user = add_user(session(), who.partner_id, fields, actor=who.actor)
    session().commit()
    return _answer(user, 201)


@bp.get("/Users")
def list_users():
    """Users of the partner, optionally filtered by userName or externalId (exact, RFC 7644 §3.4.2)."""
    who = caller()
    start = _int_arg("startIndex", 1, 1)
    count = min(_int_arg("count", 100, 0), MAX_COUNT)
    stmt = select(LicensedUser).where(LicensedUser.partner_id == who.partner_id)
    if request.args.get("filter"):
        attribute, value = parse_filter(request.args["filter"])
        if attribute == "userName":
            try:
                stmt = stmt.where(LicensedUser.user_key == normalise_user_id(value))
            except InvalidUserId:
                stmt = stmt.where(false())  # no user has an invalid id
        else:
            stmt = stmt.where(LicensedUser.external_id == value)
    total = session().scalar(select(func.count()).select_from(stmt.subquery())) or 0
    users = session().scalars(stmt.order_by(LicensedUser.id).offset(start - 1).limit(count)).all()
    return scim_response(list_response([user_resource(u, _base_url()) for u in users], total, start))


@bp.get("/Users/<user_id>")
def get_user(user_id: str):
    """One user."""
    return _answer(_owned(user_id))


@bp.put("/Users/<user_id>")
def replace_user(user_id: str):
    """Replace a user's userName, externalId, active and licensing extension."""
    user = _owned(user_id)
    fields = user_fields(_body())
    fields.setdefault("external_id", None)
    update_user(session(), user, fields, actor=caller().actor)
    session().commit()
    return _answer(user)


@bp.patch("/Users/<user_id>")
def patch_user(user_id: str):
    """Change attributes with a PatchOp; identity providers use it to (de)activate a user."""
    user = _owned(user_id)
    update_user(session(), user, patch_changes(_body()), actor=caller().actor)
    session().commit()
    return _answer(user)


@bp.delete("/Users/<user_id>")
def delete_user(user_id: str):
    """Deprovision a user (204); its allocation history stays."""
    user = _owned(user_id)
    remove_user(session(), user, actor=caller().actor)
    session().commit()
    return scim_response(None, 204)
