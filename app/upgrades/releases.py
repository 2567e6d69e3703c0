"""Release services: create, upload an installer, publish and yank. No commits: the caller owns the unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.formats import FILE_NAME_HINT, https_url_problem, is_installer_file_name, is_sha256
from app.partners.models import Partner
from app.problems import Conflict, ValidationProblem
from app.storage import ObjectStore, SpooledUpload
from app.upgrades.models import Release
from app.upgrades.versions import PLATFORMS, InvalidVersion, parse_version

INSTALLER_CONTENT_TYPE = "application/octet-stream"
# Who may move a release where: a yanked release can be republished if the yank was a mistake.
_TRANSITIONS = {("draft", "published"), ("published", "yanked"), ("yanked", "published")}


def file_name_problem(name: str | None) -> str | None:
    """Why ``name`` cannot be what clients save an installer as (None when it can, or is not given)."""
    if name is None or is_installer_file_name(name):
        return None
    return f"Must be {FILE_NAME_HINT}."


def create_release(
    session: Session,
    partner: Partner,
    *,
    version: str,
    platform: str,
    actor: str,
    release_notes_url: str | None = None,
    external_url: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    file_name: str | None = None,
) -> Release:
    """A new draft release; with ``external_url`` its installer is the partner's, with declared sha256 and size."""
    problems: dict[str, list[str]] = {}
    try:
        parse_version(version)
    except InvalidVersion as exc:
        problems["version"] = [str(exc)]
    if platform not in PLATFORMS:
        problems["platform"] = [f"Unknown platform {platform!r}; expected one of: {', '.join(PLATFORMS)}."]
    for name, url in (("release_notes_url", release_notes_url), ("external_url", external_url)):
        if url is not None and (message := https_url_problem(url)):
            problems[name] = [message]
    if message := file_name_problem(file_name):
        problems["file_name"] = [message]
    if external_url is not None:
        if not is_sha256(sha256):
            problems["sha256"] = ["An external installer needs its sha256: 64 lower-case hex digits."]
        if size is None or size <= 0:
            problems["bytes"] = ["An external installer needs its size in bytes (a positive number)."]
    elif sha256 is not None or size is not None:
        problems["external_url"] = [
            "sha256 and bytes are declared only with external_url; uploaded installers are measured by Livery."
        ]
    if problems:
        raise ValidationProblem(problems)
    # "5.3" and "5.3.0" are the same version: two releases of it would make offers ambiguous.
    wanted = parse_version(version)
    for other in session.scalars(select(Release).where(Release.partner_id == partner.id, Release.platform == platform)):
        if parse_version(other.version) == wanted:
            raise Conflict(
                f"Release {other.version} for {platform} already exists (id {other.id}).", code="release_exists"
            )
    with audited(session, actor, "release.create") as change:
        change.row = release = Release(
            partner_id=partner.id,
            version=version,
            platform=platform,
            source="external" if external_url else "stored",
            external_url=external_url,
            sha256=sha256,
            bytes=size,
            release_notes_url=release_notes_url,
            file_name=file_name,
            status="draft",
        )
        session.add(release)
    return release


def store_installer(session: Session, store: ObjectStore, release: Release, upload: SpooledUpload, *, actor: str):
    """Put a spooled installer into the store (content-addressed, before the commit) and record it on ``release``."""
    if release.source != "stored":
        raise Conflict("This release's installer is hosted by the partner at external_url.", code="external_installer")
    if release.status != "draft" and upload.sha256 == release.sha256 and upload.size == release.bytes:
        # the same bytes again: nothing changes, but an object lost from the store is put back
        store.put_spooled(upload, content_type=INSTALLER_CONTENT_TYPE)
        return release
    if release.status != "draft":
        raise Conflict(
            "The installer of a published or yanked release cannot change; create a new release.",
            code="release_not_draft",
        )
    if upload.size == 0:
        raise ValidationProblem({"body": ["The installer is empty."]})
    store.put_spooled(upload, content_type=INSTALLER_CONTENT_TYPE)
    with audited(session, actor, "release.upload_installer", release):
        release.sha256 = upload.sha256
        release.bytes = upload.size
    return release


def update_release(
    session: Session, release: Release, changes: dict[str, Any], *, actor: str, store: ObjectStore
) -> Release:
    """Change status (draft → published → yanked → published), the release-notes URL and/or the file name."""
    with audited(session, actor, "release.update", release):
        if "release_notes_url" in changes:
            url = changes["release_notes_url"]
            if url is not None and (message := https_url_problem(url)):
                raise ValidationProblem({"release_notes_url": [message]})
            release.release_notes_url = url
        if "file_name" in changes:
            if (message := file_name_problem(changes["file_name"])) is not None:
                raise ValidationProblem({"file_name": [message]})
            release.file_name = changes["file_name"]
        status = changes.get("status", release.status)
        if status != release.status:
            if (release.status, status) not in _TRANSITIONS:
                raise Conflict(f"A {release.status} release cannot become {status}.", code="invalid_transition")
            if status == "published" and release.source == "stored":
                stat = store.stat(release.sha256) if release.sha256 else None
                if stat is None or stat.size != release.bytes:
                    raise Conflict(
                        "Upload the installer (PUT .../installer) before publishing.", code="installer_missing"
                    )
            release.status = status
    return release


def public_installer(session: Session, sha256: str) -> Release | None:
    """A published, stored release whose installer has this digest (what /v1/installers may serve)."""
    return session.scalars(
        select(Release)
        .where(Release.sha256 == sha256, Release.source == "stored", Release.status == "published")
        .limit(1)
    ).first()
