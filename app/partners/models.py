"""Tables of the partners domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow

PARTNER_STATUSES = ("onboarding", "live", "suspended")
KEY_ROLES = ("operator", "admin", "viewer")


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="onboarding")
    go_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # scheduled go-live (app/onboarding)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class ApiKey(Base):
    """A bearer key. ``partner_id`` is None for operator keys. Only the digest is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_api_keys_partner_id_id", "partner_id", "id"),)


class OperatorSetting(Base):
    """Deployment-wide settings operators change at run time (e.g. the standard viewer URL)."""

    __tablename__ = "operator_settings"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# A partner's status decides whether its codes answer; settings show in every discovery document.
audited_resource(
    Partner,
    "partner",
    snapshot=fields_snapshot("id", "slug", "name", "status", "go_live_at"),
    announces=lambda _s, partner, _b: [("partner", partner.id)],
    partner_of=lambda partner: partner.id,
)
# never an API key or its digest in the audit log
audited_resource(
    ApiKey, "api_key", snapshot=fields_snapshot("id", "role", "prefix", "label", "revoked_at"), announces=NOTHING_PUBLIC
)
audited_resource(
    OperatorSetting,
    "setting",
    snapshot=fields_snapshot("value"),
    announces=lambda _s, row, _b: [("settings", row.name)],
    ident=lambda row: row.name,
    partner_of=lambda _row: None,
)
