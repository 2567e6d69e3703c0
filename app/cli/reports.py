"""``flask --app wsgi reports close --month YYYY-MM [--partner SLUG] [--reason TEXT]``: the month
close for a scheduler (docs/billing.md gives a cron line and a systemd timer)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.billing.counting import InvalidMonth, month_bounds
from app.billing.reports import close_month
from app.db import session, utcnow
from app.partners.models import Partner
from app.problems import Problem

CLI_ACTOR = "cli:reports"

reports_cli = AppGroup("reports", help="Monthly usage reports (docs/billing.md).")


def previous_month() -> str:
    """The month before the current one (UTC), as YYYY-MM."""
    now = utcnow()
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year:04d}-{month:02d}"


@reports_cli.command("close")
@click.option("--month", default=None, help="YYYY-MM (UTC); default: the previous month.")
@click.option("--partner", "slug", default=None, help="Only this partner (slug); default: every partner.")
@click.option("--reason", default="", help="Correct a closed month: a new version with this reason.")
def reports_close(month: str | None, slug: str | None, reason: str) -> None:
    """Close an ended month: one stored, versioned report per partner; prints one JSON line per partner."""
    month = month or previous_month()
    try:
        month_bounds(month)
    except InvalidMonth as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    stmt = select(Partner.id, Partner.slug).order_by(Partner.id)
    if slug is not None:
        stmt = stmt.where(Partner.slug == slug)
    partners = session().execute(stmt).all()
    if slug is not None and not partners:
        raise click.ClickException(f"no partner {slug!r}")
    for partner_id, partner_slug in partners:
        try:
            report, made = close_month(session(), partner_id, month, actor=CLI_ACTOR, now=utcnow(), reason=reason)
        except Problem as exc:
            raise click.ClickException(f"{exc.title}: {exc.detail}") from None
        session().commit()
        line = {
            "partner": partner_slug,
            "month": month,
            "version": report.version,
            "closed_now": made,
            "users": report.totals["users"],
            "csv_sha256": report.csv_sha256,
        }
        click.echo(json.dumps(line))
