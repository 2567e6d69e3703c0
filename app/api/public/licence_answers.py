"""What a licence check answers, decided without Flask: the core the route and fast.py share.

``licence_answer`` parses the body (400 when it is not a JSON object, 422 naming a bad field),
refuses the code exactly as discovery does (``answers.code_status``) and asks the worker's
``LicenceChecks`` for the signed answer. Imports no route module and no Flask.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.api.public.answers import NOT_FOUND_DETAIL, Refused, code_status, problem_for
from app.branding.codes import code_digest, normalise_code
from app.formats import MAX_INSTALL_ID, is_install_id
from app.licensing.user_ids import InvalidUserId, normalise_user_id
from app.problems import BadRequest, NotFound, ValidationProblem

if TYPE_CHECKING:
    from app.api.public.cache import PublicAnswers
    from app.licensing.check import LicenceChecks

LICENCE_CHECK_PATH = "/v1/licenses/check"
MAX_CHECK_BYTES = 64 * 1024
MAX_PROOF = 16 * 1024
_NONCE_RE = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII


@dataclass(frozen=True)
class CheckInput:
    access_code: str
    user_key: str
    install_id: str
    nonce: str | None
    proof: str | None


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
    if not is_install_id(install_id):
        errors["install_id"] = [f"Required: 1 to {MAX_INSTALL_ID} visible ASCII characters."]
    nonce = data.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce)):
        errors["nonce"] = ["Optional: 1 to 128 visible ASCII characters."]
    proof = data.get("proof")
    if proof is not None and (not isinstance(proof, str) or len(proof) > MAX_PROOF):
        errors["proof"] = [f"Optional: a string of at most {MAX_PROOF} characters."]
    if errors:
        raise ValidationProblem(errors)
    return CheckInput(access_code, user_key, install_id, nonce, proof)


def licence_answer(public: PublicAnswers, checks: LicenceChecks, body: bytes) -> bytes:
    """The signed answer to a check whose request body is ``body``; raises the problem to answer."""
    data = parse_check(body)
    found = code_status(public, data.access_code)
    if isinstance(found, Refused):
        raise problem_for(found)
    method = checks.brand_method(found.brand_id, found.live)
    if method is None:  # a live code whose brand was never published: like discovery
        raise NotFound(NOT_FOUND_DETAIL)
    digest = code_digest(normalise_code(data.access_code))
    return checks.answer(found, method, digest, data.user_key, data.install_id, data.nonce, data.proof)
