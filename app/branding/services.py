"""Branding services: load, decide with the pure rules, store. No commits: the caller owns the unit of work."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.branding import codes
from app.branding.content import apply_patch, content_diff, content_problems, new_content, referenced_assets
from app.branding.document import AssetInfo
from app.branding.images import ImageRejected, inspect_image
from app.branding.models import AccessCode, Asset, Brand, BrandRevision
from app.db import utcnow
from app.formats import SLUG_HINT, canonical_json, is_slug, sha256_hex
from app.licensing.webservice.services import require_verified_web_service
from app.partners.models import Partner
from app.problems import Conflict, NotFound, PayloadTooLarge, ValidationProblem
from app.storage import ObjectStore


def content_sha256(content: dict[str, Any]) -> str:
    """The digest that identifies a content mapping (for 'nothing changed' checks)."""
    return sha256_hex(canonical_json(content))


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


# paths under /viewer/ that are not brands
RESERVED_BRAND_SLUGS = frozenset({"integrations", "logos", "static"})


def _brand_slug(session: Session, wanted: str | None, name: str) -> str:
    if wanted is not None:
        if not is_slug(wanted) or wanted in RESERVED_BRAND_SLUGS:
            raise ValidationProblem({"slug": [f"Must be {SLUG_HINT} (not {', '.join(sorted(RESERVED_BRAND_SLUGS))})."]})
        if session.scalar(select(Brand.id).where(Brand.slug == wanted)) is not None:
            raise Conflict(f"A brand with slug {wanted!r} already exists.", code="duplicate_slug")
        return wanted
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:55] or "brand"
    base = base if len(base) >= 2 and base not in RESERVED_BRAND_SLUGS else f"brand-{base}"
    taken = set(session.scalars(select(Brand.slug).where(Brand.slug.startswith(base))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_brand(
    session: Session, partner: Partner, name: str, fields: dict[str, Any], *, actor: str, slug: str | None = None
) -> Brand:
    """A new brand: the defaults with ``fields`` applied; its viewer ``slug`` is made from the name if not given."""
    content = new_content(**fields)
    _check_content(session, partner.id, content)
    slug = _brand_slug(session, slug, name)
    with audited(session, actor, "brand.create") as change:
        change.row = brand = Brand(partner_id=partner.id, name=name, slug=slug, draft=content)
        session.add(brand)
    return brand


def update_draft(
    session: Session, brand: Brand, changes: dict[str, Any], *, actor: str, name: str | None = None
) -> Brand:
    """Apply ``changes`` to the draft after checking every rule; test codes see it at once."""
    content = apply_patch(brand.draft, changes)
    _check_content(session, brand.partner_id, content)
    with audited(session, actor, "brand.update_draft", brand):
        brand.draft = content
        if name is not None:
            brand.name = name
    return brand


def live_revision(session: Session, brand: Brand) -> BrandRevision | None:
    """The revision live codes see, if the brand was ever published."""
    return session.get(BrandRevision, brand.live_revision_id) if brand.live_revision_id else None


def _publish_content(
    session: Session,
    brand: Brand,
    content: dict[str, Any],
    *,
    actor: str,
    action: str,
    rollback_of: int | None = None,
    comment: str = "",
) -> tuple[BrandRevision, bool]:
    current = live_revision(session, brand)
    digest = content_sha256(content)
    # the draft follows a rollback, so the next unrelated publish cannot ship the undone change again
    restore_draft = rollback_of is not None and brand.draft != content
    if current is not None and current.content_sha256 == digest:
        if restore_draft:
            with audited(session, actor, action, brand) as change:
                brand.draft = dict(content)
                change.extra = {"revision": current.number}
        return current, False
    _check_content(session, brand.partner_id, content)
    was = current.content.get("licensing_method") if current is not None else None
    require_verified_web_service(session, brand.partner_id, was, content.get("licensing_method"))
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
    with audited(session, actor, action, brand) as change:
        brand.live_revision_id = revision.id
        brand.updated_at = utcnow()  # bumps the brand's version: its ETag changes with what it serves
        if restore_draft:
            brand.draft = dict(content)
        change.extra = {"revision": number, "changes": content_diff(current.content if current else None, content)}
        if comment:
            change.extra["comment"] = comment
    return revision, True


def publish_draft(session: Session, brand: Brand, *, actor: str, comment: str = "") -> tuple[BrandRevision, bool]:
    """Publish the draft as revision N+1; identical content creates nothing (returns created=False).

    ``comment`` (why, for the history) is kept in the publish's audit event.
    """
    return _publish_content(session, brand, brand.draft, actor=actor, action="brand.publish", comment=comment)


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
        raise PayloadTooLarge(max_bytes, "Images")
    try:
        info = inspect_image(data, role, filename=filename, declared_type=declared_type)
    except ImageRejected as exc:
        raise ValidationProblem({exc.field: [exc.message]}) from None
    sha = sha256_hex(data)
    existing = session.scalar(
        select(Asset).where(Asset.partner_id == partner.id, Asset.role == role, Asset.sha256 == sha)
    )
    # before the commit: never a dangling row; for an existing row, restores an object lost from the store
    store.put_content_addressed(data, content_type=info.media_type)
    if existing is not None:
        return existing, False
    with audited(session, actor, "asset.create") as change:
        change.row = asset = Asset(
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
    with audited(session, actor, "access_code.issue") as change:
        change.row = code = AccessCode(
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
    return code, codes.format_code(plain)


def revoke_code(session: Session, code: AccessCode, *, actor: str) -> AccessCode:
    """Revoke ``code`` at once; clients using it get 410 from their next launch."""
    if code.status == "revoked":
        raise Conflict("This access code is already revoked.", code="already_revoked")
    with audited(session, actor, "access_code.revoke", code):
        code.status = "revoked"
        code.revoked_at = utcnow()
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
    with audited(session, actor, "access_code.rotate", code) as change:
        code.expires_at = old_valid_until
        code.replaced_by_id = new_code.id
        change.extra = {"replaced_by_id": new_code.id}
    return new_code, plain


class DocumentInputs(NamedTuple):
    """What a discovery document is rendered from."""

    content: dict[str, Any]
    revision: int | None  # None for the draft (test codes)
    assets: dict[str, AssetInfo]  # by sha256


def brand_document_inputs(session: Session, brand_id: int, *, live: bool) -> DocumentInputs | None:
    """What the discovery document of ``brand_id`` shows: content, revision and assets.

    ``live`` picks the latest published revision (None when never published), else the draft.
    """
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
    return DocumentInputs(content, number, assets)


def find_code(session: Session, plain: str) -> AccessCode | None:
    """The access code row for a typed code, or None."""
    canonical = codes.normalise_code(plain)
    if canonical is None:
        return None
    return session.scalar(select(AccessCode).where(AccessCode.digest == codes.code_digest(canonical)))


def public_asset(session: Session, sha256: str) -> Asset | None:
    """Any stored asset with this digest (its bytes are the same whoever uploaded them)."""
    return session.scalars(select(Asset).where(Asset.sha256 == sha256).limit(1)).first()
