"""Branding services: load, decide with the pure rules, store. No commits: the caller owns the unit of work."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.branding import codes
from app.branding.content import content_diff, content_problems, new_content, referenced_assets
from app.branding.document import canonical_json
from app.branding.images import ImageRejected, inspect_image
from app.branding.models import AccessCode, Asset, Brand, BrandRevision
from app.db import utcnow
from app.freshness.services import announce_change
from app.partners.models import Partner
from app.problems import Conflict, NotFound, Problem, ValidationProblem
from app.storage import ObjectStore

CODE_FIELDS = ("id", "prefix", "kind", "label", "status", "channel", "expires_at", "revoked_at", "brand_id")


def content_sha256(content: dict[str, Any]) -> str:
    """The digest that identifies a content mapping (for 'nothing changed' checks)."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def brand_snapshot(brand: Brand) -> dict[str, Any]:
    """A brand as recorded in the audit log."""
    return {"id": brand.id, "name": brand.name, "draft": dict(brand.draft), "live_revision_id": brand.live_revision_id}


def code_snapshot(code: AccessCode) -> dict[str, Any]:
    """An access code as recorded in the audit log (never the code itself)."""
    snap = {name: getattr(code, name) for name in CODE_FIELDS}
    for name in ("expires_at", "revoked_at"):
        snap[name] = snap[name].isoformat() if snap[name] else None
    return snap


def _check_content(session: Session, partner_id: int, content: dict[str, Any]) -> None:
    problems = content_problems(content)
    for role in ("tray_icon", "app_icon_windows", "app_icon_macos", "splash", "viewer_logo"):
        sha = content.get(role)
        if sha and role not in problems:
            found = session.scalar(
                select(Asset.id).where(Asset.partner_id == partner_id, Asset.role == role, Asset.sha256 == sha)
            )
            if found is None:
                problems.setdefault(role, []).append(f"No {role} asset with this sha256 was uploaded; upload it first.")
    if problems:
        raise ValidationProblem(problems)


def create_brand(session: Session, partner: Partner, name: str, fields: dict[str, Any], *, actor: str) -> Brand:
    """A new brand whose draft is the defaults with ``fields`` applied."""
    content = new_content(**fields)
    _check_content(session, partner.id, content)
    brand = Brand(partner_id=partner.id, name=name, draft=content)
    session.add(brand)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="brand.create",
        resource_type="brand",
        resource_id=brand.id,
        partner_id=partner.id,
        after=brand_snapshot(brand),
    )
    announce_change(session, "brand", brand.id)
    return brand


def update_draft(
    session: Session, brand: Brand, changes: dict[str, Any], *, actor: str, name: str | None = None
) -> Brand:
    """Apply ``changes`` to the draft after checking every rule; test codes see it at once."""
    before = brand_snapshot(brand)
    content = dict(brand.draft)
    content.update(changes)
    _check_content(session, brand.partner_id, content)
    brand.draft = content
    if name is not None:
        brand.name = name
    session.flush()
    record_event(
        session,
        actor=actor,
        action="brand.update_draft",
        resource_type="brand",
        resource_id=brand.id,
        partner_id=brand.partner_id,
        before=before,
        after=brand_snapshot(brand),
    )
    announce_change(session, "brand", brand.id)
    return brand


def live_revision(session: Session, brand: Brand) -> BrandRevision | None:
    """The revision live codes see, if the brand was ever published."""
    return session.get(BrandRevision, brand.live_revision_id) if brand.live_revision_id else None


def _publish_content(
    session: Session, brand: Brand, content: dict[str, Any], *, actor: str, action: str, rollback_of: int | None = None
) -> tuple[BrandRevision, bool]:
    current = live_revision(session, brand)
    digest = content_sha256(content)
    before = brand_snapshot(brand)
    if rollback_of is not None:
        # the draft follows a rollback, so the next unrelated publish cannot ship the undone change again
        brand.draft = dict(content)
    if current is not None and current.content_sha256 == digest:
        if brand.draft != before["draft"]:
            _record_brand_change(session, brand, before, actor=actor, action=action, extra={"revision": current.number})
        return current, False
    _check_content(session, brand.partner_id, content)
    number = (session.scalar(select(func.max(BrandRevision.number)).where(BrandRevision.brand_id == brand.id)) or 0) + 1
    revision = BrandRevision(
        brand_id=brand.id,
        number=number,
        content=dict(content),
        content_sha256=digest,
        rollback_of=rollback_of,
        published_by=actor,
    )
    session.add(revision)
    session.flush()
    brand.live_revision_id = revision.id
    brand.updated_at = utcnow()  # bumps the brand's version: its ETag changes with what it serves
    changes = content_diff(current.content if current else None, content)
    _record_brand_change(
        session, brand, before, actor=actor, action=action, extra={"revision": number, "changes": changes}
    )
    return revision, True


def _record_brand_change(
    session: Session, brand: Brand, before: dict[str, Any], *, actor: str, action: str, extra: dict[str, Any]
) -> None:
    session.flush()
    record_event(
        session,
        actor=actor,
        action=action,
        resource_type="brand",
        resource_id=brand.id,
        partner_id=brand.partner_id,
        before=before,
        after={**brand_snapshot(brand), **extra},
    )
    announce_change(session, "brand", brand.id)


def publish_draft(session: Session, brand: Brand, *, actor: str) -> tuple[BrandRevision, bool]:
    """Publish the draft as revision N+1; identical content creates nothing (returns created=False)."""
    return _publish_content(session, brand, brand.draft, actor=actor, action="brand.publish")


def rollback(session: Session, brand: Brand, number: int, *, actor: str) -> tuple[BrandRevision, bool]:
    """Publish a copy of revision ``number`` as a new revision and make it the draft; history is never rewritten."""
    source = session.scalar(
        select(BrandRevision).where(BrandRevision.brand_id == brand.id, BrandRevision.number == number)
    )
    if source is None:
        raise NotFound(f"Brand {brand.id} has no revision {number}.")
    return _publish_content(session, brand, source.content, actor=actor, action="brand.rollback", rollback_of=number)


def add_asset(
    session: Session,
    store: ObjectStore,
    partner: Partner,
    role: str,
    data: bytes,
    *,
    actor: str,
    filename: str = "",
    declared_type: str = "",
    max_bytes: int,
) -> tuple[Asset, bool]:
    """Check and store an image for ``role``; the same bytes again returns the existing asset."""
    if len(data) > max_bytes:
        raise Problem(413, "payload_too_large", "Payload too large", f"Images may be at most {max_bytes} bytes.")
    try:
        info = inspect_image(data, role, filename=filename, declared_type=declared_type)
    except ImageRejected as exc:
        raise ValidationProblem({exc.field: [exc.message]}) from None
    sha = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(Asset).where(Asset.partner_id == partner.id, Asset.role == role, Asset.sha256 == sha)
    )
    if existing is not None:
        return existing, False
    store.put_content_addressed(data, content_type=info.media_type)  # before the commit: never a dangling row
    asset = Asset(
        partner_id=partner.id,
        sha256=sha,
        media_type=info.media_type,
        bytes=len(data),
        width=info.width,
        height=info.height,
        role=role,
        filename=filename,
    )
    session.add(asset)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="asset.create",
        resource_type="asset",
        resource_id=sha,
        partner_id=partner.id,
        after={
            "sha256": sha,
            "role": role,
            "media_type": info.media_type,
            "bytes": len(data),
            "width": info.width,
            "height": info.height,
        },
    )
    return asset, True


def issue_code(
    session: Session,
    brand: Brand,
    *,
    kind: str,
    actor: str,
    label: str = "",
    expires_at: datetime | None = None,
    channel: str | None = None,
    plain: str | None = None,
) -> tuple[AccessCode, str]:
    """A new access code for ``brand``; returns the row and the code, which is never shown again.

    ``plain`` fixes the code instead of drawing a random one (the demo's well-known codes only).
    """
    if kind not in ("live", "test"):
        raise ValidationProblem({"kind": ["Must be live or test."]})
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationProblem({"expires_at": ["Must be in the future."]})
    plain = plain or codes.generate_code()
    code = AccessCode(
        partner_id=brand.partner_id,
        brand_id=brand.id,
        digest=codes.code_digest(plain),
        prefix=codes.code_prefix(plain),
        kind=kind,
        label=label,
        expires_at=expires_at,
        channel=channel,
    )
    session.add(code)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="access_code.issue",
        resource_type="access_code",
        resource_id=code.id,
        partner_id=brand.partner_id,
        after=code_snapshot(code),
    )
    announce_change(session, "code", code.digest)
    return code, codes.format_code(plain)


def revoke_code(session: Session, code: AccessCode, *, actor: str) -> AccessCode:
    """Revoke ``code`` at once; clients using it get 410 from their next launch."""
    if code.status == "revoked":
        raise Conflict("This access code is already revoked.", code="already_revoked")
    before = code_snapshot(code)
    code.status = "revoked"
    code.revoked_at = utcnow()
    session.flush()
    record_event(
        session,
        actor=actor,
        action="access_code.revoke",
        resource_type="access_code",
        resource_id=code.id,
        partner_id=code.partner_id,
        before=before,
        after=code_snapshot(code),
    )
    announce_change(session, "code", code.digest)
    return code


def rotate_code(
    session: Session, code: AccessCode, *, old_valid_until: datetime, actor: str, label: str | None = None
) -> tuple[AccessCode, str]:
    """Issue a successor to ``code``; the old one keeps working until ``old_valid_until``."""
    if code.status == "revoked":
        raise Conflict("A revoked access code cannot be rotated.", code="already_revoked")
    if code.expires_at is not None and old_valid_until > code.expires_at:
        raise ValidationProblem({"old_valid_until": ["Must not be later than the code's current expiry."]})
    brand = session.get(Brand, code.brand_id)
    new_code, plain = issue_code(
        session,
        brand,
        kind=code.kind,
        actor=actor,
        label=code.label if label is None else label,
        expires_at=None,
        channel=code.channel,
    )
    before = code_snapshot(code)
    code.expires_at = old_valid_until
    code.replaced_by_id = new_code.id
    session.flush()
    record_event(
        session,
        actor=actor,
        action="access_code.rotate",
        resource_type="access_code",
        resource_id=code.id,
        partner_id=code.partner_id,
        before=before,
        after={**code_snapshot(code), "replaced_by_id": new_code.id},
    )
    announce_change(session, "code", code.digest)
    return new_code, plain


def brand_document_inputs(
    session: Session, brand_id: int, *, live: bool
) -> tuple[dict[str, Any], int | None, dict[str, Any]] | None:
    """What the discovery document of ``brand_id`` shows: (content, revision, assets by sha256).

    ``live`` picks the latest published revision (None when never published), else the draft.
    """
    from app.branding.document import AssetInfo

    brand = session.get(Brand, brand_id)
    if brand is None:
        return None
    if live:
        revision = live_revision(session, brand)
        if revision is None:
            return None
        content, number = revision.content, revision.number
    else:
        content, number = brand.draft, None
    shas = referenced_assets(content)
    assets = {}
    if shas:
        rows = session.scalars(select(Asset).where(Asset.partner_id == brand.partner_id, Asset.sha256.in_(shas)))
        assets = {a.sha256: AssetInfo(a.sha256, a.media_type, a.bytes, a.width, a.height) for a in rows}
    return content, number, assets


def find_code(session: Session, plain: str) -> AccessCode | None:
    """The access code row for a typed code, or None."""
    canonical = codes.normalise_code(plain)
    if canonical is None:
        return None
    return session.scalar(select(AccessCode).where(AccessCode.digest == codes.code_digest(canonical)))


def public_asset(session: Session, sha256: str) -> Asset | None:
    """Any stored asset with this digest (its bytes are the same whoever uploaded them)."""
    return session.scalars(select(Asset).where(Asset.sha256 == sha256).limit(1)).first()
