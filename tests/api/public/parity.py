"""The parity harness: the WSGI fast path (app/api/public/fast.py) and the Flask routes behind it
must answer every request with the same status, header list and bytes.

``answers(app, ...)`` runs one request through the whole app and through Flask alone and says
which answered it; ``both`` additionally asserts that the fast path answered by itself,
``declined`` that it handed the request to Flask. ``data`` is a request body (each run reads its
own copy) and ``overrides`` replaces environ keys (e.g. a ``CONTENT_LENGTH`` that lies).
"""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.api.public.fast import FastPublicPath

Answer = tuple[str, list[tuple[str, str]], bytes]


def _environ(path: str, query: str, method: str, headers: dict[str, str] | None, data: bytes | None,
             overrides: dict[str, str] | None) -> dict:  # fmt: skip
    builder = EnvironBuilder(path=path, query_string=query, method=method, headers=headers or {}, data=data,
                             environ_overrides=overrides)  # fmt: skip
    return builder.get_environ()


def run(
    wsgi,
    path: str,
    query: str = "",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    overrides: dict[str, str] | None = None,
) -> Answer:
    """(status line, header list, body) of one request to a WSGI app."""
    app_iter, status, response_headers = run_wsgi_app(wsgi, _environ(path, query, method, headers, data, overrides))
    body = b"".join(app_iter)
    if hasattr(app_iter, "close"):
        app_iter.close()
    return status, list(response_headers.to_wsgi_list()), body


def fast_path(app) -> FastPublicPath:
    """The fast path among the app's WSGI middlewares (the request observer wraps it)."""
    wsgi = app.wsgi_app
    while not isinstance(wsgi, FastPublicPath):
        wsgi = wsgi.wsgi_app
    return wsgi


@dataclass
class Answers:
    whole: Answer  # the app as deployed, but the request observer: fast path in front of Flask
    flask: Answer  # Flask alone
    by_fast_path: bool  # the fast path answered without calling Flask


def answers(
    app, path: str, query: str = "", method: str = "GET", *, data: bytes | None = None,
    overrides: dict[str, str] | None = None, **headers: str,
) -> Answers:  # fmt: skip
    """The whole app's answer and Flask's for one request, and who answered the first."""
    fast = fast_path(app)
    flask_app = fast.wsgi_app
    calls = []

    def counting(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    fast.wsgi_app = counting
    try:
        whole = run(fast, path, query, method, headers, data, overrides)
    finally:
        fast.wsgi_app = flask_app
    return Answers(whole, run(flask_app, path, query, method, headers, data, overrides), not calls)


def both(app, path: str, query: str = "", method: str = "GET", **kwargs) -> tuple[Answer, Answer]:
    """(fast answer, Flask answer); fails unless the fast path answered by itself."""
    result = answers(app, path, query, method, **kwargs)
    assert result.by_fast_path, f"the fast path passed {path}?{query} to Flask"
    return result.whole, result.flask


def declined(app, path: str, query: str, method: str = "GET", **kwargs) -> tuple[Answer, Answer]:
    """(whole app's answer, Flask's answer), asserting the fast path handed the request to Flask."""
    result = answers(app, path, query, method, **kwargs)
    assert not result.by_fast_path, "the fast path answered a request it should leave to Flask"
    return result.whole, result.flask
