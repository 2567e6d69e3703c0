"""The framework floor: a bare Flask app that answers constant bytes, under Livery's gunicorn config.

It runs on gunicorn's own ``sync`` workers (``bench.servers.floor`` says ``--worker-class sync``),
not on Livery's worker class: the floor is "a bare Flask app on stock gunicorn sync workers".

Nothing but Flask's routing and response: what any Flask endpoint costs on this machine before
it does any work. ``LIVERY_BENCH_FLOOR_BODY`` names a file whose bytes it answers (the same
discovery document nginx serves), read once per worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request

app = Flask(__name__)
BODY = Path(os.environ.get("LIVERY_BENCH_FLOOR_BODY", __file__)).read_bytes()


@app.get("/v1/discovery/<path:code>")
def constant(code: str) -> Response:
    """The same bytes, whatever the code."""
    return Response(BODY, content_type="application/json")


@app.post("/v1/licenses/check")
def constant_check() -> Response:
    """The same bytes, whatever the body (the floor of a licence check; bench/licensing.py).

    The body is read, as any POST endpoint must before it answers; nothing is done with it.
    """
    request.get_data()
    return Response(BODY, content_type="application/json")
