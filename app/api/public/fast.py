"""The public hot path below Flask: discovery, upgrade polls, asset revalidations, licence checks and
install reports as replayed bytes.

Flask's request machinery (context push, routing, Response and Headers objects, after-request
hooks, teardown) costs more per request than a discovery answer's own work, which is one digest
and two dictionary lookups. ``FastPublicPath`` wraps the WSGI app and answers

- GET/HEAD ``/v1/discovery/{code}``, every outcome (200, 304, 403, 404, 410),
- GET/HEAD ``/v1/upgrade/{code}?platform=&version=&install_id=`` with a plain query string
  (200, 304, 403, 404, 410; a 400, a 503 or an unusual query goes to Flask), and
- GET/HEAD ``/v1/assets/{sha256}`` whose If-None-Match matches (304; storage is never touched),
- POST ``/v1/licenses/check`` with a JSON body within the size limit (200, 403, 404, 410; a 400, a 422
  or anything unusual goes to Flask, with the body it sent),
- POST ``/v1/upgrade/{code}/reports``, one report or a batch, likewise (202, 403, 404, 410 and the
  per-install 429; a 400, a 413, a 422, a 503 or anything unusual goes to Flask, with the body it
  sent: reports enter the buffer only once all are valid and accepted, so Flask deciding again
  cannot count them twice),

with status lines and header lists that Flask itself built once (for upgrade answers, once for
all of them: each fills in its ETag and Content-Length) — the route's own
``cached_response``/``problem_response`` run through ``process_response``, so the security
headers and every after-request hook are included exactly as Flask sends them — and replays
them afterwards. Every other request, and any request this path cannot answer, goes to Flask
unchanged. Consequence: after-request hooks must not vary per request on these paths.

Throttling (app/throttling.py) happens here too, for every ``/v1`` request: an unknown code's 404
is counted (beyond the limit it becomes a 429); known codes keep answering from that address (a
company's NAT may hide many desktops); a successful answer never touches the counters.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import RequestTimeout

from app.api.conditional import cached_response, none_match
from app.api.public.answers import (
    IMMUTABLE,
    NO_STORE,
    UPGRADE_CACHE_CONTROL,
    Answer,
    Refused,
    discovery_answer,
    looked_up,
    parse_query,
    problem_for,
    upgrade_answer,
)
from app.api.public.cache import CodeEntry, PublicAnswers
from app.api.public.licence_answers import LICENCE_CHECK_PATH, MAX_CHECK_BYTES, licence_answer
from app.api.public.report_answers import MAX_BATCH_BYTES, REPORTS_SUFFIX, accept_reports, report_target
from app.api.public.upgrade_cache import UpgradeAnswers
from app.body_timeout import bound_body_reads
from app.db_health import DATABASE_DOWN
from app.formats import is_sha256
from app.observability import FAST_ROUTE_KEY, PARTNER_KEY
from app.problems import BadRequest, Problem, problem_response
from app.throttling import PUBLIC_NOT_FOUND, FailureThrottle, TooManyRequests
from app.upgrades.reports import ReportRecorder, TooManyReports

DISCOVERY = "/v1/discovery/"
ASSETS = "/v1/assets/"
UPGRADE = "/v1/upgrade/"
UPGRADE_PARAMETERS = frozenset({"platform", "version", "install_id"})
# what a typed code may look like; anything else (slashes, non-ASCII, ...) takes Flask's path
_CODE_CHARS = re.compile(r"^[0-9A-Za-z -]{1,64}\Z")  # \Z: "$" would also match before a final newline
MAX_DOCUMENTS = 20_000  # distinct ETags whose replies are kept; cleared when full

Reply = tuple[str, list[tuple[str, str]], bytes]
_PLACEHOLDER = Answer(b"{}", '"placeholder"')  # what Flask builds a route's template of replies with
_PROBLEMS = {refused: problem_for(refused).to_dict() for refused in Refused}
log = logging.getLogger(__name__)


def _discovery_refusal(problem: Problem) -> Refused | None:
    """The discovery refusal that ``problem`` is (its status, document and no extra header), else None."""
    refused = Refused(problem.status) if problem.status in (403, 404, 410) else None
    if refused is not None and not problem.headers and problem.to_dict() == _PROBLEMS[refused]:
        return refused
    return None


def plain_query(query_string: str) -> dict[str, str] | None:
    """The upgrade poll's parameters from a plain query string; None sends the request to Flask.

    Plain: ASCII, no escapes or '+' to decode, each known parameter at most once, nothing else
    (Flask's request.args decodes the rest and picks among duplicates). On such a string this is
    ``dict(parse_qsl(query_string, keep_blank_values=True))`` without the unquoting, which would
    change nothing: pairs split on '&', empty pieces skipped, a piece without '=' a blank value.
    """
    if "%" in query_string or "+" in query_string or not query_string.isascii():
        return None
    args: dict[str, str] = {}
    for piece in query_string.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            if name not in UPGRADE_PARAMETERS or name in args:
                return None
            args[name] = value
    return args


def _pick(replies: tuple[Reply, Reply], etag: str, if_none_match: str | None) -> Reply:
    """The 304 reply when If-None-Match names ``etag`` (exact match first: the common case), else the 200."""
    ok, not_modified = replies
    if if_none_match and (if_none_match == etag or none_match(if_none_match, etag)):
        return not_modified
    return ok


def _body(environ: dict[str, Any], limit: int, read_timeout: float) -> bytes | None:
    """The request body when a plain Content-Length within ``limit`` announced it and all of it came;
    else None. Whatever was read is put back: Flask reads it again when it answers instead. A body
    that stops arriving is left to Flask too, which answers the 408 at once (app/body_timeout.py)."""
    announced = environ.get("CONTENT_LENGTH") or ""
    if not (announced.isdigit() and announced.isascii()) or int(announced) > limit:
        return None  # absent (chunked), signed, '1_0', oversized: Flask decides
    length = int(announced)
    bound_body_reads(environ, read_timeout)
    try:
        body = environ["wsgi.input"].read(length)
    except RequestTimeout:
        return None
    environ["wsgi.input"] = io.BytesIO(body)
    return body if len(body) == length else None


def _note_partner(environ: dict[str, Any], found: CodeEntry | Refused) -> None:
    # for the request log line (app/observability.py): the code's partner, None for a refused code
    environ[PARTNER_KEY] = None if isinstance(found, Refused) else found.partner_id


class FastPublicPath:
    """WSGI middleware in front of the Flask app for the hottest public requests."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.answers: PublicAnswers = app.extensions["livery.public"]
        self.throttle: FailureThrottle = app.extensions["livery.throttle"]
        self._upgrades: UpgradeAnswers = app.extensions["livery.upgrades"]
        self._reports: ReportRecorder = app.extensions["livery.reports"]
        self._body_read_timeout: float = app.config["LIVERY"].body_read_timeout
        # reply pairs (200, 304) by (ETag, Cache-Control): an ETag derives from its body
        self._replies: dict[tuple[str, str], tuple[Reply, Reply]] = {}
        self._problems: dict[tuple[Refused, str], Reply] = {}
        self._asset_304: Reply | None = None
        self._templates: dict[tuple[str, str], tuple[Reply, Reply]] = {}  # by (route, Cache-Control)
        self._check_template: Reply | None = None
        self._accepted: dict[bytes, Reply] = {}  # by body: one report's, a batch's of 1-20 reports
        self._report_limits: dict[str, Reply] = {}  # 429s by Retry-After: at most 3 600

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            try:
                reply = self._reply(environ, method, environ.get("HTTP_IF_NONE_MATCH"))
            except DATABASE_DOWN:  # not held in memory and the database is down: Flask answers the 503
                reply = None
            except Exception:  # Flask answers this request instead, its errors included
                log.exception("fast public path failed; Flask answers instead")
                reply = None
            if reply is not None:
                status, headers, body = reply
                start_response(status, headers)
                return [body] if method == "GET" else []
        elif method == "POST":
            path = environ.get("PATH_INFO", "")
            if path == LICENCE_CHECK_PATH:
                environ[FAST_ROUTE_KEY] = "public.check"
                reply = self._licence_check(environ)
            elif path.startswith(UPGRADE) and path.endswith(REPORTS_SUFFIX):
                environ[FAST_ROUTE_KEY] = "public.report"
                reply = self._report(path[len(UPGRADE) : -len(REPORTS_SUFFIX)], environ)
            else:
                reply = None
            if reply is not None:
                start_response(reply[0], reply[1])
                return [reply[2]]
        return self.wsgi_app(environ, start_response)

    def _reply(self, environ: dict[str, Any], method: str, if_none_match: str | None) -> Reply | None:
        path = environ.get("PATH_INFO", "")
        if path.startswith(DISCOVERY):
            # the route, for the request observer (app/observability.py), as Flask names it
            environ[FAST_ROUTE_KEY] = "public.discovery"
            raw = path[len(DISCOVERY) :]
            if not _CODE_CHARS.match(raw):
                return None
            looked = looked_up(self.answers, raw)
            _note_partner(environ, looked[1])
            answer = discovery_answer(self.answers, raw, looked)
            if isinstance(answer, Refused):
                return self._refusal(answer, method, environ)
            cache_control = self.app.config["LIVERY_DISCOVERY_CACHE_CONTROL"]
            return _pick(self._reply_pair(answer, DISCOVERY, cache_control), answer.etag, if_none_match)
        if path.startswith(UPGRADE):
            environ[FAST_ROUTE_KEY] = "public.upgrade"
            return self._upgrade(path[len(UPGRADE) :], environ, method, if_none_match)
        if path.startswith(ASSETS) and if_none_match:
            sha256 = path[len(ASSETS) :]
            if is_sha256(sha256) and none_match(if_none_match, f'"{sha256}"'):
                environ[FAST_ROUTE_KEY] = "public.asset"
                return self._asset_not_modified(sha256)
        return None

    def _upgrade(self, raw: str, environ: dict[str, Any], method: str, if_none_match: str | None) -> Reply | None:
        if not _CODE_CHARS.match(raw):
            return None
        args = plain_query(environ.get("QUERY_STRING", ""))
        if args is None:
            return None
        try:
            query = parse_query(args)
        except BadRequest:
            return None  # the detail quotes the input: Flask builds it
        try:
            base_url = self.app.config["LIVERY"].public_base_url
            found = looked_up(self.answers, raw)[1]
            _note_partner(environ, found)
            answer = upgrade_answer(self.answers, self._upgrades, raw, query, base_url, found)
        except Problem as problem:
            refused = Refused(problem.status) if problem.status in (403, 404, 410) else None
            if refused is not None and not problem.headers and problem.to_dict() == _PROBLEMS[refused]:
                return self._refusal(refused, method, environ)  # the same documents as discovery's
            return None
        return _pick(self._reply_pair(answer, UPGRADE, UPGRADE_CACHE_CONTROL), answer.etag, if_none_match)

    def _licence_check(self, environ: dict[str, Any]) -> Reply | None:
        """The check's reply, or None (after putting the body back) for Flask to answer."""
        body = _body(environ, MAX_CHECK_BYTES, self._body_read_timeout)
        if body is None:
            return None
        try:
            answer = licence_answer(self.answers, self.app.extensions["livery.licensing"], body)
        except Problem as problem:
            refused = _discovery_refusal(problem)
            return None if refused is None else self._problem(refused, "POST")  # discovery's documents
        except Exception:  # Flask answers this request instead, its errors included
            log.exception("fast licence check failed; Flask answers instead")
            return None
        if self._check_template is None:
            # the route's response (licences.check_response), built once; the parity test keeps them equal
            self._check_template = self._built(
                LICENCE_CHECK_PATH,
                lambda: Response(b"{}", content_type="application/json", headers={"Cache-Control": NO_STORE}),
                method="POST",
            )
        status, headers, _ = self._check_template
        length_header = str(len(answer))
        return status, [(n, length_header if n == "Content-Length" else v) for n, v in headers], answer

    def _report(self, raw: str, environ: dict[str, Any]) -> Reply | None:
        """The report's reply, or None (after putting the body back) for Flask to answer."""
        if not _CODE_CHARS.match(raw):
            return None
        body = _body(environ, MAX_BATCH_BYTES, self._body_read_timeout)
        if body is None:
            return None
        try:
            try:
                found, channel = report_target(self.answers, self._upgrades, raw)
            except Problem as problem:
                _note_partner(environ, Refused.UNKNOWN)
                refused = _discovery_refusal(problem)
                return None if refused is None else self._refusal(refused, "POST", environ)  # discovery's documents
            _note_partner(environ, found)
            accepted = accept_reports(self._reports, found, channel, body)
        except TooManyReports as problem:  # this install's cap: refused before anything was counted
            return self._too_many_reports(problem)
        except Problem:  # a 400, 413 or 422 (the detail quotes the input), a 503: Flask builds it
            return None
        except DATABASE_DOWN:  # the code is not held in memory and the database is down: Flask's 503
            return None
        except Exception:  # Flask answers this request instead, its errors included
            log.exception("fast install report failed; Flask answers instead")
            return None
        reply = self._accepted.get(accepted)
        if reply is None:
            # the route's response (reports.accepted_response), built once per body (at most 21 of them);
            # the parity test keeps them equal
            reply = self._accepted[accepted] = self._built(
                UPGRADE,
                lambda: Response(
                    accepted, status=202, content_type="application/json", headers={"Cache-Control": NO_STORE}
                ),
                method="POST",
            )
        return reply

    def _too_many_reports(self, problem: TooManyReports) -> Reply:
        retry_after = problem.headers["Retry-After"]
        reply = self._report_limits.get(retry_after)
        if reply is None:  # one per second of the hour at most: a flooding install costs no request context
            reply = self._report_limits[retry_after] = self._built(
                UPGRADE, lambda: problem_response(problem), method="POST"
            )
        return reply

    # -- replies built once by Flask ---------------------------------------------------------

    def _built(self, path: str, build: Callable[[], Response], **context: Any) -> Reply:
        with self.app.test_request_context(path, **context) as ctx:
            response = self.app.process_response(build())
            headers = response.get_wsgi_headers(ctx.request.environ).to_wsgi_list()
            return response.status, headers, response.get_data()

    def _reply_pair(self, answer: Answer, path: str, cache_control: str) -> tuple[Reply, Reply]:
        """The (200, 304) replies of ``answer``: its ETag, Content-Length and body in the route's template.

        Answers are many (a discovery document per brand, kind and channel; an upgrade answer per
        channel, platform, client version and target) and first arrive while serving, so Flask
        builds one pair of replies per route and Cache-Control, and each answer fills in its own
        ETag, Content-Length and body: a new answer costs no request context (a pair built by
        Flask cost ~1 ms, which a worker's first minute paid once per brand).
        """
        key = (answer.etag, cache_control)
        replies = self._replies.get(key)
        if replies is None:  # ETags derive from the body: one ETag (and Cache-Control), one reply pair
            template = self._templates.get((path, cache_control))
            if template is None:
                template = self._templates[(path, cache_control)] = self._template(path, cache_control)
            ok, not_modified = template
            filled = {"ETag": answer.etag, "Content-Length": str(len(answer.body))}
            replies = (
                (ok[0], [(name, filled.get(name, value)) for name, value in ok[1]], answer.body),
                (not_modified[0], [(name, filled.get(name, value)) for name, value in not_modified[1]], b""),
            )
            if len(self._replies) >= MAX_DOCUMENTS:
                self._replies.clear()
            self._replies[key] = replies
        return replies

    def _template(self, path: str, cache_control: str) -> tuple[Reply, Reply]:
        """The (200, 304) replies Flask builds for ``path`` with ``cache_control``, around a placeholder answer."""

        def build() -> Response:
            return cached_response(_PLACEHOLDER.body, _PLACEHOLDER.etag, cache_control)

        return self._built(path, build), self._built(path, build, headers={"If-None-Match": _PLACEHOLDER.etag})

    def _refusal(self, refused: Refused, method: str, environ: dict[str, Any]) -> Reply:
        """The 404 or 410 for a code; an unknown code beyond this client's limit is a 429 instead."""
        if refused == Refused.UNKNOWN:
            retry_after = self.throttle.failed(PUBLIC_NOT_FOUND, environ)
            if retry_after:
                return self._too_many(retry_after, method)
        return self._problem(refused, method)

    def _too_many(self, retry_after: int, method: str) -> Reply:
        # rare (a client being refused): built by Flask each time, for its Retry-After
        problem = TooManyRequests(retry_after)
        return self._built(DISCOVERY, lambda: problem_response(problem, head=method == "HEAD"), method=method)

    def _problem(self, refused: Refused, method: str) -> Reply:
        reply = self._problems.get((refused, method))
        if reply is None:
            problem = problem_for(refused)
            reply = self._problems[(refused, method)] = self._built(
                DISCOVERY, lambda: problem_response(problem, head=method == "HEAD"), method=method
            )
        return reply

    def _asset_not_modified(self, sha256: str) -> Reply:
        if self._asset_304 is None:
            self._asset_304 = self._built(
                ASSETS,
                lambda: cached_response(b"", '"{sha256}"', IMMUTABLE),
                headers={"If-None-Match": '"{sha256}"'},
            )
        status, headers, body = self._asset_304
        etag = f'"{sha256}"'
        return status, [(name, etag if value == '"{sha256}"' else value) for name, value in headers], body
