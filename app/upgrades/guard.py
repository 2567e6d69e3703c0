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
from app.upgrades.models import Channel, InstallReportMinute
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


def window_start(channel: Channel, now: datetime) -> datetime:
    """The first minute counted: the window's start, or the first whole minute after the last resume."""
    start = now - timedelta(minutes=channel.guard_window_minutes)
    if channel.guard_since is not None and channel.guard_since > start:
        start = channel.guard_since
    return start


def channel_health(session: Session, channel: Channel, now: datetime) -> dict[str, ReleaseHealth]:
    """ReleaseHealth per target release of ``channel`` over its guard's window, ending at ``now``."""
    since = window_start(channel, now)
    rows = session.execute(
        select(InstallReportMinute.to_version, InstallReportMinute.outcome, func.sum(InstallReportMinute.count))
        .where(
            InstallReportMinute.partner_id == channel.partner_id,
            InstallReportMinute.channel == channel.name,
            InstallReportMinute.minute >= since,
        )
        .group_by(InstallReportMinute.to_version, InstallReportMinute.outcome)
    )
    return health_from_counts((version, outcome, int(count)) for version, outcome, count in rows)


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
