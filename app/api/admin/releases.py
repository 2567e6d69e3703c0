"""Releases: a partner's installers per version and platform; uploaded (streamed) or hosted by the partner."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, request
from sqlalchemy import select

from app.api.admin import fields
from app.api.admin.auth import (
    acting_partner,
    admin_blueprint,
    body_limit,
    current_actor,
    load_owned,
    partner_filter,
    require_role,
)
from app.api.admin.concurrency import ETAG_HEADER, etag_of, require_if_match
from app.api.admin.pagination import PageQuery, page_of, paginate
from app.api.admin.spec import problems
from app.db import session
from app.problems import PayloadTooLarge, UnsupportedMediaType
from app.storage import SpooledUpload, TooLarge
from app.upgrades.models import RELEASE_STATUSES, Release
from app.upgrades.releases import create_release, store_installer, update_release
from app.upgrades.versions import PLATFORMS

blp = admin_blueprint(
    "admin_releases", "Releases: installers per version and platform, uploaded or at a partner-hosted https URL."
)


class ReleaseIn(ma.Schema):
    partner_id = fields.Integer(metadata={"description": "Operators: the partner this release is for."})
    version = fields.String(
        required=True, metadata={"description": "1-4 dotted numbers, optional -pre-release.", "example": "5.3.0"}
    )
    platform = fields.String(required=True, validate=ma.validate.OneOf(PLATFORMS))
    release_notes_url = fields.String(load_default=None, allow_none=True, metadata={"description": "https URL."})
    installer_url = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "A partner-hosted https installer; then sha256 and bytes are required."},
    )
    sha256 = fields.String(load_default=None, allow_none=True)
    bytes = fields.Integer(load_default=None, allow_none=True, minimum=0, maximum=fields.BIGINT_MAX)
    file_name = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "What clients save the installer as (with its extension, no folders); "
            "null: livery-<version>-<platform>.",
            "example": "AcmeConnect-5.3.0-setup.exe",
        },
    )


class ReleasePatch(ma.Schema):
    status = fields.String(
        validate=ma.validate.OneOf(RELEASE_STATUSES),
        metadata={"description": "draft -> published -> yanked (-> published). Yanked releases stop being offered."},
    )
    release_notes_url = fields.String(allow_none=True)
    file_name = fields.String(allow_none=True, metadata={"description": "What clients save the installer as."})


class ReleaseOut(ma.Schema):
    id = fields.Integer()
    partner_id = fields.Integer()
    version = fields.String()
    platform = fields.String()
    source = fields.String(metadata={"description": "stored (uploaded to Livery) or external."})
    installer_url = fields.String(attribute="external_url", allow_none=True)
    sha256 = fields.String(allow_none=True)
    bytes = fields.Integer(allow_none=True)
    release_notes_url = fields.String(allow_none=True)
    file_name = fields.String(allow_none=True)
    status = fields.String()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    etag = ma.fields.Function(etag_of, metadata={"description": "Send as If-Match to change it."})


class ReleaseQuery(PageQuery):
    partner_id = fields.Integer(metadata={"description": "Operators: only this partner's releases."})
    version = fields.String()
    platform = fields.String(validate=ma.validate.OneOf(PLATFORMS))
    status = fields.String(validate=ma.validate.OneOf(RELEASE_STATUSES))


@blp.route("/releases", methods=["POST"])
@blp.arguments(ReleaseIn)
@blp.response(201, ReleaseOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 422)
def create(data):
    """Create a draft release (then upload its installer, or give installer_url, sha256 and bytes)."""
    partner = acting_partner(data.get("partner_id"))
    actor = require_role("admin")
    release = create_from(partner, data, actor=actor.name)
    session().commit()
    return release, {"ETag": etag_of(release)}


def create_from(partner, data: dict, *, actor: str) -> Release:
    """A draft release from ``ReleaseIn`` data (the admin API and the portal's release form)."""
    return create_release(
        session(),
        partner,
        version=data["version"],
        platform=data["platform"],
        actor=actor,
        release_notes_url=data["release_notes_url"],
        external_url=data["installer_url"],
        sha256=data["sha256"],
        size=data["bytes"],
        file_name=data["file_name"],
    )


@blp.route("/releases", methods=["GET"])
@blp.arguments(ReleaseQuery, location="query")
@blp.response(200, page_of(ReleaseOut))
@problems(blp, 404, 422)
def list_releases(args):
    """List releases."""
    current_actor()
    partner_id = partner_filter(args.get("partner_id"))
    stmt = select(Release)
    if partner_id is not None:
        stmt = stmt.where(Release.partner_id == partner_id)
    for name in ("version", "platform", "status"):
        if args.get(name):
            stmt = stmt.where(getattr(Release, name) == args[name])
    return paginate(stmt, Release.id, args)


@blp.route("/releases/<int:release_id>", methods=["GET"])
@blp.response(200, ReleaseOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(release_id):
    """Read a release."""
    release = load_owned(Release, release_id, "release")
    return release, {"ETag": etag_of(release)}


@blp.route("/releases/<int:release_id>", methods=["PATCH"])
@blp.arguments(ReleasePatch)
@blp.response(200, ReleaseOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 422, 428)
def update(changes, release_id):
    """Publish, yank or re-publish a release, or change its release-notes URL or file name."""
    release = load_owned(Release, release_id, "release")
    actor = require_role("admin")
    require_if_match(etag_of(release))
    store = current_app.extensions["livery.stores"].installers
    update_release(session(), release, changes, actor=actor.name, store=store)
    session().commit()
    return release, {"ETag": etag_of(release)}


@blp.route("/releases/<int:release_id>/installer", methods=["PUT"])
@blp.response(200, ReleaseOut, headers=ETAG_HEADER)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
)
@problems(blp, 403, 404, 409, 412, 413, 415, 422, 428)
def upload_installer(release_id):
    """Upload a draft release's installer as the raw request body (streamed; sha256 and size computed here)."""
    release = load_owned(Release, release_id, "release")
    actor = require_role("admin")
    require_if_match(etag_of(release))
    if request.mimetype != "application/octet-stream":
        raise UnsupportedMediaType("Send the installer as application/octet-stream.")
    limit = current_app.config["LIVERY"].max_installer_bytes
    body_limit(limit, "Installers")
    session().commit()  # end the read transaction: the upload may take minutes
    try:
        # request.stream, not request.files/get_data: the body goes to disk in chunks, never into memory
        upload = SpooledUpload.from_stream(request.stream, max_bytes=limit)
    except TooLarge:
        raise PayloadTooLarge(limit, "Installers") from None
    try:
        store_installer(
            session(), current_app.extensions["livery.stores"].installers, release, upload, actor=actor.name
        )
        session().commit()
    finally:
        upload.discard()
    return release, {"ETag": etag_of(release)}
