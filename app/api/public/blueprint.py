"""The ``/v1`` blueprint and the per-worker state its routes read (Flask side of the public surface)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from app.api.public.cache import PublicAnswers
from app.api.public.upgrade_cache import UpgradeAnswers
from app.problems import Problem
from app.storage import Stores
from app.throttling import PUBLIC_NOT_FOUND, TooManyRequests

bp = Blueprint("public", __name__, url_prefix="/v1")


@bp.before_request
def _options() -> Response | None:
    # OPTIONS is answered on purpose: 204 and the methods allowed. No CORS headers: the callers
    # are installed desktop clients, not web pages (docs/public-api.md).
    if request.method != "OPTIONS":
        return None
    allowed = current_app.make_default_options_response().headers["Allow"]
    return Response(status=204, headers={"Allow": allowed, "Cache-Control": "no-store"})


def counted(problem: Problem) -> Problem:
    """``problem``; but an unknown code beyond this client's limit is a 429 (app/throttling.py)."""
    if problem.status == 404:
        retry_after = current_app.extensions["livery.throttle"].failed(PUBLIC_NOT_FOUND, request.environ)
        if retry_after:
            return TooManyRequests(retry_after)
    return problem


def public_answers() -> PublicAnswers:
    """This worker's precomputed public answers."""
    return current_app.extensions["livery.public"]


def upgrade_answers() -> UpgradeAnswers:
    """This worker's cached upgrade state."""
    return current_app.extensions["livery.upgrades"]


def stores() -> Stores:
    """The deployment's object stores."""
    return current_app.extensions["livery.stores"]
