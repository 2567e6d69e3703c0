"""The integrations catalogue the CRM viewer pages show (operators only; deployment-wide)."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint, require_operator
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.problems import NotFound
from app.viewer.catalogue import CATEGORIES, DEPLOYMENTS, FEATURES, PLATFORMS, SUPPORT
from app.viewer.models import Integration
from app.viewer.services import create_integration, update_integration

blp = admin_blueprint("integrations", "The CRM viewer's integrations catalogue. Operators only.")
FEATURES_HELP = f"Each of {', '.join(FEATURES)} as {{support: {'|'.join(SUPPORT)}, note}}; no other feature is allowed."


class IntegrationPatch(ma.Schema):
    name = fields.String(metadata={"example": "Salesforce Sales Cloud"})
    category = fields.String(metadata={"description": " | ".join(CATEGORIES)})
    logo_sha256 = fields.String(allow_none=True, metadata={"description": "An uploaded asset; null: placeholder."})
    description = fields.String(metadata={"description": "One or two sentences (at most 300 characters)."})
    features = ma.fields.Dict(metadata={"description": FEATURES_HELP})
    deployment = fields.String(metadata={"description": " | ".join(DEPLOYMENTS)})
    platforms = ma.fields.List(fields.String(), metadata={"description": " and/or ".join(PLATFORMS)})
    min_client_version = fields.String(metadata={"example": "5.2.0"})
    setup_markdown = fields.String(metadata={"description": "Markdown without raw HTML; https/mailto links."})
    docs_url = fields.String(allow_none=True, metadata={"description": "https:// only."})
    published = ma.fields.Boolean()
    position = fields.Integer(metadata={"description": "Display order (ascending), then name."})


class IntegrationIn(IntegrationPatch):
    slug = fields.String(required=True, metadata={"example": "salesforce"})


class IntegrationOut(IntegrationIn):
    updated_at = ma.fields.DateTime()
    etag = ma.fields.Function(etag_of)


class IntegrationQuery(PageQuery):
    category = fields.String(validate=ma.validate.OneOf(CATEGORIES))


def _load(slug: str) -> Integration:
    row = session().scalar(select(Integration).where(Integration.slug == slug))
    if row is None:
        raise NotFound(f"No integration {slug!r}.")
    return row


@blp.route("/integrations", methods=["POST"])
@blp.arguments(IntegrationIn)
@blp.response(201, IntegrationOut, headers=ETAG_HEADER)
@problems(blp, 403, 409, 422)
def create(data):
    """Add an application to the catalogue."""
    actor = require_operator()
    row = create_integration(session(), data, actor=actor.name)
    session().commit()
    return row, {"ETag": etag_of(row)}


@blp.route("/integrations", methods=["GET"])
@blp.arguments(IntegrationQuery, location="query")
@blp.response(200, page_of(IntegrationOut))
@problems(blp, 403, 422)
def list_integrations(args):
    """List the catalogue, published or not."""
    require_operator()
    stmt = select(Integration)
    if args.get("category"):
        stmt = stmt.where(Integration.category == args["category"])
    return paginate(stmt, Integration.id, args)


@blp.route("/integrations/<slug>", methods=["GET"])
@blp.response(200, IntegrationOut, headers=ETAG_HEADER)
@problems(blp, 403, 404)
def get(slug):
    """Read one catalogue entry."""
    require_operator()
    row = _load(slug)
    return row, {"ETag": etag_of(row)}


@blp.route("/integrations/<slug>", methods=["PATCH"])
@blp.arguments(IntegrationPatch)
@blp.response(200, IntegrationOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 412, 422, 428)
@documents_if_match(blp)
def update(data, slug):
    """Change a catalogue entry; the viewer pages show it at once."""
    actor = require_operator()
    row = _load(slug)
    require_if_match(etag_of(row))
    update_integration(session(), row, data, actor=actor.name)
    session().commit()
    return row, {"ETag": etag_of(row)}
