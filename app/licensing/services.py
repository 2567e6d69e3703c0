"""Portal licensing services: resellers, end customers and licensed users, with their allocation
history. Every change goes through ``audited`` (audit event and change announcement; the models
register both). No commits: the caller owns the unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.db import utcnow
from app.formats import MAX_ROW_ID
from app.licensing.models import (
    BULK_KEY,
    USER_STATUSES,
    AllocationEvent,
    Customer,
    LicensedUser,
    Reseller,
    is_allocated,
)
from app.licensing.settings import licence_types_of
from app.licensing.user_ids import InvalidUserId, display_user_id, normalise_user_id
from app.problems import Conflict, ValidationProblem

ORG_FIELDS = ("name", "external_id", "seat_cap")
SCIM_CUSTOMER_NAME = "Provisioned by SCIM"


def _get(session: Session, model: type, ident: object):
    """The row ``ident`` of ``model``, or None (also for ids no row can have)."""
    if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident <= MAX_ROW_ID:
        return None
    return session.get(model, ident)


def _kind(model: type) -> str:
    return "reseller" if model is Reseller else "customer"


def create_org(session: Session, model: type, partner_id: int, fields: dict[str, Any], *, actor: str):
    """A new reseller or customer of ``partner_id`` (a customer's reseller must be the partner's)."""
    if model is Customer and fields.get("reseller_id") is not None:
        reseller = _get(session, Reseller, fields["reseller_id"])
        if reseller is None or reseller.partner_id != partner_id:
            raise ValidationProblem({"reseller_id": ["No such reseller of this partner."]})
    with audited(session, actor, f"{_kind(model)}.create") as change:
        change.row = model(partner_id=partner_id, **fields)
        session.add(change.row)
    return change.row


def update_org(session: Session, row: Reseller | Customer, changes: dict[str, Any], *, actor: str):
    """Change a reseller's or customer's name, external id or seat cap."""
    with audited(session, actor, f"{_kind(type(row))}.update", row):
        for name in ORG_FIELDS:
            if name in changes:
                setattr(row, name, changes[name])
    return row


def delete_org(session: Session, row: Reseller | Customer, *, actor: str) -> None:
    """Delete a reseller or customer that holds nothing any more (409 otherwise)."""
    if isinstance(row, Reseller):
        held = session.scalar(select(func.count()).where(Customer.reseller_id == row.id))
        what = "customers"
    else:
        held = session.scalar(select(func.count()).where(LicensedUser.customer_id == row.id))
        what = "licensed users"
    if held:
        raise Conflict(f"It still has {held} {what}; move or remove them first.", code="not_empty")
    with audited(session, actor, f"{_kind(type(row))}.delete", row):
        session.delete(row)


def _allocation(session: Session, user: LicensedUser, action: str, actor: str) -> None:
    """Record the state ``user`` is in from now on, ending the interval its previous event started."""
    now = utcnow()
    session.execute(
        update(AllocationEvent)
        .where(AllocationEvent.licensed_user_id == user.id, AllocationEvent.allocated_until.is_(None))
        .values(allocated_until=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        AllocationEvent(
            partner_id=user.partner_id,
            licensed_user_id=user.id,
            user_key=user.user_key,
            customer_id=user.customer_id,
            reseller_id=user.reseller_id,
            action=action,
            status=user.status,
            licence_type=user.licence_type,
            actor=actor[:100],
            at=now,
            allocated_until=None if is_allocated(action, user.status) else now,
        )
    )


def check_user_fields(session: Session, partner_id: int, fields: dict[str, Any]) -> dict[str, list[str]]:
    """Field problems of a licensed user's ``fields`` at ``partner_id`` (empty when all is well)."""
    problems: dict[str, list[str]] = {}
    if "user_id" in fields:
        try:
            normalise_user_id(fields["user_id"])
        except InvalidUserId as exc:
            problems["user_id"] = [str(exc)]
    if "customer_id" in fields:
        customer = _get(session, Customer, fields["customer_id"])
        if customer is None or customer.partner_id != partner_id:
            problems["customer_id"] = ["No such customer of this partner."]
    if "licence_type" in fields:
        types = licence_types_of(session, partner_id)
        if fields["licence_type"] not in types:
            problems["licence_type"] = [f"Must be one of this partner's licence types: {', '.join(types)}."]
    if "status" in fields and fields["status"] not in USER_STATUSES:
        problems["status"] = [f"Must be one of {', '.join(USER_STATUSES)}."]
    return problems


def find_user(session: Session, partner_id: int, user_id: str) -> LicensedUser | None:
    """The partner's licensed user whose id matches ``user_id`` by the matching rule, or None."""
    key = normalise_user_id(user_id)
    return session.scalar(
        select(LicensedUser).where(LicensedUser.partner_id == partner_id, LicensedUser.user_key == key)
    )


def add_user(session: Session, partner_id: int, fields: dict[str, Any], *, actor: str) -> LicensedUser:
    """License a user id under a customer; 409 ``duplicate_user_id`` when the partner has it already."""
    fields = {"licence_type": licence_types_of(session, partner_id)[0], "status": "active", **fields}
    problems = check_user_fields(session, partner_id, fields)
    if problems:
        raise ValidationProblem(problems)
    if find_user(session, partner_id, fields["user_id"]) is not None:
        raise Conflict("This partner already licensed this user id (ids match case-insensitively).",
                       code="duplicate_user_id")  # fmt: skip
    customer = session.get(Customer, fields["customer_id"])
    with audited(session, actor, "licensed_user.create") as change:
        change.row = user = LicensedUser(
            partner_id=partner_id,
            customer_id=customer.id,
            reseller_id=customer.reseller_id,
            user_id=display_user_id(fields["user_id"]),
            user_key=normalise_user_id(fields["user_id"]),
            external_id=fields.get("external_id"),
            licence_type=fields["licence_type"],
            status=fields["status"],
        )
        session.add(user)
        session.flush()
        _allocation(session, user, "added", actor)
    return user


def update_user(session: Session, user: LicensedUser, changes: dict[str, Any], *, actor: str) -> LicensedUser:
    """Change a licensed user's id, customer, external id, licence type or status (history kept)."""
    problems = check_user_fields(session, user.partner_id, changes)
    if problems:
        raise ValidationProblem(problems)
    if "user_id" in changes:
        other = find_user(session, user.partner_id, changes["user_id"])
        if other is not None and other.id != user.id:
            raise Conflict("This partner already licensed this user id.", code="duplicate_user_id")
    wanted = dict(changes)
    if "customer_id" in wanted:
        wanted["reseller_id"] = session.get(Customer, wanted["customer_id"]).reseller_id
    if "user_id" in wanted:
        wanted["user_key"] = normalise_user_id(wanted["user_id"])
        wanted["user_id"] = display_user_id(wanted["user_id"])
    if all(getattr(user, name) == value for name, value in wanted.items()):
        return user  # nothing changes: no event, no history row
    renamed = wanted.get("user_key", user.user_key) != user.user_key
    with audited(session, actor, "licensed_user.update", user):
        for name, value in wanted.items():
            setattr(user, name, value)
        session.flush()
        _allocation(session, user, "renamed" if renamed else "changed", actor)
    return user


def remove_user(session: Session, user: LicensedUser, *, actor: str) -> None:
    """Remove a licensed user; its allocation history stays."""
    with audited(session, actor, "licensed_user.delete", user):
        _allocation(session, user, "removed", actor)
        session.delete(user)


def import_users(session: Session, partner_id: int, rows: list, *, actor: str) -> dict[str, int]:
    """Apply parsed CSV ``rows`` all or nothing: new ids are added, known ones updated.

    Every row is checked before anything is written; any bad row raises ValidationProblem whose
    ``errors`` lists each bad line (``{"line": n, "errors": {field: [...]}}``) and nothing changes.
    Each user's change is audited; the partner's users are announced once, not once per row.
    """
    bad = []
    for row in rows:
        problems = {**check_user_fields(session, partner_id, row.fields), **row.errors}
        if problems:
            bad.append({"line": row.line, "errors": problems})
    if bad:
        lines = ", ".join(str(item["line"]) for item in bad[:20])
        raise ValidationProblem(bad, detail=f"{len(bad)} line(s) are wrong ({lines}); nothing was imported.")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    session.info[BULK_KEY] = set()  # partners announced once (models._user_announces)
    try:
        for row in rows:
            user = find_user(session, partner_id, row.fields["user_id"])
            if user is None:
                add_user(session, partner_id, row.fields, actor=actor)
                counts["created"] += 1
                continue
            version = user.version
            update_user(session, user, {k: v for k, v in row.fields.items() if k != "user_id"}, actor=actor)
            counts["updated" if user.version != version else "unchanged"] += 1
    finally:
        session.info.pop(BULK_KEY, None)
    return counts


def scim_customer_id(session: Session, partner_id: int, *, actor: str) -> int:
    """The customer SCIM-provisioned users land under: the configured one, else one made now."""
    from app.licensing.settings import settings_row, update_settings

    row = settings_row(session, partner_id)
    if row is not None and row.scim_customer_id is not None:
        return row.scim_customer_id
    customer = create_org(session, Customer, partner_id, {"name": SCIM_CUSTOMER_NAME}, actor=actor)
    update_settings(
        session, partner_id, {"scim_customer_id": customer.id}, rotate_secret=False, drop_old=False, actor=actor
    )
    return customer.id
