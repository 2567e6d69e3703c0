"""Assets: multipart upload of brand images, checked by decoding them; content-addressed.

An upload is refused before its body is read when it is not multipart (415) or announces more
than the limit (413); the body is then read with a hard cap, so a huge upload is never held in
memory. Nothing is stored unless the image passes every check of its role.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import marshmallow as ma
from flask import current_app, request
from flask_smorest.fields import Upload
from sqlalchemy import select
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from app.api.admin.auth import (
    acting_partner,
    admin_blueprint,
    body_limit,
    current_actor,
    partner_filter,
    require_role,
)
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import WithExtra, problems
from app.branding.content import ASSET_ROLES
from app.branding.document import asset_url
from app.branding.images import ROLE_RULES
from app.branding.models import Asset
from app.branding.services import add_asset
from app.db import session
from app.problems import NotFound, UnsupportedMediaType

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and the small form fields


class _MultipartParser(FlaskParser):
    """Reads form fields and files together, so that one schema describes the whole upload."""

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


def _is_file_part(value: object) -> None:
    if not isinstance(value, FileStorage):
        raise ma.ValidationError("Send the image as a file part (with a filename), not as a text field.")


blp = admin_blueprint("assets", "Brand images: upload (multipart), list and read.")
blp.ARGUMENTS_PARSER = _MultipartParser()


def _role_rules() -> str:
    return "; ".join(
        f"{role}: {', '.join(r.formats)}, {r.min_size}px to {r.max_width}x{r.max_height}"
        + (", square" if r.square else "")
        for role, r in ROLE_RULES.items()
    )


class AssetUpload(ma.Schema):
    role = ma.fields.String(
        required=True, validate=ma.validate.OneOf(ASSET_ROLES), metadata={"description": _role_rules() + "."}
    )
    file = Upload(
        required=True,
        validate=_is_file_part,
        metadata={"description": "The image. No SVG; no folders in its file name."},
    )
    partner_id = ma.fields.Integer(metadata={"description": "Operators: the partner the image is for."})


class AssetOut(ma.Schema):
    id = ma.fields.Integer()
    sha256 = ma.fields.String()
    partner_id = ma.fields.Integer()
    role = ma.fields.String()
    media_type = ma.fields.String()
    bytes = ma.fields.Integer()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    filename = ma.fields.String()
    created_at = ma.fields.DateTime()
    url = ma.fields.Function(
        lambda a: asset_url(current_app.config["LIVERY"].public_base_url, a.sha256),
        metadata={"description": "Where clients download it."},
    )


class UploadOut(AssetOut):
    created = ma.fields.Boolean(metadata={"description": "False when the same image was already uploaded."})


class AssetQuery(PageQuery):
    role = ma.fields.String(validate=ma.validate.OneOf(ASSET_ROLES))
    partner_id = ma.fields.Integer(metadata={"description": "Operators: only this partner's assets."})


def refuse_early(view: Callable) -> Callable:
    """Refuse a non-multipart or oversized upload before any of its body is read."""

    @wraps(view)
    def guarded(*args, **kwargs):
        limit = current_app.config["LIVERY"].max_asset_bytes
        if request.mimetype != "multipart/form-data":
            raise UnsupportedMediaType("Upload images as multipart/form-data with the fields role and file.")
        body_limit(limit + MULTIPART_OVERHEAD, "Image uploads (with their form fields)")
        return view(*args, **kwargs)

    return guarded


# An asset never changes: its ETag is its sha256, in quotes (for caches, not for If-Match).
DIGEST_ETAG = {"ETag": {"description": "The image's sha256, quoted.", "schema": {"type": "string"}}}


@blp.route("/assets", methods=["POST"])
@refuse_early
@blp.arguments(AssetUpload, location="files")
@blp.response(201, UploadOut, headers=DIGEST_ETAG)
@blp.alt_response(
    200, schema=UploadOut, description="The same image was already uploaded.", success=True, headers=DIGEST_ETAG
)
@problems(blp, 403, 404, 413, 415, 422)
def upload(data):
    """Upload an image for a brand role; its sha256 is what brand fields refer to."""
    partner = acting_partner(data.get("partner_id"))
    actor = require_role("admin")
    limit = current_app.config["LIVERY"].max_asset_bytes
    file = data["file"]
    content = file.stream.read(limit + 1)  # one byte more than allowed tells "too large" apart
    asset, created = add_asset(
        session(),
        current_app.extensions["livery.stores"].assets,
        partner,
        data["role"],
        content,
        actor=actor.name,
        filename=file.filename or "",
        declared_type=file.mimetype or "",
        max_bytes=limit,
    )
    session().commit()
    return WithExtra(asset, created=created), 201 if created else 200, {"ETag": f'"{asset.sha256}"'}


@blp.route("/assets", methods=["GET"])
@blp.arguments(AssetQuery, location="query")
@blp.response(200, page_of(AssetOut))
@problems(blp, 404, 422)
def list_assets(args):
    """List uploaded images."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(Asset)
    if partner_id is not None:
        stmt = stmt.where(Asset.partner_id == partner_id)
    if args.get("role"):
        stmt = stmt.where(Asset.role == args["role"])
    return paginate(stmt, Asset.id, args)


@blp.route("/assets/<string:sha256>", methods=["GET"])
@blp.response(200, AssetOut, headers=DIGEST_ETAG)
@problems(blp, 404)
def get(sha256):
    """Read an image's metadata (assets are immutable)."""
    actor = current_actor()
    stmt = select(Asset).where(Asset.sha256 == sha256)
    if not actor.is_operator:
        stmt = stmt.where(Asset.partner_id == actor.partner_id)
    asset = session().scalars(stmt.order_by(Asset.id).limit(1)).first()
    if asset is None:
        raise NotFound(f"No asset with sha256 {sha256}.")
    return asset, {"ETag": f'"{asset.sha256}"'}
