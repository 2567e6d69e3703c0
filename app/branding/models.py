"""Tables of the branding domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow

CODE_KINDS = ("live", "test")
CODE_STATUSES = ("active", "revoked")
CODE_FIELDS = ("id", "prefix", "kind", "label", "status", "channel", "expires_at", "revoked_at", "brand_id")


class Brand(Base):
    """One white-label product. ``draft`` is the editable content; revisions are published copies."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)  # the branded viewer's URL: /viewer/{slug}
    draft: Mapped[dict] = mapped_column(JSON)
    live_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("brand_revisions.id", use_alter=True, ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_brands_partner_id_id", "partner_id", "id"),)


class BrandRevision(Base):
    """An immutable published copy of a brand's content.

    ``number`` is the one revision number: every publish, a rollback included, takes the next one,
    and discovery's ``revision`` is the live revision's ``number``.
    """

    __tablename__ = "brand_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    number: Mapped[int]
    content: Mapped[dict] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    rollback_of: Mapped[int | None]
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (UniqueConstraint("brand_id", "number"),)


class Asset(Base):
    """An uploaded image, content-addressed; the bytes live in the assets object store."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    role: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("partner_id", "role", "sha256"),)


class AccessCode(Base):
    """A code installed clients launch with; only its sha256 digest is stored."""

    __tablename__ = "access_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(8), default="active")
    channel: Mapped[str | None] = mapped_column(String(63))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("access_codes.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_access_codes_partner_id_id", "partner_id", "id"),)


# Discovery documents show brands (draft and published) and answer by code; an asset is shown only
# once a brand refers to it, and that brand change announces itself.
audited_resource(
    Brand,
    "brand",
    snapshot=fields_snapshot("id", "name", "slug", "draft", "live_revision_id"),
    announces=lambda _s, brand, _b: [("brand", brand.id)],
)
audited_resource(
    AccessCode,
    "access_code",
    snapshot=fields_snapshot(*CODE_FIELDS),
    announces=lambda _s, code, _b: [("code", code.digest)],
)
audited_resource(
    Asset,
    "asset",
    snapshot=fields_snapshot("sha256", "role", "media_type", "bytes", "width", "height"),
    announces=NOTHING_PUBLIC,
    ident=lambda asset: asset.sha256,
)
