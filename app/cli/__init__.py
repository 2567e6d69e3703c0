"""Operator commands: ``flask --app wsgi <group> <command>``.

The admin API (docs/admin-api.md) is how partners and operators work; these commands are for
bootstrap (the first operator key), scripting on the server and the demo.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app import migrate
from app.branding.content import ASSET_ROLES, CONTENT_FIELDS
from app.branding.models import CODE_KINDS, Brand
from app.branding.services import (
    add_asset,
    create_brand,
    find_code,
    issue_code,
    publish_draft,
    revoke_code,
    update_draft,
)
from app.db import session
from app.onboarding.services import change_status
from app.partners.models import PARTNER_STATUSES, Partner
from app.partners.services import create_api_key, create_partner
from app.problems import Problem

CLI_ACTOR = "cli:operator"


def _settings():
    return current_app.config["LIVERY"]


def _commit() -> None:
    session().commit()


def _emit(data: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


def _parse_fields(pairs: tuple[str, ...]) -> dict:
    """``--set name=value`` pairs; a value is JSON when it parses as JSON (null, numbers), else text."""
    fields = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected name=value, got {pair!r}", param_hint="--set")
        if name not in CONTENT_FIELDS and name != "install_folder":
            raise click.BadParameter(f"unknown field {name!r}; fields: {', '.join(CONTENT_FIELDS)}", param_hint="--set")
        try:
            fields[name] = json.loads(raw)
        except json.JSONDecodeError:
            fields[name] = raw
    return fields


def _partner(slug: str) -> Partner:
    partner = session().scalar(select(Partner).where(Partner.slug == slug))
    if partner is None:
        raise click.ClickException(f"no partner {slug!r}")
    return partner


def _discovery_url(plain: str) -> str:
    from app.branding.document import discovery_url

    return discovery_url(_settings().public_base_url, plain)


def _brand(brand_id: int) -> Brand:
    brand = session().get(Brand, brand_id)
    if brand is None:
        raise click.ClickException(f"no brand {brand_id}")
    return brand


class _ProblemsAsClickErrors(AppGroup):
    """Show domain problems (validation errors, conflicts) as one clear line, exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Problem as exc:
            raise click.ClickException(f"{exc.title}: {exc.detail}") from None


db_cli = AppGroup("db", help="Database schema (Alembic).")
partner_cli = _ProblemsAsClickErrors("partner", help="Partners.")
brand_cli = _ProblemsAsClickErrors("brand", help="Brands, drafts and publishing.")
asset_cli = _ProblemsAsClickErrors("asset", help="Brand images.")
code_cli = _ProblemsAsClickErrors("code", help="Access codes.")
operator_cli = _ProblemsAsClickErrors("operator", help="Operator keys.")
keys_cli = AppGroup("keys", help="Ed25519 keys that sign upgrade answers (LIVERY_SIGNING_KEYS_DIR).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: head)."""
    migrate.upgrade(_settings().database_url, revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (``base`` removes everything)."""
    migrate.downgrade(_settings().database_url, revision)


@partner_cli.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--json", "as_json", is_flag=True)
def partner_create(slug: str, name: str, as_json: bool) -> None:
    """Create a partner (status onboarding)."""
    partner = create_partner(session(), slug=slug, name=name, actor=CLI_ACTOR)
    _commit()
    _emit({"id": partner.id, "slug": partner.slug, "status": partner.status}, as_json)


@partner_cli.command("set-status")
@click.argument("slug")
@click.argument("status", type=click.Choice(PARTNER_STATUSES))
def partner_set_status(slug: str, status: str) -> None:
    """Move a partner to STATUS (going live needs readiness; suspended partners' codes answer 410)."""
    keys = current_app.extensions["livery.upgrades"].published_key_count
    change_status(session(), _partner(slug), status, actor=CLI_ACTOR, signing_keys=keys)
    _commit()
    click.echo(f"{slug}: {status}")


@brand_cli.command("create")
@click.option("--partner", "partner_slug", required=True)
@click.option("--name", required=True, help="Internal name of the brand.")
@click.option("--set", "pairs", multiple=True, help="field=value, repeatable.")
@click.option("--json", "as_json", is_flag=True)
def brand_create(partner_slug: str, name: str, pairs: tuple[str, ...], as_json: bool) -> None:
    """Create a brand; its draft is the defaults plus --set fields."""
    brand = create_brand(session(), _partner(partner_slug), name, _parse_fields(pairs), actor=CLI_ACTOR)
    _commit()
    _emit({"id": brand.id, "name": brand.name, "draft": brand.draft}, as_json)


@brand_cli.command("edit")
@click.argument("brand_id", type=int)
@click.option("--set", "pairs", multiple=True, required=True, help="field=value, repeatable.")
def brand_edit(brand_id: int, pairs: tuple[str, ...]) -> None:
    """Change fields of a brand's draft (test codes see it at once)."""
    brand = update_draft(session(), _brand(brand_id), _parse_fields(pairs), actor=CLI_ACTOR)
    _commit()
    click.echo(json.dumps(brand.draft, indent=2))


@brand_cli.command("publish")
@click.argument("brand_id", type=int)
def brand_publish(brand_id: int) -> None:
    """Publish the draft as the next revision (live codes see it)."""
    revision, created = publish_draft(session(), _brand(brand_id), actor=CLI_ACTOR)
    _commit()
    click.echo(f"published revision {revision.number}" if created else f"unchanged: revision {revision.number} is live")


@asset_cli.command("add")
@click.option("--partner", "partner_slug", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(ASSET_ROLES),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def asset_add(partner_slug: str, role: str, path: Path) -> None:
    """Upload an image for ROLE; prints its sha256 to use in the brand's draft."""
    asset, _created = _add_asset(_partner(partner_slug), role, path)
    _commit()
    click.echo(asset.sha256)


def _add_asset(partner: Partner, role: str, path: Path):
    return add_asset(
        session(),
        current_app.extensions["livery.stores"].assets,
        partner,
        role,
        path.read_bytes(),
        actor=CLI_ACTOR,
        filename=path.name,
        max_bytes=_settings().max_asset_bytes,
    )


@code_cli.command("issue")
@click.option("--brand", "brand_id", required=True, type=int)
@click.option("--kind", type=click.Choice(CODE_KINDS), default="live", show_default=True)
@click.option("--label", default="")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
    help="UTC unless an offset is given.",
)
@click.option("--json", "as_json", is_flag=True)
def code_issue(brand_id: int, kind: str, label: str, expires: datetime | None, as_json: bool) -> None:
    """Issue an access code; it is shown once, only its digest is kept."""
    if expires is not None and expires.tzinfo is None:
        from datetime import UTC

        expires = expires.replace(tzinfo=UTC)
    code, plain = issue_code(session(), _brand(brand_id), kind=kind, actor=CLI_ACTOR, label=label, expires_at=expires)
    _commit()
    _emit({"code": plain, "kind": kind, "id": code.id, "discovery_url": _discovery_url(plain)}, as_json)


@code_cli.command("revoke")
@click.argument("code")
def code_revoke(code: str) -> None:
    """Revoke CODE; its clients get 410 from their next launch."""
    row = find_code(session(), code)
    if row is None:
        raise click.ClickException("no such access code")
    revoke_code(session(), row, actor=CLI_ACTOR)
    _commit()
    click.echo(f"revoked {row.prefix}…")


@operator_cli.command("create-key")
@click.option("--label", default="")
@click.option("--json", "as_json", is_flag=True)
def operator_create_key(label: str, as_json: bool) -> None:
    """Create an operator API key (shown once)."""
    key, plain = create_api_key(session(), role="operator", actor=CLI_ACTOR, label=label)
    _commit()
    _emit({"id": key.id, "key": plain, "role": "operator"}, as_json)


@keys_cli.command("generate")
@click.argument("key_id")
def keys_generate(key_id: str) -> None:
    """Create signing key KEY_ID (published as "next" until LIVERY_SIGNING_ACTIVE_KEY names it)."""
    from app.upgrades.signing import KeyConfigError, generate_key_file

    try:
        path = generate_key_file(_settings().signing_keys_dir, key_id)
    except FileExistsError:
        raise click.ClickException(f"key {key_id!r} already exists in {_settings().signing_keys_dir}") from None
    except KeyConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {path}; restart the service to publish it at /v1/keys")


@keys_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def keys_list(as_json: bool) -> None:
    """Show the keys in the key directory: id, status (as this configuration uses them), public key."""
    from app.upgrades.signing import KeyConfigError, load_key_ring

    try:
        ring = load_key_ring(_settings().signing_keys_dir, _settings().signing_active_key or None)
    except KeyConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"keys": ring.public_keys()}, indent=2))
        return
    for key in ring.public_keys():
        click.echo(f"{key['key_id']}\t{key['status']}\t{key['public_key']}")


def register(app: Flask) -> None:
    """Add the command groups to ``app``'s ``flask`` CLI."""
    from app.cli.changes import changes_cli
    from app.cli.demo import demo_cli
    from app.cli.onboarding import onboarding_cli, viewer_cli
    from app.cli.portal import portal_cli
    from app.cli.reports import reports_cli
    from app.cli.upgrades import upgrades_cli

    groups = (
        db_cli,
        partner_cli,
        brand_cli,
        asset_cli,
        code_cli,
        operator_cli,
        demo_cli,
        keys_cli,
        changes_cli,
        reports_cli,
        onboarding_cli,
        viewer_cli,
        upgrades_cli,
        portal_cli,
    )
    for group in groups:
        app.cli.add_command(group)
