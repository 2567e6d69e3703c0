"""Health per channel and target release, and the automatic halt: load, decide (health.py), store.

``evaluate_guard`` runs after every batch of install reports is written (app/upgrades/reports.py)
for the channels the batch touched. A tripped guard halts the channel through ``set_halt``
(audited, announced to every worker, a webhook queued) with a reason that names the evidence.
No commits: the caller owns the unit of work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.upgrades.health import GuardSettings, ReleaseHealth, first_tripped, halt_reason, health_from_counts
from app.upgrades.models import Channel, InstallReport, InstallReportMinute
from app.upgrades.services import find_channel, set_halt

GUARD_ACTOR = "guard"


def guard_of(channel: Channel) -> GuardSettings:
    """The channel's guard settings."""
    return GuardSettings(
        enabled=channel.guard_enabled,
        failure_bp=channel.guard_failure_bp,
        min_reports=channel.guard_min_reports,
        window_minutes=channel.guard_window_minutes,
    )


def guard_changes(settings: dict) -> dict:
    """Channel columns from guard settings as the admin API and the portal take them (percent -> basis points)."""
    columns = {
        "enabled": ("guard_enabled", bool),
        "failure_percent": ("guard_failure_bp", lambda percent: round(percent * 100)),  # 2 decimals kept
        "min_reports": ("guard_min_reports", int),
        "window_minutes": ("guard_window_minutes", int),
    }
    return {columns[k][0]: columns[k][1](v) for k, v in settings.items() if k in columns}


def window_start(channel: Channel, now: datetime) -> datetime:
    """When counting starts: the window's start, or the last resume if that is later."""
    start = now - timedelta(minutes=channel.guard_window_minutes)
    if channel.guard_since is not None and channel.guard_since > start:
        start = channel.guard_since
    return start


def counts_since(
    session: Session, partner_id: int, channel: str, since: datetime, version: str | None = None
) -> dict[str, ReleaseHealth]:
    """ReleaseHealth per target release from ``since`` on, exactly.

    Whole minutes come from the per-minute counts; the part of the minute ``since`` falls in
    (at most a minute of reports) from the reports themselves, so a resume or a plan step that
    began mid-minute counts nothing from before it.
    """
    boundary = since.replace(second=0, microsecond=0)
    if boundary < since:
        boundary += timedelta(minutes=1)
    minutes = select(InstallReportMinute.to_version, InstallReportMinute.outcome, func.sum(InstallReportMinute.count))
    minutes = minutes.where(
        InstallReportMinute.partner_id == partner_id,
        InstallReportMinute.channel == channel,
        InstallReportMinute.minute >= boundary,
    ).group_by(InstallReportMinute.to_version, InstallReportMinute.outcome)
    rows = list(
        session.execute(minutes if version is None else minutes.where(InstallReportMinute.to_version == version))
    )
    if boundary > since:
        partial = select(InstallReport.to_version, InstallReport.outcome, func.count())
        partial = partial.where(
            InstallReport.partner_id == partner_id,
            InstallReport.channel == channel,
            InstallReport.received_at >= since,
            InstallReport.received_at < boundary,
        ).group_by(InstallReport.to_version, InstallReport.outcome)
        rows += session.execute(partial if version is None else partial.where(InstallReport.to_version == version))
    return health_from_counts((v, o, int(n)) for v, o, n in rows)


def channel_health(session: Session, channel: Channel, now: datetime) -> dict[str, ReleaseHealth]:
    """ReleaseHealth per target release of ``channel`` over its guard's window, ending at ``now``."""
    return counts_since(session, channel.partner_id, channel.name, window_start(channel, now))


def health_document(session: Session, channel: Channel, now: datetime) -> dict[str, object]:
    """The channel's health as the admin API and explain show it."""
    guard = guard_of(channel)
    healths = channel_health(session, channel, now)
    tripped = first_tripped(healths, guard)
    return {
        "channel": channel.name,
        "window_minutes": guard.window_minutes,
        "since": window_start(channel, now).isoformat(),
        "evaluated_at": now.isoformat(),
        "halted": channel.halted,
        "halt_reason": channel.halt_reason or None,
        "guard": {
            "enabled": guard.enabled,
            "failure_percent": float(guard.failure_percent),
            "min_reports": guard.min_reports,
            "window_minutes": guard.window_minutes,
            "tripped_by": tripped.version if tripped else None,
        },
        "releases": [h.to_dict() for h in healths.values()],
    }


def evaluate_guard(session: Session, partner_id: int, name: str, now: datetime) -> str | None:
    """Halt channel ``name`` when its guard trips; the halt reason, or None when nothing changed."""
    channel = find_channel(session, partner_id, name)
    if channel is None or channel.halted or channel.active_serial is None or not channel.guard_enabled:
        return None
    tripped = first_tripped(channel_health(session, channel, now), guard_of(channel))
    if tripped is None:
        return None
    reason = halt_reason(tripped, guard_of(channel))
    set_halt(session, channel, halted=True, reason=reason, actor=GUARD_ACTOR)
    return reason
