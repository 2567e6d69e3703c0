"""gunicorn settings for Livery's hot path, chosen by measurement (see BENCHMARKS.md).

Worker class: ``sync``. Every public answer is a dictionary lookup and a byte copy — CPU work
with nothing to wait on — so cooperative or threaded workers add scheduling without adding
overlap. Measured on 2 cores: sync kept p99 in the low milliseconds; gthread collapsed to ~2k
requests/s when wrk's keep-alive connections clustered on one worker (a thread pool per
process cannot hand a connection to the idle process); gevent reached more requests/s but its
p99 was 0.5-1.4 s, because one greenlet per connection starves the others while it runs.
Sync workers accept one connection at a time from the shared listen socket, so the kernel
spreads load over idle workers and a request never waits behind another worker's queue.
Sync workers close the connection after each answer (no keep-alive): put nginx or a CDN in
front for client keep-alive and TLS (docs/deployment.md).

Count: one worker per core (``2 x cores`` measured no better and doubles memory and polling).
Override with ``--workers`` or ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

import multiprocessing

bind = "127.0.0.1:8000"
worker_class = "sync"
workers = multiprocessing.cpu_count()
backlog = 2048
timeout = 30
graceful_timeout = 20
keepalive = 2
accesslog = None  # per-request logging costs more than the request; nginx in front logs
preload_app = False  # each worker builds its own engine and answers after fork (no shared sockets)


def post_worker_init(worker) -> None:
    """Load every access code before the worker accepts its first connection."""
    answers = getattr(worker.wsgi, "extensions", {}).get("livery.public")
    if answers is not None:
        answers.warm()
