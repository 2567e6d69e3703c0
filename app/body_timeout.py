"""A request body that stops arriving fails within seconds instead of holding a worker.

gunicorn's sync workers read the body from a blocking socket without a timeout: a client that
declares ``Content-Length: 1000`` and sends 10 bytes holds the worker until the arbiter kills
it (30 s). This middleware gives the connection's socket a read timeout for the request
(gunicorn hands it over as ``environ["gunicorn.socket"]``): when no byte arrives for
``LIVERY_BODY_READ_TIMEOUT`` seconds the read fails, and the request is answered 408
``request_timeout``. It bounds silence, not duration: a large upload that keeps flowing is not
cut short. Behind the buffering proxy of docs/deployment.md a body always arrives whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import RequestTimeout


class _TimedBody:
    """``wsgi.input`` whose read timeout is a 408 rather than an OSError werkzeug calls a disconnect."""

    def __init__(self, stream: Any, seconds: float) -> None:
        self._stream = stream
        self._seconds = seconds
        self._expired = False  # once the body stopped arriving, every later read fails at once

    def _timed_out(self) -> RequestTimeout:
        self._expired = True
        return RequestTimeout(f"No part of the request body arrived for {self._seconds:g} seconds.")

    def read(self, *args: Any) -> bytes:
        try:
            if self._expired:
                raise TimeoutError
            return self._stream.read(*args)
        except TimeoutError:
            raise self._timed_out() from None

    def readline(self, *args: Any) -> bytes:
        try:
            if self._expired:
                raise TimeoutError
            return self._stream.readline(*args)
        except TimeoutError:
            raise self._timed_out() from None

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class BodyReadTimeout:
    """WSGI middleware: a read timeout on the client socket of each request gunicorn hands over."""

    def __init__(self, wsgi_app: Callable, seconds: float) -> None:
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        bound_body_reads(environ, self.seconds)
        return self.wsgi_app(environ, start_response)


def bound_body_reads(environ: dict[str, Any], seconds: float) -> None:
    """Give this request's body reads the read timeout (a 408 after ``seconds`` of silence).

    The middleware does it for Flask; the WSGI fast path (app/api/public/fast.py), which sits in
    front of it and reads the bodies of the public POSTs itself, calls it before reading. Once.
    """
    sock = environ.get("gunicorn.socket")
    if sock is not None and seconds > 0 and not isinstance(environ["wsgi.input"], _TimedBody):
        sock.settimeout(seconds)
        environ["wsgi.input"] = _TimedBody(environ["wsgi.input"], seconds)
