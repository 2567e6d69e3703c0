"""Tables of the web portal: people who sign in, their server-side sessions and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow

# The admin API's roles (operator; partner admin and viewer) plus reseller users, who see only
# their own reseller's end customers and licensed users.
PORTAL_ROLES = ("operator", "admin", "viewer", "reseller")
ROLE_LABELS = {"operator": "Operator", "admin": "Partner admin", "viewer": "Partner viewer", "reseller": "Reseller"}


class PortalUser(Base):
    """A person who signs in to /portal/. ``partner_id`` is None for operators."""

    __tablename__ = "portal_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None]  # a code is accepted once (no replay within its window)
    recovery_codes: Mapped[list] = mapped_column(JSON, default=list)  # sha256 digests, each used once
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_portal_users_partner_id_id", "partner_id", "id"),)

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret)


class PortalSession(Base):
    """A signed-in browser. The cookie holds a random id; only its sha256 is stored here."""

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_users.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # totp (password checked, second factor due) | full
    csrf_token: Mapped[str] = mapped_column(String(64))
    notice: Mapped[str] = mapped_column(String(500), default="")  # shown once on the next page ("Saved.")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    address_digest: Mapped[str] = mapped_column(String(16), default="")  # never the address itself
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class PortalInvitation(Base):
    """A single-use, expiring link that lets someone set a password and join with a role."""

    __tablename__ = "portal_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")


class PortalPartnerPolicy(Base):
    """A partner's portal rules: whether its people must use a second factor."""

    __tablename__ = "portal_partner_policies"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    require_totp: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


# Emails are personal data: the audit snapshot names a user by id only.
audited_resource(
    PortalUser,
    "portal_user",
    snapshot=fields_snapshot("id", "role", "partner_id", "reseller_id", "status", "totp_enabled"),
    announces=NOTHING_PUBLIC,
)
audited_resource(
    PortalInvitation,
    "portal_invitation",
    snapshot=fields_snapshot("id", "role", "partner_id", "reseller_id", "expires_at", "used_at"),
    announces=NOTHING_PUBLIC,
)
audited_resource(
    PortalPartnerPolicy,
    "portal_partner_policy",
    snapshot=fields_snapshot("partner_id", "require_totp"),
    announces=NOTHING_PUBLIC,
    ident=lambda row: row.partner_id,
)
