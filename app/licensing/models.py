"""Tables of the licensing domain: portal users under resellers and end customers, their
allocation history, each partner's licensing settings and the usage facts billing counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow

USER_STATUSES = ("active", "suspended")
ALLOCATION_ACTIONS = ("added", "changed", "renamed", "removed")
DEFAULT_LICENCE_TYPES = ["standard"]


class _Organisation:
    """What resellers and end customers share: a partner, a name, an external id and a seat cap."""

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    seat_cap: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Reseller(_Organisation, Base):
    """A partner's reseller; its end customers' users count against its optional seat cap."""

    __tablename__ = "resellers"
    __mapper_args__ = {"version_id_col": _Organisation.version}
    __table_args__ = (Index("ix_resellers_partner_id_id", "partner_id", "id"),)


class Customer(_Organisation, Base):
    """An end customer, directly under the partner or under one of its resellers (fixed at creation)."""

    __tablename__ = "customers"

    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id", ondelete="RESTRICT"), index=True)

    __mapper_args__ = {"version_id_col": _Organisation.version}
    __table_args__ = (Index("ix_customers_partner_id_id", "partner_id", "id"),)


class LicensedUser(Base):
    """A user id a partner licensed under one of its customers (portal method).

    ``user_key`` is the id after ``normalise_user_id`` (unique per partner); ``user_id`` keeps
    the id as the partner wrote it. Seats go to the oldest active users first (ascending id).
    """

    __tablename__ = "licensed_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id", ondelete="RESTRICT"))
    user_id: Mapped[str] = mapped_column(String(256))
    user_key: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(200))
    licence_type: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16), default="active")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("partner_id", "user_key"),
        Index("ix_licensed_users_partner_id_id", "partner_id", "id"),
        Index("ix_licensed_users_customer_id_status_id", "customer_id", "status", "id"),
        Index("ix_licensed_users_reseller_id_status_id", "reseller_id", "status", "id"),
    )


class AllocationEvent(Base):
    """Who added, changed, renamed or removed which licensed user, when: the monthly count reads this.

    Rows outlive the user they describe (no foreign key to licensed_users). Each event starts an
    interval of the user's state that lasts until its next event: ``allocated_until`` is where the
    allocation it starts ends (null while it lasts; the event's own instant when the state it
    starts is not allocated), so a month's count reads only the events whose interval overlaps
    the month (billing), not the whole history. A ``renamed`` event carries the new id.
    """

    __tablename__ = "allocation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    licensed_user_id: Mapped[int]
    user_key: Mapped[str] = mapped_column(String(256))
    customer_id: Mapped[int | None]
    reseller_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # the user's status after the change
    licence_type: Mapped[str] = mapped_column(String(63))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    allocated_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_allocation_events_partner_id_at", "partner_id", "at"),
        Index("ix_allocation_events_partner_id_allocated_until", "partner_id", "allocated_until"),
        Index("ix_allocation_events_licensed_user_id_allocated_until", "licensed_user_id", "allocated_until"),
    )


def is_allocated(action: str, status: str) -> bool:
    """Whether the state an allocation event starts counts as allocated (present and active)."""
    return action != "removed" and status == "active"


class LicensingSettings(Base):
    """One partner's licensing settings; absent means every default."""

    __tablename__ = "licensing_settings"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    licence_types: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_LICENCE_TYPES))
    lease_days: Mapped[int] = mapped_column(default=7)
    grace_lease_hours: Mapped[int] = mapped_column(default=24)
    grace_max_hours: Mapped[int] = mapped_column(default=72)
    positive_cache_seconds: Mapped[int] = mapped_column(default=900)
    negative_cache_seconds: Mapped[int] = mapped_column(default=60)
    web_service_url_template: Mapped[str] = mapped_column(String(2000), default="")
    # signing secrets of requests to the partner's web service, newest first (two during rotation)
    web_service_secrets: Mapped[list] = mapped_column(JSON, default=list)
    proprietary_adapter: Mapped[str] = mapped_column(String(63), default="")
    proprietary_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    method_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    scim_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class UsageFact(Base):
    """A user's first successful check of a calendar month (UTC) at one partner, and later counters."""

    __tablename__ = "usage_facts"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    user_key: Mapped[str] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(16))
    licence_type: Mapped[str | None] = mapped_column(String(63))
    first_check_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_check_at: Mapped[datetime] = mapped_column(UTCDateTime)
    check_count: Mapped[int] = mapped_column(default=1)

    __table_args__ = (UniqueConstraint("partner_id", "month", "user_key"),)


# -- how each table is audited and announced (app/audit/resources.py) ------------------------
# allocation_events and usage_facts are history and facts written beside audited changes.
# session.info: during a bulk import, the partners already announced (once each, not once per user)
BULK_KEY = "livery.licensing.bulk"


def _org_announces(_session, row, before):
    # checks depend on seat caps only
    if (before or {}).get("seat_cap") != row.seat_cap:
        return [("licensing", row.partner_id)]
    return []


def _user_announces(session, user, before):
    """One licensed user changed: the index reloads its row and drops its previous key."""
    from app.licensing.portal_index import index_key

    bulk = session.info.get(BULK_KEY)
    if bulk is not None:  # a bulk import: the partner's whole user list reloads, once
        if user.partner_id in bulk:
            return []
        bulk.add(user.partner_id)
        return [("licensing", user.partner_id)]
    previous = before["user_key"] if before else user.user_key
    return [("licensed_user", f"{user.partner_id}:{user.id}:{index_key(previous)}")]


def _settings_snapshot(row):
    from app.licensing.settings import redacted, settings_values

    return redacted(settings_values(row))  # never a secret in the audit log


audited_resource(
    Reseller, "reseller", snapshot=fields_snapshot("id", "name", "external_id", "seat_cap"), announces=_org_announces
)
audited_resource(
    Customer,
    "customer",
    snapshot=fields_snapshot("id", "name", "external_id", "seat_cap", "reseller_id"),
    announces=_org_announces,
)
audited_resource(
    LicensedUser,
    "licensed_user",
    snapshot=fields_snapshot(
        "id", "user_id", "user_key", "customer_id", "reseller_id", "external_id", "licence_type", "status"
    ),
    announces=_user_announces,
)
audited_resource(
    LicensingSettings,
    "licensing_settings",
    snapshot=_settings_snapshot,
    announces=lambda _s, row, _b: [("licensing", row.partner_id)],
    ident=lambda row: row.partner_id,
)
