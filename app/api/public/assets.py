"""GET /v1/assets/{sha256}: brand images, immutable and content-addressed."""

from __future__ import annotations

from flask import Response, request

from app.api.conditional import cached_response, none_match
from app.api.public.answers import IMMUTABLE
from app.api.public.blueprint import bp, stores
from app.branding.services import public_asset
from app.db import session
from app.formats import is_sha256
from app.problems import NotFound
from app.storage import ObjectNotFound


@bp.get("/assets/<path:sha256>")
def asset(sha256: str) -> Response:
    """An asset's bytes; ETag is its sha256, so If-None-Match answers 304 without touching storage."""
    if not is_sha256(sha256):
        raise NotFound("No such asset.")
    etag = f'"{sha256}"'
    if none_match(request.headers.get("If-None-Match"), etag):
        # content-addressed bytes never change: a client holding this tag holds these bytes
        return cached_response(b"", etag, IMMUTABLE)
    row = public_asset(session(), sha256)
    if row is None:
        raise NotFound("No such asset.")
    try:
        body = stores().assets.read(sha256)
    except ObjectNotFound:
        raise NotFound("No such asset.") from None
    return cached_response(body, etag, IMMUTABLE, content_type=row.media_type)
