"""What operators see of each request: a request id, one log line, and its metrics.

:class:`ObservedRequests` is the outermost WSGI middleware (installed last by the app factory),
so it sees every answer the same way, the fast path's (app/api/public/fast.py) and Flask's, the
problem answers included: it takes the request id from a valid incoming ``X-Request-Id`` (or
makes one), echoes it in the response headers, counts the request by route name and status
(app/metrics.py) and writes one log line (``LIVERY_REQUEST_LOG``). A route name is Flask's
endpoint (``public.discovery``, ``brands.update_brand``...) or ``unmatched``; the fast path
answers only routes Flask names the same way. Logs carry no address, user id or access code:
the partner id is the only caller detail (from the admin key, or from the access code).

:func:`configure_logging` sets up every log line of the process: JSON objects, one per line
(``LIVERY_LOG_FORMAT=json``), or text; records logged while a request is served carry its id.
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

from app import metrics
from app.config import Settings

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = "livery.request_id"  # WSGI environ keys: set here and by the after-request hook
PARTNER_KEY = "livery.partner_id"
ROUTE_KEY = "livery.route"
FAST_ROUTE_KEY = "livery.fast_route"  # set by the fast path: the route it answers (FAST_ROUTES' names)
VALID_REQUEST_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
# the routes the fast path answers without Flask, by path prefix and suffix (the first that
# matches), named as Flask names them; an access code has no '/', so only a report ends so
FAST_ROUTES = (
    ("/v1/discovery/", "", "public.discovery"),
    ("/v1/upgrade/", "/reports", "public.report"),
    ("/v1/upgrade/", "", "public.upgrade"),
    ("/v1/assets/", "", "public.asset"),
    ("/v1/licenses/check", "", "public.check"),
)
CODE_ROUTES = ("/v1/discovery/", "/v1/upgrade/")  # paths that end in an access code
REQUEST_LOGGER = "livery.requests"
MAX_REMEMBERED_CODES = 20_000
HANDLER_MARK = "_livery_handler"

request_log = logging.getLogger(REQUEST_LOGGER)
log = logging.getLogger(__name__)


def new_request_id() -> str:
    """A fresh request id: 128 random bits, hex (as nginx's ``$request_id``).

    From ``random`` (reseeded in every forked worker), not ``os.urandom``: an id must be unique,
    not secret, and a system call per request costs the fast path more than the id is worth.
    """
    return _getrandbits(128).to_bytes(16, "big").hex()  # (a third cheaper than f"{...:032x}")


_getrandbits = random.getrandbits  # the module's generator, which forked workers reseed


class ObservedRequests:
    """WSGI middleware: request id in and out, request metrics, one log line per request."""

    def __init__(self, app: Flask, wsgi_app: Callable, *, log_requests: bool, sample: int = 1) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.log_requests = log_requests
        self.sample = sample  # one line per ``sample`` successful fast-path answers (LIVERY_REQUEST_LOG_SAMPLE)
        self._unlogged = 0
        self._code_partners: dict[str, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if request_id is None or not VALID_REQUEST_ID.match(request_id):
            request_id = new_request_id()
        environ[REQUEST_ID_KEY] = request_id
        sent: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            sent.append(status)
            # a new list: the fast path passes header lists it replays to every request
            return start_response(status, [*headers, (REQUEST_ID_HEADER, request_id)], exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            try:
                self._finished(environ, int(sent[-1][:3]) if sent else 500, time.perf_counter() - started)
            except Exception:  # counting or logging a request never fails it
                log.exception("could not count or log a request")

    def _finished(self, environ: dict[str, Any], status: int, seconds: float) -> None:
        route = environ.get(ROUTE_KEY) or environ.get(FAST_ROUTE_KEY) or route_name(environ)
        metrics.count_request(route, status, seconds)
        if self.log_requests and request_log.isEnabledFor(logging.INFO):
            if self.sample > 1 and status < 400 and ROUTE_KEY not in environ:  # a fast-path success
                self._unlogged += 1
                if self._unlogged < self.sample:
                    return
                self._unlogged = 0
            partner_id = environ[PARTNER_KEY] if PARTNER_KEY in environ else self._partner_id(environ)
            method, request_id = environ.get("REQUEST_METHOD"), environ[REQUEST_ID_KEY]
            micros = round(seconds * 1_000_000)
            if not write_request_line(time.time(), method, route, status, micros, request_id, partner_id):
                fields = request_fields(method, route, status, micros, request_id, partner_id)
                # makeRecord + handle: what request_log.info() does, less its walk up the stack for
                # the caller's file and line (a third of a log line's cost, and always this function)
                request_log.handle(request_log.makeRecord(REQUEST_LOGGER, logging.INFO, __file__, 0, "request", (),
                                                          None, extra={"fields": fields}))  # fmt: skip

    def _partner_id(self, environ: dict[str, Any]) -> int | None:
        # when neither the admin API nor the fast path noted it (the fast path notes None for a refused code)
        path = environ.get("PATH_INFO", "")
        for prefix in CODE_ROUTES:
            if path.startswith(prefix):
                return self._code_partner(path[len(prefix) :])
        return None

    def _code_partner(self, raw: str) -> int | None:
        # a code never changes partner, so a known one is remembered (as typed: no normalising)
        partner_id = self._code_partners.get(raw)
        if partner_id is None:
            from app.api.public.answers import Refused, code_status

            try:  # the lookup may have to read the change log: never for a log line's sake
                found = code_status(self.app.extensions["livery.public"], raw)
            except Exception:  # noqa: BLE001 - the request was answered; its line just lacks the partner
                return None
            if isinstance(found, Refused):
                return None
            if len(self._code_partners) >= MAX_REMEMBERED_CODES:
                self._code_partners.clear()
            partner_id = self._code_partners[raw] = found.partner_id
        return partner_id


def route_name(environ: dict[str, Any]) -> str:
    """The route that answered: Flask's endpoint, the fast path's fixed name, or ``unmatched``."""
    route = environ.get(ROUTE_KEY) or environ.get(FAST_ROUTE_KEY)
    if route is not None:  # Flask answered, or the fast path said which route it answered
        return route
    path = environ.get("PATH_INFO", "")
    for prefix, suffix, name in FAST_ROUTES:
        if path.startswith(prefix) and path.endswith(suffix):
            return name
    return "unmatched"


def install(app: Flask, settings: Settings) -> None:
    """Wrap the app (after every other middleware); Flask notes each request's route and admin partner."""

    @app.after_request
    def _note_route(response):
        request.environ[ROUTE_KEY] = request.endpoint or "unmatched"
        actor = g.get("livery_actor")
        if actor is not None and actor.partner_id is not None:
            request.environ[PARTNER_KEY] = actor.partner_id
        return response

    app.wsgi_app = ObservedRequests(
        app, app.wsgi_app, log_requests=settings.request_log, sample=settings.request_log_sample
    )
    metrics.start_flushing()


# -- log lines -------------------------------------------------------------------------------


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "fields") and has_request_context():
            record.fields = {"request_id": request.environ.get(REQUEST_ID_KEY)}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...``, the traceback below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        text = super().formatMessage(record)
        return text + "".join(f" {name}={value}" for name, value in fields.items()) if fields else text


# -- request lines without a LogRecord ------------------------------------------------------
# A request line through logging (LogRecord, formatter, json.dumps, datetime) cost ~4 times a
# fast-path answer. When Livery's own handler is the only one that would see it (the production
# set-up of configure_logging: no other handler, filter or logger in the way), the line is written
# to that handler's stream directly, formatted exactly as its formatter would (tests compare them);
# any other set-up (a test's caplog, an operator's extra handler) gets the record as before.


def _sole_handler() -> logging.Handler | None:
    root = logging.root
    if request_log.handlers or request_log.filters or not request_log.propagate or request_log.parent is not root:
        return None
    if root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if not getattr(handler, HANDLER_MARK, False) or len(handler.filters) != 1 or handler.level > logging.INFO:
        return None  # (its one filter, _RequestIdFilter, leaves records with fields alone)
    return handler


_seconds: dict[str, tuple[int, str]] = {"json": (-1, ""), "text": (-1, "")}  # the formatted second, reused
_MILLIS = tuple(f"{n:03d}" for n in range(1000))  # "000" ... "999"
# repr()'s decimals of n/1000 (120 -> "12", 0 -> "0"): a duration's text without formatting a float
_DECIMALS = tuple(f"{n:03d}".rstrip("0") or "0" for n in range(1000))
_QUOTED: dict[str, str] = {}  # json.dumps of the methods and route names seen (bounded)
MAX_QUOTED = 1_000


def _json_time(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, the second reused."""
    second = int(created)
    micros = round((created - second) * 1e6)  # datetime's rounding to the microsecond (the difference is exact)
    if micros >= 1_000_000:
        micros, second = micros - 1_000_000, second + 1
    cached, text = _seconds["json"]
    if cached != second:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _seconds["json"] = (second, text)
    return f"{text}.{_MILLIS[micros // 1000]}+00:00"


def _text_second(second: int, created: float) -> str:
    """logging.Formatter's default ``asctime`` without its milliseconds (local time), kept for the second."""
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
    _seconds["text"] = (second, text)
    return text


MAX_PLAIN_MICROS = 1_000_000_000_000  # below, repr(micros / 1000) is the plain decimal the tables write


def _quoted(text: Any) -> str:
    """``json.dumps(text)`` of a method or route name, remembered."""
    quoted = _QUOTED.get(text)
    if quoted is None:
        quoted = json.dumps(text, default=str)
        if len(_QUOTED) < MAX_QUOTED and type(text) is str:
            _QUOTED[text] = quoted
    return quoted


def request_fields(
    method: str | None, route: str, status: int, micros: int, request_id: str, partner_id: int | None
) -> dict[str, Any]:
    """A request line's fields, in their order (docs/operations.md): duration_ms from microseconds."""
    return {"method": method, "route": route, "status": status, "duration_ms": micros / 1000,
            "request_id": request_id, "partner_id": partner_id}  # fmt: skip


def request_line(
    formatter: logging.Formatter | None,
    created: float,
    method: str | None,
    route: str,
    status: int,
    micros: int,
    request_id: str,
    partner_id: int | None,
) -> str | None:
    """The line ``formatter`` would write for a record made at ``created`` with ``request_fields(...)``; None
    for other formatters. One f-string: no fields dictionary, no float formatting, no per-field join.

    ``request_id`` is one the observer accepted (VALID_REQUEST_ID) or made: nothing in it to escape.
    """
    # (the time and the duration are formatted inline: a function call each costs as much as their work)
    duration = f"{micros // 1000}.{_DECIMALS[micros % 1000]}" if micros < MAX_PLAIN_MICROS else repr(micros / 1000)
    if type(formatter) is TextFormatter:
        second = int(created)
        cached, text = _seconds["text"]
        if cached != second:
            text = _text_second(second, created)
        return (f"{text},{_MILLIS[int((created - second) * 1000)]} INFO {REQUEST_LOGGER}: request method={method} "
                f"route={route} status={status} duration_ms={duration} request_id={request_id} "
                f"partner_id={partner_id}")  # fmt: skip
    if type(formatter) is JsonFormatter:
        partner = "null" if partner_id is None else str(partner_id) if type(partner_id) is int else _quoted(partner_id)
        return (
            f'{{"time": "{_json_time(created)}", "level": "INFO", "logger": "{REQUEST_LOGGER}", "message": "request", '
            f'"method": {_quoted(method)}, "route": {_quoted(route)}, "status": {status}, '
            f'"duration_ms": {duration}, "request_id": "{request_id}", "partner_id": {partner}}}'
        )
    return None


def write_request_line(
    created: float,
    method: str | None,
    route: str,
    status: int,
    micros: int,
    request_id: str,
    partner_id: int | None,
) -> bool:
    """Write the request line straight to Livery's handler when it alone would write it; False otherwise."""
    handler = _sole_handler()
    if handler is None:
        return False
    line = request_line(handler.formatter, created, method, route, status, micros, request_id, partner_id)
    if line is None:
        return False
    with handler.lock:
        stream = handler.stream
        stream.write(line + "\n")
        if not getattr(stream, "line_buffering", False):  # (a line-buffered stream, stderr, has just flushed)
            stream.flush()
    return True


def livery_handler(stream: Any) -> logging.StreamHandler:
    """Livery's own handler on ``stream``, as configure_logging installs it (request lines may skip logging)."""
    handler = logging.StreamHandler(stream)
    setattr(handler, HANDLER_MARK, True)
    handler.addFilter(_RequestIdFilter())
    return handler


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger, to stderr, in ``LIVERY_LOG_FORMAT``; request lines per ``LIVERY_REQUEST_LOG``."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, HANDLER_MARK, False)), None)
    if handler is None:
        handler = livery_handler(sys.stderr)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.setLevel(settings.log_level)
    request_log.setLevel(logging.INFO if settings.request_log else logging.WARNING)
