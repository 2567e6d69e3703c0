"""``flask upgrades run-scheduled`` (for cron): rollout plan steps, webhook deliveries, report pruning."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli import _commit, _partner
from app.db import session
from app.scheduler import run_due
from app.upgrades.reports import forget_install

upgrades_cli = AppGroup("upgrades", help="Upgrade safety: rollout plans, webhooks, install reports.")


@upgrades_cli.command("run-scheduled")
def upgrades_run_scheduled() -> None:
    """Advance or pause due rollout plans, send due webhooks, prune old reports (safe to run anywhere, often)."""

    click.echo(json.dumps(run_due(current_app)))


@upgrades_cli.command("forget-install")
@click.option("--partner", "slug", required=True, help="the partner's slug")
@click.argument("install_id")
def upgrades_forget_install(slug: str, install_id: str) -> None:
    """Delete every install report of INSTALL_ID (an erasure request; counts without ids stay)."""
    deleted = forget_install(session(), _partner(slug).id, install_id)
    _commit()
    click.echo(f"deleted {deleted} install reports")
