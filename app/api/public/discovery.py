"""GET /v1/discovery/{access_code}: what an installed client is called and looks like.

The route below is the reference behaviour; fast.py answers the same requests with the same
bytes below Flask (see there), and both decide through ``answers.discovery_answer``.
"""

from __future__ import annotations

from flask import Response, current_app

from app.api.conditional import cached_response
from app.api.public.answers import Refused, discovery_answer, problem_for
from app.api.public.blueprint import bp, public_answers


@bp.get("/discovery/<path:access_code>")
def discovery(access_code: str) -> Response:
    """The discovery document for an access code (ETag / If-None-Match aware)."""
    answer = discovery_answer(public_answers(), access_code)
    if isinstance(answer, Refused):
        raise problem_for(answer)
    return cached_response(answer.body, answer.etag, current_app.config["LIVERY_DISCOVERY_CACHE_CONTROL"])
