"""``flask changes prune``: keep the change log small (workers also prune a little as they poll)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from app.cli import _commit, _settings
from app.db import session, utcnow
from app.freshness.services import prune_changes

changes_cli = AppGroup("changes", help="The change log that keeps every worker's public answers fresh.")
PRUNE_BATCH = 1000  # events per transaction: no long lock on a busy table
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: str) -> timedelta:
    number, unit = value[:-1], value[-1:]
    if unit not in _DURATION_UNITS or not number.isdigit():
        raise click.BadParameter(f"{value!r}: give a whole number and a unit, e.g. 90s, 30m, 12h or 7d")
    return timedelta(seconds=int(number) * _DURATION_UNITS[unit])


@changes_cli.command("prune")
@click.option("--older-than", "older_than", help="e.g. 7d, 12h (default: LIVERY_CHANGE_RETENTION_HOURS)")
def changes_prune(older_than: str | None) -> None:
    """Delete change events older than a duration, in small batches (workers also prune a little as they poll)."""
    age = _duration(older_than) if older_than else timedelta(hours=_settings().change_retention_hours)
    if age < timedelta(minutes=1):
        raise click.BadParameter("keep at least 1m: workers read events up to 30 s late", param_hint="--older-than")
    cutoff, total = utcnow() - age, 0
    while deleted := prune_changes(session(), cutoff, limit=PRUNE_BATCH):
        _commit()
        total += deleted
    click.echo(f"pruned {total} change events older than {cutoff.isoformat()}")
