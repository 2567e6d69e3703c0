"""The public surface ``/v1``: what installed clients call. The hot path; see cache.py."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

bp = Blueprint("public", __name__, url_prefix="/v1")


@bp.before_request
def _options() -> Response | None:
    # OPTIONS is answered on purpose: 204 and the methods allowed. No CORS headers: the callers
    # are installed desktop clients, not web pages (docs/public-api.md).
    if request.method != "OPTIONS":
        return None
    allowed = current_app.make_default_options_response().headers["Allow"]
    return Response(status=204, headers={"Allow": allowed, "Cache-Control": "no-store"})


from app.api.public import assets, discovery, upgrade  # noqa: E402,F401  (routes register on bp)
