"""Wiring static-publish mode into the app: the commit listener and ``flask static-publish``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.publishing.root import publish_store
from app.publishing.services import StaticPublisher


def build_publisher(app: Flask, root: str | None = None) -> StaticPublisher | None:
    """A publisher to ``root`` (default: LIVERY_STATIC_PUBLISH_ROOT) over ``app``'s public answers."""
    settings = app.config["LIVERY"]
    store = publish_store(
        settings.static_publish_root if root is None else root,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
    )
    return None if store is None else StaticPublisher(store, app.extensions["livery.public"])


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
