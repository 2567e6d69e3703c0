"""Tables of the upgrades domain: releases (installers), channels and their control files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.audit.resources import NOTHING_PUBLIC, audited_resource, fields_snapshot
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
    # the automatic halt guard (app/upgrades/health.py): failure share in basis points, minimum
    # finished installs and window; reports before ``guard_since`` (the last resume) are not counted
    guard_enabled: Mapped[bool] = mapped_column(default=True)
    guard_failure_bp: Mapped[int] = mapped_column(default=500)
    guard_min_reports: Mapped[int] = mapped_column(default=50)
    guard_window_minutes: Mapped[int] = mapped_column(default=60)
    guard_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
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


class InstallReport(Base):
    """One upgrade outcome an installed client reported (``POST /v1/upgrade/{code}/reports``).

    Facts observed, not changes someone made: no audit event. One row per (partner, install,
    target version, outcome), so a client's retries are idempotent and one install adds at most
    four rows per target version.
    """

    __tablename__ = "install_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(63))
    install_id: Mapped[str] = mapped_column(String(128))
    from_version: Mapped[str] = mapped_column(String(64))
    to_version: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    serial: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("partner_id", "install_id", "to_version", "outcome"),
        Index("ix_install_reports_partner_id_id", "partner_id", "id"),
        # the part of a minute counted exactly (app/upgrades/guard.py counts_since)
        Index("ix_install_reports_received", "partner_id", "channel", "received_at"),
    )


class InstallReportMinute(Base):
    """How many reports of one outcome arrived for one target release in one minute (health's window).

    Written with the reports they count (only reports actually inserted, so retries count once);
    a channel's health over the last hour sums at most 60 rows per release and outcome.
    """

    __tablename__ = "install_report_minutes"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(63), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    to_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


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
    snapshot=fields_snapshot(
        "name",
        "active_serial",
        "halted",
        "halt_reason",
        "guard_enabled",
        "guard_failure_bp",
        "guard_min_reports",
        "guard_window_minutes",
    ),
    announces=lambda _s, channel, _b: [("channel", _channel_key(channel))],
    ident=_channel_key,
)


PLAN_STATES = ("active", "paused", "completed", "cancelled")


class RolloutPlan(Base):
    """Steps that raise one release's rollout in a channel, each only while the rollout is healthy.

    ``steps`` is ``[{"percent", "hold_hours", "min_successes"}, ...]``; ``current_step`` is the
    index of the step in effect since ``step_started_at``. The scheduler advances it
    (app/upgrades/plans.py); every step change is an activation of a control file.
    """

    __tablename__ = "rollout_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    release_version: Mapped[str] = mapped_column(String(64))
    steps: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active")
    current_step: Mapped[int] = mapped_column(default=0)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pause_reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class PlanEvent(Base):
    """One entry of a plan's timeline: started, advanced, paused, resumed, completed, cancelled."""

    __tablename__ = "rollout_plan_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("rollout_plans.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[int]
    percent: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Approval(Base):
    """A second person's approval of one activation or resume, bound to the digest of what was approved.

    ``content_sha256`` is the digest of the control file's bytes (activate) or of the halted
    channel's state (resume); a change to either gives another digest, so the approval no longer
    matches and is void.
    """

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # activate | resume
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | used | void
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[str] = mapped_column(String(100), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class UpgradePolicy(Base):
    """A partner's upgrade options; no row: the defaults (one person may activate and resume)."""

    __tablename__ = "upgrade_policies"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    two_person: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


audited_resource(
    UpgradePolicy,
    "upgrade_policy",
    snapshot=fields_snapshot("two_person"),
    announces=NOTHING_PUBLIC,
    ident=lambda row: row.partner_id,
)
audited_resource(
    RolloutPlan,
    "rollout_plan",
    snapshot=fields_snapshot("release_version", "steps", "status", "current_step", "pause_reason"),
    announces=NOTHING_PUBLIC,  # its steps reach clients as control-file activations, announced there
)
audited_resource(
    Approval,
    "approval",
    snapshot=fields_snapshot("action", "content_sha256", "status", "requested_by", "approved_by"),
    announces=NOTHING_PUBLIC,
)
