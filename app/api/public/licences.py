"""POST /v1/licenses/check: whether a user may run the client, as a signed lease.

200 whenever the access code is usable, licensed or not (the payload says which); the code
itself is refused exactly as discovery refuses it (404/410, same documents). The route below is
the reference behaviour; fast.py answers the same requests with the same bytes below Flask, and
both decide through ``licence_answers.licence_answer``. See docs/licensing.md.
"""

from __future__ import annotations

from flask import Response, current_app, request

from app.api.public.answers import NO_STORE
from app.api.public.blueprint import bp, public_answers
from app.api.public.licence_answers import MAX_CHECK_BYTES, licence_answer
from app.licensing.check import LicenceChecks


def licence_checks() -> LicenceChecks:
    """This worker's licence checks."""
    return current_app.extensions["livery.licensing"]


def check_response(body: bytes) -> Response:
    """The 200 response carrying a signed check answer."""
    return Response(body, content_type="application/json", headers={"Cache-Control": NO_STORE})


@bp.post("/licenses/check")
def check() -> Response:
    """Whether a user is licensed: a signed answer with a lease for offline use."""
    request.max_content_length = MAX_CHECK_BYTES
    return check_response(licence_answer(public_answers(), licence_checks(), request.get_data(cache=False)))
