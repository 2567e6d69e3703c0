"""Wiring static-publish mode into the app: the commit listener and ``flask static-publish``."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.publishing.root import publish_store
from app.publishing.services import FileSource, StaticPublisher
from app.upgrades.channel_state import upgrade_manifest
from app.upgrades.signing import canonical_bytes, sign_payload

UPGRADE_NAMESPACE = "upgrade"
MANIFEST_NAME = "manifest.json"


def build_publisher(app: Flask, root: str | None = None) -> StaticPublisher | None:
    """A publisher to ``root`` (default: LIVERY_STATIC_PUBLISH_ROOT) over ``app``'s public answers."""
    settings = app.config["LIVERY"]
    store = publish_store(
        settings.static_publish_root if root is None else root,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
    )
    if store is None:
        return None
    publisher = StaticPublisher(store, app.extensions["livery.public"])
    publisher.sources[UPGRADE_NAMESPACE] = _upgrade_manifests(app)
    return publisher


def _upgrade_manifests(app: Flask) -> FileSource:
    """Each code's signed upgrade manifest: ``upgrade/<digest>/manifest.json``."""
    upgrades = app.extensions["livery.upgrades"]
    base_url = app.config["LIVERY"].public_base_url

    def source(digest: str, entry: Any) -> dict[str, bytes]:
        state = upgrades.state_of(entry)
        if state is None:  # a live code of a never-published brand: no discovery file either
            return {}
        # signed here, not through upgrades.sign(): one manifest per code would flush the memo
        # of poll answers that this same worker serves
        return {MANIFEST_NAME: signed_manifest(upgrades.ring, state, digest, base_url)}

    return FileSource(frozenset({MANIFEST_NAME}), source)


def signed_manifest(ring: Any, state: Any, digest: str, base_url: str) -> bytes:
    """A code's signed upgrade manifest, byte for byte what the static root and the API serve."""
    return canonical_bytes(sign_payload(ring, upgrade_manifest(state, digest, base_url)))


def init_app(app: Flask) -> None:
    """Register the CLI command; with a publish root, publish every commit's changes in this process."""
    app.cli.add_command(static_publish)
    publisher = build_publisher(app)
    if publisher is not None:
        app.extensions["livery.publisher"] = publisher
        app.extensions["livery.public"].commit_listeners.append(publisher.after_commit)


@click.command("static-publish")
@with_appcontext
@click.option("--root", default=None, help="Folder or s3://bucket/prefix (default: LIVERY_STATIC_PUBLISH_ROOT).")
def static_publish(root: str | None) -> None:
    """Rebuild the static root: write every changed answer, delete files of codes no longer valid."""
    publisher = build_publisher(current_app, root)
    if publisher is None:
        raise click.ClickException("no static root: set LIVERY_STATIC_PUBLISH_ROOT or pass --root")
    click.echo(f"static publish: {publisher.publish_all()}")
