"""Brands: create, read, edit the draft, publish, roll back and diff draft against published.

Edits go to the draft, which ``test`` access codes see at once; ``live`` codes see only what is
published. Revisions (revisions.py) are immutable; a rollback publishes a copy of an old one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import marshmallow as ma
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import acting_partner, admin_blueprint, current_actor, load_owned, partner_filter, require_role
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.branding.content import (
    BRANDING_LEVELS,
    INSTALL_FOLDER,
    LICENSING_METHODS,
    SPLASH_SECONDS,
    TEXT_LIMITS,
    content_diff,
)
from app.branding.models import Brand, BrandRevision
from app.branding.services import content_sha256, create_brand, live_revision, publish_draft, rollback, update_draft
from app.db import session
from app.problems import ValidationProblem

blp = admin_blueprint("brands", "Brands: the draft, publishing, rollback and the diff of draft vs published.")


def _text(name: str, **kw: Any) -> ma.fields.String:
    return fields.String(validate=ma.validate.Length(max=TEXT_LIMITS[name]), **kw)


class BrandContent(ma.Schema):
    """Brand content; every field optional in a PATCH. Rules are checked as a whole (422 by field)."""

    class Meta:
        # Unknown fields reach the domain rules, which name them (and refuse install_folder clearly).
        unknown = ma.INCLUDE

    product_name = _text("product_name", metadata={"example": "Acme Connect CRM"})
    short_name = _text("short_name", metadata={"example": "Acme CRM"})
    publisher = _text("publisher", allow_none=True)
    support_url = fields.String(allow_none=True, metadata={"description": "https:// only."})
    eula_url = fields.String(allow_none=True, metadata={"description": "https:// only."})
    branding_level = fields.String(validate=ma.validate.OneOf(list(BRANDING_LEVELS)))
    licensing_method = fields.String(validate=ma.validate.OneOf(LICENSING_METHODS))
    upgrade_channel = _text("upgrade_channel")
    tray_icon = fields.String(allow_none=True, metadata={"description": "sha256 of an uploaded asset."})
    app_icon_windows = fields.String(allow_none=True, metadata={"description": "sha256 of an uploaded ICO."})
    app_icon_macos = fields.String(allow_none=True, metadata={"description": "sha256 of an uploaded ICNS/PNG."})
    splash = fields.String(allow_none=True, metadata={"description": "sha256 of an uploaded PNG."})
    splash_seconds = fields.Integer(strict=True, validate=ma.validate.Range(*SPLASH_SECONDS))
    viewer_name = _text("viewer_name", allow_none=True, metadata={"description": "CI-C only."})
    viewer_logo = fields.String(allow_none=True, metadata={"description": "CI-C only; sha256 of a PNG."})
    viewer_url = fields.String(allow_none=True, metadata={"description": "CI-C only; https:// only."})
    viewer_primary_color = fields.String(allow_none=True, metadata={"description": "CI-C only; #rrggbb."})
    viewer_accent_color = fields.String(allow_none=True, metadata={"description": "CI-C only; #rrggbb."})


class BrandIn(ma.Schema):
    name = fields.String(required=True, validate=ma.validate.Length(1, 200), metadata={"example": "Acme Connect"})
    partner_id = fields.Integer(metadata={"description": "Operators: the partner the brand is for."})
    slug = fields.String(
        metadata={"description": "URL of its branded viewer, /viewer/{slug}; unique; made from the name if absent."}
    )
    draft = ma.fields.Nested(BrandContent, load_default=dict)


class BrandPatch(ma.Schema):
    name = fields.String(validate=ma.validate.Length(1, 200))
    draft = ma.fields.Nested(BrandContent, metadata={"description": "Only the fields to change."})


class BrandOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    name = fields.String()
    slug = fields.String(metadata={"description": "Its branded viewer (CI-C) is at /viewer/{slug}."})
    install_folder = ma.fields.Constant(INSTALL_FOLDER, metadata={"description": "Always the same; not brandable."})
    draft = ma.fields.Dict(metadata={"description": "The editable content; test codes see it."})
    live_revision = fields.Integer(allow_none=True, metadata={"description": "What live codes see; null: none."})
    has_unpublished_changes = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    etag = fields.String()


class BrandQuery(PageQuery):
    partner_id = fields.Integer(metadata={"description": "Operators: only this partner's brands."})


class PublishOut(ma.Schema):
    revision = fields.Integer(metadata={"description": "The live revision after this request."})
    created = ma.fields.Boolean(metadata={"description": "False when the content equalled the live revision."})
    changed_fields = ma.fields.List(
        fields.String(),
        metadata={"description": "Every content field that differs from the revision live before this request."},
    )
    message = fields.String()
    etag = fields.String(metadata={"description": "The brand's new ETag."})


class BrandRollbackIn(ma.Schema):
    revision = fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))


class DiffOut(ma.Schema):
    live_revision = fields.Integer(allow_none=True)
    changes = ma.fields.Dict(metadata={"description": "Changed fields: {field: {from: live, to: draft}}."})


def brand_view(brand: Brand, live: BrandRevision | None) -> dict[str, Any]:
    """The admin representation of a brand."""
    return {
        "id": brand.id,
        "partner_id": brand.partner_id,
        "name": brand.name,
        "slug": brand.slug,
        "draft": brand.draft,
        "live_revision": live.number if live else None,
        "has_unpublished_changes": live is None or live.content_sha256 != content_sha256(brand.draft),
        "created_at": brand.created_at,
        "updated_at": brand.updated_at,
        "etag": etag_of(brand),
    }


def _respond(brand: Brand, status: int = 200):
    return brand_view(brand, live_revision(session(), brand)), status, {"ETag": etag_of(brand)}


@contextmanager
def draft_errors() -> Iterator[None]:
    """Report the domain's content errors under ``draft``, where the caller sent those fields."""
    try:
        yield
    except ValidationProblem as exc:
        if isinstance(exc.errors, dict) and not set(exc.errors) & {"name", "partner_id"}:
            raise ValidationProblem({"draft": exc.errors}) from None
        raise


@blp.route("/brands", methods=["POST"])
@blp.arguments(BrandIn)
@blp.response(201, BrandOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 422)
def create(data):
    """Create a brand; its draft is the defaults with the given fields."""
    partner = acting_partner(data.get("partner_id"))
    actor = require_role("admin")
    with draft_errors():
        brand = create_brand(session(), partner, data["name"], data["draft"], actor=actor.name, slug=data.get("slug"))
    session().commit()
    return _respond(brand, 201)


@blp.route("/brands", methods=["GET"])
@blp.arguments(BrandQuery, location="query")
@blp.response(200, page_of(BrandOut))
@problems(blp, 404, 422)
def list_brands(args):
    """List brands."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(Brand) if partner_id is None else select(Brand).where(Brand.partner_id == partner_id)
    page = paginate(stmt, Brand.id, args)
    live_ids = [b.live_revision_id for b in page["items"] if b.live_revision_id]
    lives = {r.id: r for r in session().scalars(select(BrandRevision).where(BrandRevision.id.in_(live_ids)))}
    page["items"] = [brand_view(b, lives.get(b.live_revision_id)) for b in page["items"]]
    return page


@blp.route("/brands/<int:brand_id>", methods=["GET"])
@blp.response(200, BrandOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(brand_id):
    """Read a brand: its draft, live revision number and whether the draft has unpublished changes."""
    return _respond(load_owned(Brand, brand_id, "brand"))


@blp.route("/brands/<int:brand_id>", methods=["PATCH"])
@blp.arguments(BrandPatch)
@blp.response(200, BrandOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 412, 422, 428)
@documents_if_match(blp)
def update(data, brand_id):
    """Change draft fields (and the brand's name); test codes see the change at once."""
    brand = load_owned(Brand, brand_id, "brand")
    actor = require_role("admin")
    require_if_match(etag_of(brand))
    with draft_errors():
        update_draft(session(), brand, data.get("draft") or {}, actor=actor.name, name=data.get("name"))
    session().commit()
    return _respond(brand)


def _publish_answer(brand: Brand, previous: BrandRevision | None, revision: BrandRevision, created: bool):
    if created:
        message = f"Published revision {revision.number}; live codes see it from their next launch."
    else:
        message = f"Identical to revision {revision.number}; nothing published."
    if revision.rollback_of is not None and created:
        message += f" It restores revision {revision.rollback_of}, and the draft now equals it."
    changed = sorted(content_diff(previous.content if previous else None, revision.content)) if created else []
    body = {
        "revision": revision.number,
        "created": created,
        "changed_fields": changed,
        "message": message,
        "etag": etag_of(brand),
    }
    return body, 201 if created else 200, {"ETag": etag_of(brand)}


@blp.route("/brands/<int:brand_id>/publish", methods=["POST"])
@blp.response(201, PublishOut, headers=ETAG_HEADER)
@blp.alt_response(
    200, schema=PublishOut, description="Nothing changed since the live revision.", success=True, headers=ETAG_HEADER
)
@problems(blp, 403, 404, 409, 412, 422, 428)
@documents_if_match(blp)
def publish(brand_id):
    """Publish the draft as a new revision (none when identical to the live one)."""
    brand = load_owned(Brand, brand_id, "brand")
    actor = require_role("admin")
    require_if_match(etag_of(brand))
    previous = live_revision(session(), brand)
    with draft_errors():
        revision, created = publish_draft(session(), brand, actor=actor.name)
    session().commit()
    return _publish_answer(brand, previous, revision, created)


@blp.route("/brands/<int:brand_id>/rollback", methods=["POST"])
@blp.arguments(BrandRollbackIn)
@blp.response(201, PublishOut, headers=ETAG_HEADER)
@blp.alt_response(
    200, schema=PublishOut, description="That revision's content is already live.", success=True, headers=ETAG_HEADER
)
@problems(blp, 403, 404, 409, 412, 422, 428)
@documents_if_match(blp)
def roll_back(data, brand_id):
    """Publish a copy of an earlier revision as a new revision, and make it the draft; history is never rewritten."""
    brand = load_owned(Brand, brand_id, "brand")
    actor = require_role("admin")
    require_if_match(etag_of(brand))
    previous = live_revision(session(), brand)
    revision, created = rollback(session(), brand, data["revision"], actor=actor.name)
    session().commit()
    return _publish_answer(brand, previous, revision, created)


@blp.route("/brands/<int:brand_id>/diff", methods=["GET"])
@blp.response(200, DiffOut)
@problems(blp, 404)
def diff(brand_id):
    """What publishing the draft would change, field by field."""
    brand = load_owned(Brand, brand_id, "brand")
    live = live_revision(session(), brand)
    return {
        "live_revision": live.number if live else None,
        "changes": content_diff(live.content if live else None, brand.draft),
    }
