"""Viewer services: the catalogue (create, change, load the seed file, read) and which brand a page shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.branding.codes import code_digest, normalise_code
from app.branding.models import AccessCode, Brand, BrandRevision
from app.db import utcnow
from app.problems import Conflict, NotFound, ValidationProblem
from app.viewer.catalogue import integration_problems
from app.viewer.models import INTEGRATION_FIELDS, Integration

SEED_FILE = Path(__file__).with_name("catalogue.json")
DEFAULTS: dict[str, Any] = {
    "logo_sha256": None,
    "setup_markdown": "",
    "docs_url": None,
    "published": True,
    "position": 0,
}


def integration_values(row: Integration) -> dict[str, Any]:
    """An integration as a plain mapping (what the pages and the JSON twin show)."""
    return {"slug": row.slug, **{field: getattr(row, field) for field in INTEGRATION_FIELDS}}


def _check(values: dict[str, Any]) -> None:
    problems = integration_problems(values)
    if problems:
        raise ValidationProblem(problems)


def create_integration(session: Session, values: dict[str, Any], *, actor: str) -> Integration:
    """A new catalogue entry (422 on any broken rule, 409 on a taken slug)."""
    values = {**DEFAULTS, **values}
    _check(values)
    if session.scalar(select(Integration.id).where(Integration.slug == values["slug"])) is not None:
        raise Conflict(f"An integration with slug {values['slug']!r} already exists.", code="duplicate_slug")
    with audited(session, actor, "integration.create") as change:
        change.row = row = Integration(**{k: values[k] for k in ("slug", *INTEGRATION_FIELDS)})
        session.add(row)
    return row


def update_integration(session: Session, row: Integration, changes: dict[str, Any], *, actor: str) -> Integration:
    """Change a catalogue entry (the slug stays)."""
    values = {**integration_values(row), **changes, "slug": row.slug}
    _check(values)
    with audited(session, actor, "integration.update", row):
        for field in INTEGRATION_FIELDS:
            setattr(row, field, values[field])
    return row


def load_catalogue(session: Session, path: Path = SEED_FILE, *, actor: str) -> tuple[int, int]:
    """Create or update every entry of the seed file (by slug); returns (created, updated)."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    created = updated = 0
    for position, entry in enumerate(entries):
        entry = {"position": position * 10, **entry}
        row = session.scalar(select(Integration).where(Integration.slug == entry.get("slug")))
        if row is None:
            create_integration(session, entry, actor=actor)
            created += 1
        elif {**integration_values(row), **entry} != integration_values(row):
            update_integration(session, row, entry, actor=actor)
            updated += 1
    return created, updated


def published_catalogue(session: Session) -> list[dict[str, Any]]:
    """The published entries in display order."""
    stmt = select(Integration).where(Integration.published.is_(True)).order_by(Integration.position, Integration.name)
    return [integration_values(row) for row in session.scalars(stmt)]


class ViewerBrand(NamedTuple):
    brand: Brand
    content: dict[str, Any]
    preview: bool


def viewer_brand(session: Session, slug: str, preview_code: str | None) -> ViewerBrand:
    """The brand a branded page shows: its published content, or with a test code its draft.

    404 for an unknown slug, a brand never published (without a preview code), or a code that
    is not an active test code of this brand: a live code never previews.
    """
    brand = session.scalar(select(Brand).where(Brand.slug == slug))
    if brand is None:
        raise NotFound(f"No branded viewer at {slug!r}.")
    if preview_code:
        canonical = normalise_code(preview_code)
        code = (
            session.scalar(select(AccessCode).where(AccessCode.digest == code_digest(canonical))) if canonical else None
        )
        expired = code is not None and code.expires_at is not None and code.expires_at <= utcnow()
        if code is None or code.brand_id != brand.id or code.kind != "test" or code.status != "active" or expired:
            raise NotFound("The preview needs an active test code of this brand (live codes never preview).")
        return ViewerBrand(brand, brand.draft, True)
    revision = session.get(BrandRevision, brand.live_revision_id) if brand.live_revision_id else None
    if revision is None:
        raise NotFound(f"No branded viewer at {slug!r}.")
    return ViewerBrand(brand, revision.content, False)
