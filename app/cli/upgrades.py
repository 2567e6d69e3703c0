"""``flask upgrades run-scheduled`` (for cron): rollout plan steps, webhook deliveries, report pruning."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from app.scheduler import run_due

upgrades_cli = AppGroup("upgrades", help="Upgrade safety: rollout plans, webhooks, install reports.")


@upgrades_cli.command("run-scheduled")
def upgrades_run_scheduled() -> None:
    """Advance or pause due rollout plans, send due webhooks, prune old reports (safe to run anywhere, often)."""

    click.echo(json.dumps(run_due(current_app)))
