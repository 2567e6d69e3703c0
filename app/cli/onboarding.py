"""``flask onboarding run-scheduled`` (for cron) and ``flask viewer load-catalogue``."""

from __future__ import annotations

import json

import click
from flask import current_app

from app.cli import CLI_ACTOR, _ProblemsAsClickErrors
from app.db import session, utcnow
from app.onboarding.services import run_scheduled
from app.viewer.services import SEED_FILE, load_catalogue

onboarding_cli = _ProblemsAsClickErrors("onboarding", help="Onboarding to go-live.")
viewer_cli = _ProblemsAsClickErrors("viewer", help="The CRM viewer's integrations catalogue.")


@onboarding_cli.command("run-scheduled")
def onboarding_run_scheduled() -> None:
    """Make live every partner whose scheduled go-live has come and who is ready (safe to run anywhere, often)."""
    keys = current_app.extensions["livery.upgrades"].published_key_count
    results = run_scheduled(session(), utcnow(), signing_keys=keys)
    session().commit()
    click.echo(json.dumps(results))


@viewer_cli.command("load-catalogue")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=str(SEED_FILE), show_default=True)
def viewer_load_catalogue(path: str) -> None:
    """Create or update the catalogue from a JSON file (by slug); entries not in the file are kept."""
    from pathlib import Path

    created, updated = load_catalogue(session(), Path(path), actor=CLI_ACTOR)
    session().commit()
    click.echo(f"catalogue: {created} created, {updated} updated")
