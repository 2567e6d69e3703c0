"""A brand's published revisions: immutable, numbered from 1, listed oldest first."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import select

from app.api.admin.auth import admin_blueprint, load_owned
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.branding.models import Brand, BrandRevision
from app.db import session
from app.problems import NotFound

blp = admin_blueprint("revisions", "Published revisions of a brand (immutable).")


class RevisionOut(ma.Schema):
    number = ma.fields.Integer(
        metadata={"description": "Every publish (a rollback too) takes the next number; discovery shows it."}
    )
    rollback_of = ma.fields.Integer(allow_none=True, metadata={"description": "The revision this one restored."})
    content_sha256 = ma.fields.String()
    published_at = ma.fields.DateTime()
    published_by = ma.fields.String()


class RevisionDetailOut(RevisionOut):
    content = ma.fields.Dict()


@blp.route("/brands/<int:brand_id>/revisions", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(RevisionOut))
@problems(blp, 404, 422)
def list_revisions(args, brand_id):
    """List a brand's revisions, oldest first."""
    brand = load_owned(Brand, brand_id, "brand")
    return paginate(select(BrandRevision).where(BrandRevision.brand_id == brand.id), BrandRevision.id, args)


@blp.route("/brands/<int:brand_id>/revisions/<int:number>", methods=["GET"])
@blp.response(200, RevisionDetailOut)
@problems(blp, 404)
def get_revision(brand_id, number):
    """Read one revision with its content."""
    brand = load_owned(Brand, brand_id, "brand")
    revision = session().scalar(
        select(BrandRevision).where(BrandRevision.brand_id == brand.id, BrandRevision.number == number)
    )
    if revision is None:
        raise NotFound(f"Brand {brand.id} has no revision {number}.")
    return revision
