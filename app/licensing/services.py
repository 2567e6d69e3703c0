"""Portal licensing services: resellers, end customers and licensed users, with their allocation
history and audit. No commits: the caller owns the unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.freshness.services import announce_change
from app.licensing.models import USER_STATUSES, AllocationEvent, Customer, LicensedUser, Reseller
from app.licensing.portal_index import index_key
from app.licensing.settings import licence_types_of
from app.licensing.user_ids import InvalidUserId, display_user_id, normalise_user_id
from app.problems import Conflict, ValidationProblem

ORG_FIELDS = ("name", "external_id", "seat_cap")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database; a bigger one names nothing
USER_FIELDS = ("customer_id", "external_id", "licence_type", "status")


def org_snapshot(row: Reseller | Customer) -> dict[str, Any]:
    """A reseller or customer as recorded in the audit log."""
    snap = {"id": row.id, **{name: getattr(row, name) for name in ORG_FIELDS}}
    if isinstance(row, Customer):
        snap["reseller_id"] = row.reseller_id
    return snap


def user_snapshot(user: LicensedUser) -> dict[str, Any]:
    """A licensed user as recorded in the audit log (the id as the partner wrote it is data it owns)."""
    return {"id": user.id, "user_id": user.user_id, **{name: getattr(user, name) for name in USER_FIELDS}}


def _get(session: Session, model: type, ident: object):
    """The row ``ident`` of ``model``, or None (also for ids no row can have)."""
    if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident <= MAX_ID:
        return None
    return session.get(model, ident)


def _kind(row: Reseller | Customer) -> str:
    return "reseller" if isinstance(row, Reseller) else "customer"


def create_org(session: Session, model: type, partner_id: int, fields: dict[str, Any], *, actor: str):
    """A new reseller or customer of ``partner_id`` (a customer's reseller must be the partner's)."""
    if model is Customer and fields.get("reseller_id") is not None:
        reseller = _get(session, Reseller, fields["reseller_id"])
        if reseller is None or reseller.partner_id != partner_id:
            raise ValidationProblem({"reseller_id": ["No such reseller of this partner."]})
    row = model(partner_id=partner_id, **fields)
    session.add(row)
    session.flush()
    kind = _kind(row)
    record_event(
        session,
        actor=actor,
        action=f"{kind}.create",
        resource_type=kind,
        resource_id=row.id,
        partner_id=partner_id,
        after=org_snapshot(row),
    )
    if row.seat_cap is not None:
        announce_change(session, "licensing", partner_id)  # checks follow the new cap
    return row


def update_org(session: Session, row: Reseller | Customer, changes: dict[str, Any], *, actor: str):
    """Change a reseller's or customer's name, external id or seat cap."""
    before = org_snapshot(row)
    for name in ORG_FIELDS:
        if name in changes:
            setattr(row, name, changes[name])
    session.flush()
    kind = _kind(row)
    record_event(
        session,
        actor=actor,
        action=f"{kind}.update",
        resource_type=kind,
        resource_id=row.id,
        partner_id=row.partner_id,
        before=before,
        after=org_snapshot(row),
    )
    if before["seat_cap"] != row.seat_cap:
        announce_change(session, "licensing", row.partner_id)
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
    kind = _kind(row)
    record_event(
        session,
        actor=actor,
        action=f"{kind}.delete",
        resource_type=kind,
        resource_id=row.id,
        partner_id=row.partner_id,
        before=org_snapshot(row),
    )
    session.delete(row)
    session.flush()


def _announce_user(session: Session, user: LicensedUser, old_key: str) -> None:
    # the index key before the change: a renamed or removed user leaves no stale entry behind
    announce_change(session, "licensed_user", f"{user.partner_id}:{user.id}:{index_key(old_key)}")


def _allocation(session: Session, user: LicensedUser, action: str, actor: str) -> None:
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


def add_user(
    session: Session, partner_id: int, fields: dict[str, Any], *, actor: str, announce: bool = True
) -> LicensedUser:
    """License a user id under a customer; 409 ``duplicate_user_id`` when the partner has it already.

    ``announce=False`` leaves announcing to the caller (a bulk import announces once per partner).
    """
    fields = {"licence_type": licence_types_of(session, partner_id)[0], "status": "active", **fields}
    problems = check_user_fields(session, partner_id, fields)
    if problems:
        raise ValidationProblem(problems)
    if find_user(session, partner_id, fields["user_id"]) is not None:
        raise Conflict("This partner already licensed this user id (ids match case-insensitively).",
                       code="duplicate_user_id")  # fmt: skip
    customer = session.get(Customer, fields["customer_id"])
    user = LicensedUser(
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
    if announce:
        _announce_user(session, user, user.user_key)
    record_event(
        session,
        actor=actor,
        action="licensed_user.create",
        resource_type="licensed_user",
        resource_id=user.id,
        partner_id=partner_id,
        after=user_snapshot(user),
    )
    return user


def update_user(
    session: Session, user: LicensedUser, changes: dict[str, Any], *, actor: str, announce: bool = True
) -> LicensedUser:
    """Change a licensed user's id, customer, external id, licence type or status (history kept)."""
    problems = check_user_fields(session, user.partner_id, changes)
    if problems:
        raise ValidationProblem(problems)
    if "user_id" in changes:
        other = find_user(session, user.partner_id, changes["user_id"])
        if other is not None and other.id != user.id:
            raise Conflict("This partner already licensed this user id.", code="duplicate_user_id")
    before = user_snapshot(user)
    old_key = user.user_key
    for name in ("external_id", "licence_type", "status"):
        if name in changes:
            setattr(user, name, changes[name])
    if "customer_id" in changes:
        user.customer_id = changes["customer_id"]
        user.reseller_id = session.get(Customer, changes["customer_id"]).reseller_id
    if "user_id" in changes:
        user.user_id = display_user_id(changes["user_id"])
        user.user_key = normalise_user_id(changes["user_id"])
    if user_snapshot(user) == before:
        return user
    session.flush()
    _allocation(session, user, "changed", actor)
    if announce:
        _announce_user(session, user, old_key)
    record_event(
        session,
        actor=actor,
        action="licensed_user.update",
        resource_type="licensed_user",
        resource_id=user.id,
        partner_id=user.partner_id,
        before=before,
        after=user_snapshot(user),
    )
    return user


def remove_user(session: Session, user: LicensedUser, *, actor: str) -> None:
    """Remove a licensed user; its allocation history stays."""
    _allocation(session, user, "removed", actor)
    _announce_user(session, user, user.user_key)
    record_event(
        session,
        actor=actor,
        action="licensed_user.delete",
        resource_type="licensed_user",
        resource_id=user.id,
        partner_id=user.partner_id,
        before=user_snapshot(user),
    )
    session.delete(user)
    session.flush()


def import_users(session: Session, partner_id: int, rows: list, *, actor: str) -> dict[str, int]:
    """Apply parsed CSV ``rows`` all or nothing: new ids are added, known ones updated.

    Every row is checked before anything is written; any bad row raises ValidationProblem whose
    ``errors`` lists each bad line (``{"line": n, "errors": {field: [...]}}``) and nothing changes.
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
    for row in rows:
        user = find_user(session, partner_id, row.fields["user_id"])
        if user is None:
            add_user(session, partner_id, row.fields, actor=actor, announce=False)
            counts["created"] += 1
            continue
        before = user_snapshot(user)
        changes = {k: v for k, v in row.fields.items() if k != "user_id"}
        update_user(session, user, changes, actor=actor, announce=False)
        counts["updated" if user_snapshot(user) != before else "unchanged"] += 1
    announce_change(session, "licensing", partner_id)  # one reload of the partner's users, not one per row
    return counts


SCIM_CUSTOMER_NAME = "Provisioned by SCIM"


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
