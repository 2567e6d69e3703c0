"""The SCIM 2.0 surface ``/scim/v2``: a partner's identity provider provisions licensed users.

Authenticated by a partner API key (``Authorization: Bearer``): admin keys write, viewer keys
read; operator keys are refused (SCIM always acts for one partner). Every error leaves in
SCIM's error JSON (``application/scim+json``), never problem+json. See docs/licensing.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, g, json, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.api.scim.protocol import MEDIA_TYPE, ScimError
from app.db import session
from app.partners.models import Partner
from app.partners.services import authenticate, partner_is_read_only
from app.problems import Problem

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
MAX_SCIM_BYTES = 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# what a problem's status and code become in SCIM's vocabulary
_SCIM_TYPES = {409: "uniqueness", 422: "invalidValue"}


@dataclass(frozen=True)
class ScimCaller:
    partner_id: int
    key_id: int
    role: str

    @property
    def actor(self) -> str:
        """How the audit log and allocation history name this caller."""
        return f"partner:{self.partner_id}/scim-{self.role}-key:{self.key_id}"


def scim_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as application/scim+json."""
    data = b"" if body is None else json.dumps(body).encode()
    response = Response(data, status=status, mimetype=MEDIA_TYPE, headers=headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def caller() -> ScimCaller:
    """The partner key of this request."""
    return g.scim_caller


@bp.before_request
def _authenticate() -> None:
    request.max_content_length = MAX_SCIM_BYTES
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    key = authenticate(session(), token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if key is None:
        raise ScimError(401, "Send a partner API key as 'Authorization: Bearer <key>'.")
    session().commit()  # the key's last-used time, kept even when the request fails
    if key.partner_id is None:
        raise ScimError(403, "SCIM acts for one partner: use one of the partner's API keys, not an operator key.")
    if request.method not in SAFE_METHODS:
        if key.role != "admin":
            raise ScimError(403, "Provisioning needs an admin key; this one may only read.")
        if partner_is_read_only(session().get(Partner, key.partner_id)):
            raise ScimError(403, "This partner is suspended: nothing can be provisioned.")
    g.scim_caller = ScimCaller(key.partner_id, key.id, key.role)


@bp.errorhandler(ScimError)
def _scim_error(exc: ScimError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="livery-scim"'} if exc.status == 401 else None
    return scim_response(exc.to_dict(), exc.status, headers)


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    status = 400 if exc.status == 422 else exc.status
    return _scim_error(ScimError(status, exc.detail or exc.title, _SCIM_TYPES.get(exc.status)))


@bp.errorhandler(IntegrityError)
def _integrity(_exc: IntegrityError) -> Response:
    session().rollback()
    return _scim_error(ScimError(409, "A user with this userName was provisioned at the same time.", "uniqueness"))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return _scim_error(ScimError(exc.code or 500, exc.description or exc.name))


from app.api.scim import service_provider, users  # noqa: E402,F401  (routes register on bp)
