"""What the request observer (request id, metrics, log line) costs a fast-path discovery 304, in process.

``.venv/bin/python -m bench.observability_cost`` builds a small SQLite dataset (one demo code),
then calls the WSGI stack directly — no sockets, no gunicorn — and prints the CPU time per
request of: the fast path alone; the fast path under the observer with the request log off
(request id + metrics); with JSON log lines; with text log lines (log lines go to /dev/null,
formatted as in production). CPU time (``time.process_time``), best of several rounds: on a
shared machine wall-clock rates swing by half from one run to the next, CPU time per call far less.
About 15 s.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from werkzeug.test import EnvironBuilder

from app import create_app, migrate
from app.cli.demo import demo_code
from app.config import Settings
from app.observability import REQUEST_LOGGER, JsonFormatter, ObservedRequests, TextFormatter, livery_handler
from bench.hotpath_cost import per_call_us


def _fast_path(app):
    from app.api.public.fast import FastPublicPath

    wsgi = app.wsgi_app
    while not isinstance(wsgi, FastPublicPath):
        wsgi = wsgi.wsgi_app
    return wsgi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="livery-observe-"))
    url = f"sqlite:///{work / 'bench.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, signing_keys_dir=str(work / "keys"), installers_dir=str(work / "inst"))
    app = create_app(settings)
    app.test_cli_runner().invoke(args=["demo", "seed"])
    path = f"/v1/discovery/{demo_code('live')}"
    fast = _fast_path(app)
    etag = app.test_client().get(path).headers["ETag"]
    environ = EnvironBuilder(path=path, headers={"If-None-Match": etag}).get_environ()
    assert app.test_client().get(path, headers={"If-None-Match": etag}).status_code == 304

    # configure_logging's own handler: request lines take the direct write (app/observability.py)
    sink = livery_handler(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    logging.getLogger().handlers = [sink]
    logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)
    rows = [("fast path alone", fast), ("+ observer, request log off", ObservedRequests(app, fast, log_requests=False))]
    observed = ObservedRequests(app, fast, log_requests=True)
    results = []
    for label, wsgi in rows:
        results.append((label, per_call_us(wsgi, [environ], args.calls, args.rounds)))
    for label, formatter in (
        ("+ observer, JSON log line", JsonFormatter()),
        ("+ observer, text log line", TextFormatter()),
    ):
        sink.setFormatter(formatter)
        results.append((label, per_call_us(observed, [environ], args.calls, args.rounds)))
    base = results[0][1]
    print("| discovery 304 through | CPU µs per request | added µs |")
    print("|---|---:|---:|")
    for label, us in results:
        print(f"| {label} | {us:.1f} | {us - base:+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
