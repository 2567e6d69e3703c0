"""GET /v1/assets/{sha256}: brand images, immutable and content-addressed."""

from __future__ import annotations

from flask import Response, request

from app.api.conditional import cached_response, none_match
from app.api.public.answers import IMMUTABLE
from app.api.public.blueprint import bp, public_answers, stores
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
    answers = public_answers()
    # asset rows are only ever added: one the worker knows needs no query (nor a reachable database)
    media_type = answers.known_asset(sha256)
    if media_type is None:
        row = public_asset(session(), sha256)
        if row is None:
            raise NotFound("No such asset.")
        media_type = row.media_type
        answers.remember_asset(sha256, media_type)
    store = stores().assets
    try:
        body = answers.asset_body(sha256, lambda: store.read(sha256))
    except ObjectNotFound:
        raise NotFound("No such asset.") from None
    return cached_response(body, etag, IMMUTABLE, content_type=media_type)
