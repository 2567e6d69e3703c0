"""Tables of the upgrades domain: releases (installers), channels and their control files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.audit.resources import audited_resource, fields_snapshot
from app.db import Base, UTCDateTime, utcnow

RELEASE_STATUSES = ("draft", "published", "yanked")
INSTALLER_SOURCES = ("stored", "external")


class Release(Base):
    """A partner's installer for one version and platform.

    ``source`` says where the installer lives: ``stored`` in the installers object store under its
    sha256 (uploaded through Livery, digest and size computed here), or ``external`` at a
    partner-hosted https URL with a declared digest and size. ``sha256``/``bytes`` are None until a
    stored release's installer has been uploaded.
    """

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    external_url: Mapped[str | None] = mapped_column(String(2000))
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    release_notes_url: Mapped[str | None] = mapped_column(String(2000))
    # what clients save the installer as (a safe base name with its extension); None: derived from the version
    file_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # "version" is the release's own version string here, so the optimistic-lock counter has another name
    row_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (
        UniqueConstraint("partner_id", "version", "platform"),
        Index("ix_releases_partner_id_id", "partner_id", "id"),
    )


class Channel(Base):
    """A partner's upgrade channel (``stable``, ``beta``, ...): its active control file and halt switch."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    active_serial: Mapped[int | None]
    halted: Mapped[bool] = mapped_column(default=False)
    halt_reason: Mapped[str] = mapped_column(String(500), default="")
    halted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    halted_by: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("partner_id", "name"),)


class ControlFile(Base):
    """One accepted control file of a channel; its bytes live in the control_files object store.

    Never changed once written: activating an earlier one (rollback) writes a copy with a new serial.
    """

    __tablename__ = "control_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    serial: Mapped[int]
    schema_version: Mapped[int]
    object_key: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int]
    rollback_of: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (UniqueConstraint("channel_id", "serial"),)


RELEASE_FIELDS = (
    "id",
    "version",
    "platform",
    "source",
    "external_url",
    "sha256",
    "bytes",
    "release_notes_url",
    "file_name",
    "status",
)


def _release_announces(session: Session, release: Release, before: dict[str, Any] | None) -> list[tuple[str, str]]:
    # Upgrade answers show published releases (their notes URLs, file names) and skip yanked ones: a change to a
    # release that is and was a draft shows nowhere; any other may change every channel of the partner.
    if release.status == "draft" and (before is None or before["status"] == "draft"):
        return []
    names = session.scalars(select(Channel.name).where(Channel.partner_id == release.partner_id))
    return [("channel", f"{release.partner_id}:{name}") for name in names]


def _channel_key(channel: Channel) -> str:
    return f"{channel.partner_id}:{channel.name}"


audited_resource(Release, "release", snapshot=fields_snapshot(*RELEASE_FIELDS), announces=_release_announces)
audited_resource(
    Channel,
    "channel",
    snapshot=fields_snapshot("name", "active_serial", "halted", "halt_reason"),
    announces=lambda _s, channel, _b: [("channel", _channel_key(channel))],
    ident=_channel_key,
)
