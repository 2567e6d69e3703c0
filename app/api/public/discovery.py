"""GET /v1/discovery/{access_code}: what an installed client is called and looks like."""

from __future__ import annotations

import time

from flask import Response, current_app, request

from app.api.conditional import none_match
from app.api.public import bp
from app.api.public.cache import CodeEntry, PublicAnswers
from app.branding.codes import code_digest, normalise_code
from app.problems import Gone, NotFound

NOT_FOUND_DETAIL = "No access code like this is known. Check the code the product was built with."


def public_answers() -> PublicAnswers:
    """This worker's precomputed public answers."""
    return current_app.extensions["livery.public"]


def resolve_code(raw: str) -> CodeEntry:
    """The usable access code for ``raw``; 404 when malformed or unknown, 410 when no longer valid."""
    canonical = normalise_code(raw)
    answers = public_answers()
    entry = answers.code(code_digest(canonical)) if canonical else None
    if entry is None:
        raise NotFound(NOT_FOUND_DETAIL)
    if not answers.code_valid(entry, time.time()):
        raise Gone("This access code is no longer valid. Ask the software's vendor for an update.")
    return entry


def cached_response(body: bytes, etag: str, cache_control: str, content_type: str = "application/json") -> Response:
    """200 with ``body``, or 304 when the request's If-None-Match matches ``etag``."""
    if none_match(request.headers.get("If-None-Match"), etag):
        response = Response(status=304)
    else:
        response = Response(body, content_type=content_type)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = cache_control
    return response


@bp.get("/discovery/<path:access_code>")
def discovery(access_code: str):
    """The discovery document for an access code (ETag / If-None-Match aware)."""
    entry = resolve_code(access_code)
    answer = public_answers().discovery(entry)
    if answer is None:  # a live code whose brand was never published shows nothing yet
        raise NotFound(NOT_FOUND_DETAIL)
    return cached_response(answer.body, answer.etag, current_app.config["LIVERY_DISCOVERY_CACHE_CONTROL"])
