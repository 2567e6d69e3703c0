"""Run one request through the fast path and through Flask alone, to compare the two answers."""

from __future__ import annotations

from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.api.public.fast import FastPublicPath


def _environ(path: str, query: str, method: str, headers: dict[str, str] | None) -> dict:
    return EnvironBuilder(path=path, query_string=query, method=method, headers=headers or {}).get_environ()


def _run(wsgi, path: str, query: str, method: str, headers: dict[str, str] | None):
    app_iter, status, response_headers = run_wsgi_app(wsgi, _environ(path, query, method, headers))
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


def both(app, path: str, query: str = "", method: str = "GET", **headers: str):
    """(fast answer, Flask answer); fails unless the fast path answered by itself."""
    fast = fast_path(app)
    flask_app = fast.wsgi_app

    def refuse(environ, start_response):
        raise AssertionError(f"the fast path passed {path}?{query} to Flask")

    fast.wsgi_app = refuse
    try:
        fast_answer = _run(fast, path, query, method, headers)
    finally:
        fast.wsgi_app = flask_app
    return fast_answer, _run(flask_app, path, query, method, headers)


def declined(app, path: str, query: str, method: str = "GET", **headers: str):
    """(whole app's answer, Flask's answer), asserting the fast path handed the request to Flask."""
    fast = fast_path(app)
    flask_app = fast.wsgi_app
    calls = []

    def counting(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    fast.wsgi_app = counting
    try:
        whole = _run(fast, path, query, method, headers)
    finally:
        fast.wsgi_app = flask_app
    assert len(calls) == 1, "the fast path answered a request it should leave to Flask"
    return whole, _run(flask_app, path, query, method, headers)
