"""The public hot path below Flask: discovery answers and asset revalidations as replayed bytes.

Flask's request machinery (context push, routing, Response and Headers objects, after-request
hooks, teardown) costs more per request than a discovery answer's own work, which is one digest
and two dictionary lookups. ``FastPublicPath`` wraps the WSGI app and answers

- GET/HEAD ``/v1/discovery/{code}``, every outcome (200, 304, 404, 410), and
- GET/HEAD ``/v1/assets/{sha256}`` whose If-None-Match matches (304; storage is never touched),

with status lines and header lists that Flask itself built once — the route's own
``cached_response``/``problem_response`` run through ``process_response``, so the security
headers and every after-request hook are included exactly as Flask sends them — and replays
them afterwards. Every other request, and any request this path cannot answer, goes to Flask
unchanged. Consequence: after-request hooks must not vary per request on these two paths.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response

from app.api.conditional import none_match
from app.api.public.assets import IMMUTABLE, SHA256_RE
from app.api.public.cache import Answer, PublicAnswers
from app.api.public.discovery import cached_response, discovery_answer, problem_for
from app.problems import problem_response

DISCOVERY = "/v1/discovery/"
ASSETS = "/v1/assets/"
# what a typed code may look like; anything else (slashes, non-ASCII, ...) takes Flask's path
_CODE_CHARS = re.compile(r"^[0-9A-Za-z -]{1,64}$")
MAX_DOCUMENTS = 20_000  # distinct ETags whose replies are kept; cleared when full

Reply = tuple[str, list[tuple[str, str]], bytes]
log = logging.getLogger(__name__)


class FastPublicPath:
    """WSGI middleware in front of the Flask app for the two hottest public requests."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.answers: PublicAnswers = app.extensions["livery.public"]
        self._documents: dict[str, tuple[Reply, Reply]] = {}
        self._problems: dict[tuple[int, str], Reply] = {}
        self._asset_304: Reply | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            try:
                reply = self._reply(environ.get("PATH_INFO", ""), method, environ.get("HTTP_IF_NONE_MATCH"))
            except Exception:  # Flask answers this request instead, its errors included
                log.exception("fast public path failed; Flask answers instead")
                reply = None
            if reply is not None:
                status, headers, body = reply
                start_response(status, headers)
                return [body] if method == "GET" else []
        return self.wsgi_app(environ, start_response)

    def _reply(self, path: str, method: str, if_none_match: str | None) -> Reply | None:
        if path.startswith(DISCOVERY):
            raw = path[len(DISCOVERY) :]
            if not _CODE_CHARS.match(raw):
                return None
            answer = discovery_answer(self.answers, raw)
            if isinstance(answer, int):
                return self._problem(answer, method)
            ok, not_modified = self._document(answer)
            if if_none_match and (if_none_match == answer.etag or none_match(if_none_match, answer.etag)):
                return not_modified
            return ok
        if path.startswith(ASSETS) and if_none_match:
            sha256 = path[len(ASSETS) :]
            if SHA256_RE.match(sha256) and none_match(if_none_match, f'"{sha256}"'):
                return self._asset_not_modified(sha256)
        return None

    # -- replies built once by Flask ---------------------------------------------------------

    def _built(self, path: str, build: Callable[[], Response], **context: Any) -> Reply:
        with self.app.test_request_context(path, **context) as ctx:
            response = self.app.process_response(build())
            headers = response.get_wsgi_headers(ctx.request.environ).to_wsgi_list()
            return response.status, headers, response.get_data()

    def _document(self, answer: Answer) -> tuple[Reply, Reply]:
        replies = self._documents.get(answer.etag)
        if replies is None:  # ETags derive from the body: one ETag, one reply pair
            cache_control = self.app.config["LIVERY_DISCOVERY_CACHE_CONTROL"]

            def build() -> Response:
                return cached_response(answer.body, answer.etag, cache_control)

            ok = self._built(DISCOVERY, build)
            not_modified = self._built(DISCOVERY, build, headers={"If-None-Match": answer.etag})
            if len(self._documents) >= MAX_DOCUMENTS:
                self._documents.clear()
            replies = self._documents[answer.etag] = (ok, not_modified)
        return replies

    def _problem(self, status: int, method: str) -> Reply:
        reply = self._problems.get((status, method))
        if reply is None:
            problem = problem_for(status)
            reply = self._problems[(status, method)] = self._built(
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
