"""POST /v1/licenses/check: whether a user may run the client, as a signed lease.

200 whenever the access code is usable, licensed or not (the payload says which); the code
itself is refused exactly as discovery refuses it (404/410, same documents). A body that is not
a JSON object answers 400, a bad field 422 naming it. See docs/licensing.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from app.api.public import bp
from app.api.public.cache import PublicAnswers
from app.api.public.discovery import NOT_FOUND_DETAIL, code_status, problem_for, public_answers
from app.branding.codes import code_digest, normalise_code
from app.licensing.check import LicenceChecks
from app.licensing.user_ids import InvalidUserId, normalise_user_id
from app.problems import BadRequest, NotFound, ValidationProblem

MAX_CHECK_BYTES = 64 * 1024
MAX_PROOF = 16 * 1024
# install ids and nonces: what upgrade polls accept for install ids, visible ASCII
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,128}")
NO_STORE = "no-store"


@dataclass(frozen=True)
class CheckInput:
    access_code: str
    user_key: str
    install_id: str
    nonce: str | None
    proof: str | None


def licence_checks() -> LicenceChecks:
    """This worker's licence checks."""
    return current_app.extensions["livery.licensing"]


def parse_check(body: bytes) -> CheckInput:
    """The check's fields from the request body; 400 when not a JSON object, 422 naming a bad field."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body must be a JSON object.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    errors: dict[str, list[str]] = {}
    access_code = data.get("access_code")
    if not isinstance(access_code, str) or not access_code:
        errors["access_code"] = ["Required: the access code the client was built with."]
    user_key = ""
    try:
        user_key = normalise_user_id(data.get("user_id"))
    except InvalidUserId as exc:
        errors["user_id"] = [str(exc) if "user_id" in data else "Required: the id of the user to check."]
    install_id = data.get("install_id")
    if not isinstance(install_id, str) or not _TOKEN_RE.fullmatch(install_id):
        errors["install_id"] = ["Required: 1 to 128 visible ASCII characters."]
    nonce = data.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not _TOKEN_RE.fullmatch(nonce)):
        errors["nonce"] = ["Optional: 1 to 128 visible ASCII characters."]
    proof = data.get("proof")
    if proof is not None and (not isinstance(proof, str) or len(proof) > MAX_PROOF):
        errors["proof"] = [f"Optional: a string of at most {MAX_PROOF} characters."]
    if errors:
        raise ValidationProblem(errors)
    return CheckInput(access_code, user_key, install_id, nonce, proof)


def licence_answer(public: PublicAnswers, checks: LicenceChecks, body: bytes) -> bytes:
    """The signed answer to a check whose request body is ``body``; raises the problem to answer.

    Both the Flask route and fast.py answer through here.
    """
    data = parse_check(body)
    found = code_status(public, data.access_code)
    if isinstance(found, int):
        raise problem_for(found)
    method = checks.brand_method(found.brand_id, found.live)
    if method is None:  # a live code whose brand was never published: like discovery
        raise NotFound(NOT_FOUND_DETAIL)
    digest = code_digest(normalise_code(data.access_code))
    return checks.answer(found, method, digest, data.user_key, data.install_id, data.nonce, data.proof)


def check_response(body: bytes) -> Response:
    """The 200 response carrying a signed check answer (fast.py builds its header template from it)."""
    return Response(body, content_type="application/json", headers={"Cache-Control": NO_STORE})


@bp.post("/licenses/check")
def check() -> Response:
    """Whether a user is licensed: a signed answer with a lease for offline use."""
    request.max_content_length = MAX_CHECK_BYTES
    return check_response(licence_answer(public_answers(), licence_checks(), request.get_data(cache=False)))
