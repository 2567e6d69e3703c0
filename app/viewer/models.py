"""Tables of the CRM viewer domain: the integrations catalogue (operator-managed, deployment-wide)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow

INTEGRATION_FIELDS = (
    "name",
    "category",
    "logo_sha256",
    "description",
    "features",
    "deployment",
    "platforms",
    "min_client_version",
    "setup_markdown",
    "docs_url",
    "published",
    "position",
)


class Integration(Base):
    """One application the client integrates with, as the viewer pages show it."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(32))
    logo_sha256: Mapped[str | None] = mapped_column(String(64))  # None: a generated placeholder
    description: Mapped[str] = mapped_column(String(300))
    features: Mapped[dict] = mapped_column(JSON)  # feature -> {"support": yes|partial|no, "note": str}
    deployment: Mapped[str] = mapped_column(String(32))
    platforms: Mapped[list] = mapped_column(JSON)
    min_client_version: Mapped[str] = mapped_column(String(32))
    setup_markdown: Mapped[str] = mapped_column(String(20000), default="")
    docs_url: Mapped[str | None] = mapped_column(String(2000))
    published: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


# The catalogue shows on the viewer pages, which read it per request and revalidate by the ETag
# of what they render; no discovery document shows it (those change only with a brand's viewer URL
# or fields), so nothing is announced.
audited_resource(
    Integration,
    "integration",
    snapshot=fields_snapshot("slug", *INTEGRATION_FIELDS),
    announces=NOTHING_PUBLIC,
    ident=lambda row: row.slug,
    partner_of=lambda _row: None,
)
