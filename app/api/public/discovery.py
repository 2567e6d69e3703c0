"""GET /v1/discovery/{access_code}: what an installed client is called and looks like.

The route below is the reference behaviour; fast.py answers the same requests with the same
bytes below Flask (see there), and both decide through ``discovery_answer``.
"""

from __future__ import annotations

import time

from flask import Response, current_app, request

from app.api.conditional import none_match
from app.api.public import bp
from app.api.public.cache import Answer, CodeEntry, PublicAnswers
from app.branding.codes import code_digest, normalise_code
from app.problems import Gone, NotFound, Problem
from app.throttling import PUBLIC_NOT_FOUND, TooManyRequests

NOT_FOUND_DETAIL = "No access code like this is known. Check the code the product was built with."
GONE_DETAIL = "This access code is no longer valid. Ask the software's vendor for an update."


def public_answers() -> PublicAnswers:
    """This worker's precomputed public answers."""
    return current_app.extensions["livery.public"]


def code_status(answers: PublicAnswers, raw: str) -> CodeEntry | int:
    """The usable access code for ``raw``, else 404 (malformed or unknown) or 410 (no longer valid)."""
    canonical = normalise_code(raw)
    entry = answers.code(code_digest(canonical)) if canonical else None
    if entry is None:
        return 404
    if not answers.code_valid(entry, time.time()):
        return 410
    return entry


def problem_for(status: int) -> Problem:
    """The problem a refused code answers; the same for every code, so nothing tells codes apart."""
    return Gone(GONE_DETAIL) if status == 410 else NotFound(NOT_FOUND_DETAIL)


def counted(problem: Problem) -> Problem:
    """``problem``; but an unknown code beyond this client's limit is a 429 (app/throttling.py)."""
    if problem.status == 404:
        retry_after = current_app.extensions["livery.throttle"].failed(PUBLIC_NOT_FOUND, request.environ)
        if retry_after:
            return TooManyRequests(retry_after)
    return problem


def resolve_code(raw: str) -> CodeEntry:
    """The usable access code for ``raw``; 404 when malformed or unknown, 410 when no longer valid."""
    found = code_status(public_answers(), raw)
    if isinstance(found, int):
        raise problem_for(found)
    return found


def discovery_answer(answers: PublicAnswers, raw: str) -> Answer | int:
    """The discovery answer for ``raw``, else the status of the problem to answer (404 or 410)."""
    found = code_status(answers, raw)
    if isinstance(found, int):
        return found
    answer = answers.discovery(found)
    return 404 if answer is None else answer  # a live code whose brand was never published shows nothing yet


def cached_response(body: bytes, etag: str, cache_control: str, content_type: str = "application/json") -> Response:
    """200 with ``body``, or 304 when the request's If-None-Match matches ``etag``."""
    # headers given to the constructor: one Headers build instead of a lookup-and-replace per header
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if none_match(request.environ.get("HTTP_IF_NONE_MATCH"), etag):
        return Response(status=304, headers=headers)
    return Response(body, content_type=content_type, headers=headers)


@bp.get("/discovery/<path:access_code>")
def discovery(access_code: str):
    """The discovery document for an access code (ETag / If-None-Match aware)."""
    answer = discovery_answer(public_answers(), access_code)
    if isinstance(answer, int):
        raise counted(problem_for(answer))
    return cached_response(answer.body, answer.etag, current_app.config["LIVERY_DISCOVERY_CACHE_CONTROL"])


@bp.record_once
def _install_fast_path(state) -> None:
    from app.api.public.fast import FastPublicPath

    state.app.wsgi_app = FastPublicPath(state.app, state.app.wsgi_app)
