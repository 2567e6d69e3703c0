"""Who is calling: bearer keys, roles and partner scoping for every admin route.

- Every admin blueprint is made with :func:`admin_blueprint`, which authenticates each request
  before the route runs (401 without a valid key).
- :func:`load_owned` loads a partner-owned row and answers 404 when it belongs to another
  partner, exactly as if it did not exist: a partner key never learns that another partner's id
  is in use. Role checks (:func:`require_role`, 403) come *after* scoping for the same reason.
- Operator keys act for any partner; they name it with ``partner_id`` (body for creates, query
  filter for lists). Partner keys always act for their own partner, and only read while it is
  suspended (403 ``partner_suspended`` on any write).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from flask import current_app, g, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, is_json_request

from app.db import session
from app.formats import MAX_ROW_ID
from app.json_input import JSONInputError, load_json
from app.partners.models import ApiKey, Partner
from app.partners.services import authenticate, partner_is_read_only
from app.problems import BadRequest, NotFound, PayloadTooLarge, Problem, ValidationProblem
from app.throttling import ADMIN_AUTH, FailureThrottle, TooManyRequests

ADMIN_PREFIX = "/admin/v1"
MAX_JSON_BYTES = 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """The caller of this request, from its API key."""

    key_id: int
    role: str  # operator | admin | viewer
    partner_id: int | None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def name(self) -> str:
        """How the audit log names this caller."""
        if self.is_operator:
            return f"operator-key:{self.key_id}"
        return f"partner:{self.partner_id}/{self.role}-key:{self.key_id}"


class Unauthenticated(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__("unauthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="livery"'})


class PartnerSuspended(Problem):
    def __init__(self) -> None:
        super().__init__(
            "partner_suspended",
            "This partner is suspended: its keys may read but not change anything. Ask your operator.",
        )


class InsufficientRole(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__("insufficient_role", detail)


def authenticate_request() -> Actor:
    """The caller of this request (cached); raise 401 without a valid, unrevoked key."""
    actor = g.get("livery_actor")
    if actor is not None:
        return actor
    throttle: FailureThrottle = current_app.extensions["livery.throttle"]
    retry_after = throttle.refused(ADMIN_AUTH, request.environ)
    if retry_after:
        raise TooManyRequests(retry_after)
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _failed(throttle, "Send your API key as 'Authorization: Bearer <key>'.")
    key: ApiKey | None = authenticate(session(), token.strip())
    if key is None:
        raise _failed(throttle, "This API key is unknown or revoked.")
    # Commit the last-used time now, on its own: it must be kept even for reads and failed writes.
    session().commit()
    writes = request.method not in SAFE_METHODS
    if writes and key.partner_id is not None and partner_is_read_only(session().get(Partner, key.partner_id)):
        raise PartnerSuspended()
    actor = g.livery_actor = Actor(key.id, key.role, key.partner_id)
    return actor


def _failed(throttle: FailureThrottle, detail: str) -> Problem:
    # counted per client address: beyond the limit the answer is 429, not another guess's 401
    retry_after = throttle.failed(ADMIN_AUTH, request.environ)
    return TooManyRequests(retry_after) if retry_after else Unauthenticated(detail)


class AdminArgumentParser(FlaskParser):
    """webargs' parser reading JSON bodies through app/json_input.py (depth and number caps)."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return super()._raw_load_json(req)
        try:
            return load_json(req.get_data(cache=True))
        except JSONInputError as exc:
            raise BadRequest(f"{exc} Send one JSON document.", code="malformed_json") from None


class AdminBlueprint(Blueprint):
    ARGUMENTS_PARSER = AdminArgumentParser()


def admin_blueprint(name: str, description: str) -> Blueprint:
    """A flask-smorest blueprint under /admin/v1 whose every request must be authenticated."""
    blp = AdminBlueprint(name, __name__, url_prefix=ADMIN_PREFIX, description=description)
    blp.before_request(_require_key)
    blp.before_request(_cap_body)
    blp.after_request(_not_stored)
    return blp


def _not_stored(response):
    # Admin answers carry keys and codes shown once, and partner data: no cache may keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _cap_body() -> None:
    # The app-wide limit is sized for installer uploads; every other body is a JSON document (or
    # a form) that never needs more. Routes that take more raise it with body_limit() before
    # reading; Werkzeug answers a body past the cap with 413 (payload_too_large) when it is read.
    request.max_content_length = MAX_JSON_BYTES


def body_limit(max_bytes: int, what: str = "The body") -> None:
    """Cap this request's body at ``max_bytes``, before any of it is read.

    413 at once when Content-Length announces more; without one (chunked), Werkzeug stops reading
    past the cap and the 413 it raises is the same ``payload_too_large`` problem.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(max_bytes, what)
    request.max_content_length = max_bytes


def read_body(max_bytes: int, what: str = "The body") -> bytes:
    """The whole body of this request, at most ``max_bytes`` (413 otherwise, never truncated)."""
    body_limit(max_bytes, what)
    data = request.stream.read()
    # a body without Content-Length is cut at the cap: Werkzeug raises its 413 on the next read
    request.stream.read(1)
    return data


def _require_key() -> None:
    authenticate_request()  # returns nothing: a value returned here would replace the response


def current_actor() -> Actor:
    """The authenticated caller of this request."""
    return authenticate_request()


def require_role(*roles: str) -> Actor:
    """The caller, if operator or one of ``roles``; else 403 (own partner's resources only)."""
    actor = current_actor()
    if not actor.is_operator and actor.role not in roles:
        raise InsufficientRole(f"This needs a key with role {' or '.join(roles)}; yours is {actor.role}.")
    return actor


def require_operator() -> Actor:
    """The caller, if it holds an operator key; else 403."""
    actor = current_actor()
    if not actor.is_operator:
        raise InsufficientRole("Only operators may do this.")
    return actor


def load_owned(model: type[T], ident: object, what: str) -> T:
    """The ``model`` row ``ident`` if the caller may see it; 404 when missing or another partner's."""
    too_big = isinstance(ident, int) and ident > MAX_ROW_ID  # PostgreSQL would refuse to compare
    row = None if too_big else session().get(model, ident)
    actor = current_actor()
    if row is None or (not actor.is_operator and row.partner_id != actor.partner_id):
        raise NotFound(f"No {what} with id {ident}.")
    return row


def load_owned_partner(partner_id: int) -> Partner:
    """The partner, if the caller may see it (operators: any; partner keys: their own); else 404."""
    actor = current_actor()
    partner = session().get(Partner, partner_id)
    if partner is None or (not actor.is_operator and actor.partner_id != partner.id):
        raise NotFound(f"No partner with id {partner_id}.")
    return partner


def acting_partner(partner_id: int | None) -> Partner:
    """The partner a create acts for: the caller's own, or for operators the one they name."""
    actor = current_actor()
    if not actor.is_operator:
        if partner_id is not None and partner_id != actor.partner_id:
            raise NotFound(f"No partner with id {partner_id}.")
        partner_id = actor.partner_id
    elif partner_id is None:
        raise ValidationProblem({"partner_id": ["Operator keys must name the partner this is for."]})
    partner = session().get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"No partner with id {partner_id}.")
    return partner


def partner_filter(partner_id: int | None) -> int | None:
    """The partner a list is limited to: the caller's own, or for operators an optional filter."""
    actor = current_actor()
    if actor.is_operator:
        return partner_id
    if partner_id is not None and partner_id != actor.partner_id:
        raise NotFound(f"No partner with id {partner_id}.")
    return actor.partner_id
