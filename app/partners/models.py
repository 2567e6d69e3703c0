"""Tables of the partners domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource
from app.db import Base, UTCDateTime, utcnow

PARTNER_STATUSES = ("onboarding", "live", "suspended")
KEY_ROLES = ("operator", "admin", "viewer")


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="onboarding")
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


def partner_snapshot(partner: Partner) -> dict[str, Any]:
    """A partner as recorded in the audit log."""
    return {"id": partner.id, "slug": partner.slug, "name": partner.name, "status": partner.status}


def api_key_snapshot(key: ApiKey) -> dict[str, Any]:
    """An API key as recorded in the audit log (never the key or its digest)."""
    return {
        "id": key.id,
        "role": key.role,
        "prefix": key.prefix,
        "label": key.label,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


# A partner's status decides whether its codes answer; settings show in every discovery document.
audited_resource(
    Partner,
    "partner",
    snapshot=partner_snapshot,
    announces=lambda _s, partner, _b: [("partner", partner.id)],
    partner_of=lambda partner: partner.id,
)
audited_resource(ApiKey, "api_key", snapshot=api_key_snapshot, announces=NOTHING_PUBLIC)
audited_resource(
    OperatorSetting,
    "setting",
    snapshot=lambda row: {"value": row.value},
    announces=lambda _s, row, _b: [("settings", row.name)],
    ident=lambda row: row.name,
    partner_of=lambda _row: None,
)
