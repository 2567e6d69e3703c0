"""``flask portal ...``: portal users, invitations and the pruning of ended sessions (docs/portal.md)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import click
from sqlalchemy import select

from app.cli import CLI_ACTOR, _commit, _emit, _partner, _ProblemsAsClickErrors, _settings
from app.db import session, utcnow
from app.portal import accounts, sessions
from app.portal.models import PORTAL_ROLES

portal_cli = _ProblemsAsClickErrors("portal", help="Web portal users, invitations and sessions.")


def _scope(role: str, partner_slug: str | None) -> int | None:
    if role == "operator":
        if partner_slug:
            raise click.BadParameter("operators belong to no partner", param_hint="--partner")
        return None
    if not partner_slug:
        raise click.BadParameter(f"a {role} user needs --partner", param_hint="--partner")
    return _partner(partner_slug).id


def invitation_link(token: str) -> str:
    """The URL an invited person opens."""
    return f"{_settings().public_base_url.rstrip('/')}/portal/invitations/{token}"


@portal_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(PORTAL_ROLES), required=True)
@click.option("--partner", "partner_slug", help="The partner's slug (every role but operator).")
@click.option("--reseller-id", type=int, help="Reseller users: the reseller they manage.")
@click.option("--json", "as_json", is_flag=True)
def create_user(email: str, role: str, partner_slug: str | None, reseller_id: int | None, as_json: bool) -> None:
    """Create a portal user with a random password (shown once); operators also get TOTP (secret shown once)."""
    password = secrets.token_urlsafe(15)
    user = accounts.create_user(
        session(),
        email=email,
        password=password,
        role=role,
        actor=CLI_ACTOR,
        partner_id=_scope(role, partner_slug),
        reseller_id=reseller_id,
    )
    out = {"email": user.email, "role": role, "password": password}
    if role == "operator":
        secret = accounts.new_totp_secret()
        out["totp_secret"] = secret
        out["recovery_codes"] = " ".join(accounts.set_totp(session(), user, secret, actor=CLI_ACTOR))
    _commit()
    _emit(out, as_json)


@portal_cli.command("invite")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(PORTAL_ROLES), required=True)
@click.option("--partner", "partner_slug")
@click.option("--reseller-id", type=int)
@click.option("--json", "as_json", is_flag=True)
def invite(email: str, role: str, partner_slug: str | None, reseller_id: int | None, as_json: bool) -> None:
    """Print a single-use invitation link (valid LIVERY_PORTAL_INVITATION_HOURS)."""
    row, token = accounts.invite(
        session(),
        email=email,
        role=role,
        actor=CLI_ACTOR,
        now=utcnow(),
        valid_for=timedelta(hours=_settings().portal_invitation_hours),
        partner_id=_scope(role, partner_slug),
        reseller_id=reseller_id,
    )
    _commit()
    _emit({"email": row.email, "role": row.role, "expires_at": row.expires_at, "link": invitation_link(token)}, as_json)


@portal_cli.command("prune-sessions")
def prune_sessions() -> None:
    """Delete sessions ended more than LIVERY_PORTAL_SESSION_RETENTION_DAYS ago (cron, daily)."""
    settings = _settings()
    timeouts = sessions.Timeouts(
        timedelta(minutes=settings.portal_idle_minutes), timedelta(hours=settings.portal_absolute_hours)
    )
    count = sessions.prune(session(), utcnow(), timedelta(days=settings.portal_session_retention_days), timeouts)
    _commit()
    click.echo(f"deleted {count} ended portal sessions")


@portal_cli.command("erase-user")
@click.option("--email", required=True)
def erase_user(email: str) -> None:
    """Delete a portal user and their sessions (erasure of personal data; audit events name ids only)."""
    from app.portal.models import PortalUser

    user = session().scalar(select(PortalUser).where(PortalUser.email == accounts.normalise_email(email)))
    if user is None:
        raise click.ClickException("no portal user with this email")
    session().delete(user)
    _commit()
    click.echo("deleted")
