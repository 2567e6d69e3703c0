"""Releases: the list with a form to create a draft, and one release's page (installer upload with a
progress bar, publish and yank, history). Channels are app/portal/views/channels.py, their control
file as a form app/portal/views/control_file.py."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from app.api.admin.auth import acting_partner, load_owned, require_role
from app.api.admin.concurrency import etag_of
from app.api.admin.releases import ReleaseIn, ReleasePatch, create_from
from app.db import session
from app.portal.pages import Crumb, form_errors, load_form, render_page
from app.portal.screens import audit_history, finish, form_id
from app.portal.views.catalogue import can_edit, catalogue_crumbs, partner_rows
from app.portal.web import bp, portal_view
from app.problems import PayloadTooLarge, Problem, ValidationProblem
from app.storage import SpooledUpload, TooLarge
from app.upgrades.models import Channel, Release
from app.upgrades.releases import store_installer, update_release
from app.upgrades.versions import PLATFORMS

RELEASE_LABELS = {
    "version": "Version",
    "platform": "Platform",
    "release_notes_url": "Release notes URL",
    "installer_url": "Installer URL",
    "sha256": "SHA-256",
    "bytes": "Size in bytes",
    "file_name": "File name",
    "installer": "Installer",
    "status": "Status",
    "partner_id": "Partner",
}


def _optional(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


def _list(errors=None, status: int = 200, form=None):
    return render_page(
        "portal/releases.html",
        title="Releases and channels",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Releases and channels")],
        releases=partner_rows(Release, Release.id.desc()),
        channels=partner_rows(Channel, Channel.name),
        platforms=PLATFORMS,
        errors=errors or {},
        form=form or {},
        labels=RELEASE_LABELS,
        can_edit=can_edit(),
    )


@bp.route("/releases", methods=["GET", "POST"])
@portal_view()
def releases():
    """Releases and channels, and a form to create a draft release."""
    if request.method == "GET":
        return _list()
    actor = require_role("admin")
    form = {name: _optional(name) for name in ("version", "platform", "release_notes_url", "installer_url", "sha256")}
    form["file_name"] = _optional("file_name")
    size = _optional("bytes")
    form["bytes"] = int(size) if size and size.isdigit() and len(size) < 19 else size
    partner_id = form_id(request.form.get("partner_id", "")) if actor.is_operator else None
    try:
        data = load_form(ReleaseIn(), {k: v for k, v in form.items() if v is not None})
        release = create_from(acting_partner(partner_id), data, actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return _list(form_errors(exc), 422, form)
    except Problem as exc:
        session().rollback()
        if exc.status == 404:
            raise
        return _list({"": [exc.detail or exc.title]}, exc.status, form)
    return finish(
        f"Draft release {release.version} ({release.platform}) created.", "portal.release", release_id=release.id
    )


def _release_page(row: Release, *, errors=None, conflict: bool = False, status: int = 200):
    return render_page(
        "portal/release.html",
        title=f"Release {row.version} · {row.platform}",
        status=status,
        crumbs=catalogue_crumbs(Crumb(f"{row.version} · {row.platform}")),
        row=row,
        etag=etag_of(row),
        errors=errors or {},
        conflict=conflict,
        labels=RELEASE_LABELS,
        events=audit_history("release", row.id),
        can_edit=can_edit(),
        max_bytes=current_app.config["LIVERY"].max_installer_bytes,
    )


def _fresh(row: Any) -> bool:
    """Whether the form was loaded at the row's current version (its ETag: the admin API's If-Match)."""
    return request.form.get("etag", "") == etag_of(row)


@bp.route("/releases/<int:release_id>", methods=["GET", "POST"])
@portal_view()
def release(release_id: int):
    """One release: its installer, status (publish, yank) and history."""
    row = load_owned(Release, release_id, "release")
    if request.method == "GET":
        return _release_page(row)
    actor = require_role("admin")
    if not _fresh(row):
        return _release_page(row, conflict=True, status=409)
    changes = {"status": request.form.get("status", "")}
    if "release_notes_url" in request.form:
        changes["release_notes_url"] = _optional("release_notes_url")
    try:
        data = load_form(ReleasePatch(), changes)
        update_release(session(), row, data, actor=actor.name, store=current_app.extensions["livery.stores"].installers)
    except ValidationProblem as exc:
        session().rollback()
        return _release_page(row, errors=form_errors(exc), status=422)
    except Problem as exc:
        session().rollback()
        return _release_page(row, errors={"": [exc.detail or exc.title]}, status=exc.status)
    return finish(f"Release {row.version} is {row.status}.", "portal.release", release_id=row.id)


@bp.route("/releases/<int:release_id>/installer", methods=["POST"])
@portal_view()
def installer(release_id: int):
    """Upload a draft release's installer (multipart; streamed to disk, as the admin API's PUT)."""
    row = load_owned(Release, release_id, "release")
    actor = require_role("admin")
    if not _fresh(row):
        return _release_page(row, conflict=True, status=409)
    sent = request.files.get("installer")
    if sent is None or not sent.filename:
        return _release_page(row, errors={"installer": ["Choose the installer file."]}, status=422)
    limit = current_app.config["LIVERY"].max_installer_bytes
    try:
        upload = SpooledUpload.from_stream(sent.stream, max_bytes=limit)
    except TooLarge:
        raise PayloadTooLarge(limit, "Installers") from None
    try:
        store_installer(session(), current_app.extensions["livery.stores"].installers, row, upload, actor=actor.name)
    except Problem as exc:
        session().rollback()
        return _release_page(row, errors={"installer": [exc.detail or exc.title]}, status=exc.status)
    finally:
        upload.discard()
    return finish(
        f"Installer uploaded ({row.bytes} bytes, sha256 {row.sha256[:12]}…).", "portal.release", release_id=row.id
    )
