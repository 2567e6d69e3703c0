"""gunicorn settings for Livery's hot path, chosen by measurement (bench/sweep.py, BENCHMARKS.md).

Worker class: ``sync``, one worker per core. Every public answer is a dictionary lookup and a
byte copy — CPU work with nothing to wait on — so cooperative or threaded workers add
scheduling without adding overlap. Measured on 2 cores, 64 connections, discovery 200/304
(``python -m bench.sweep``):

- sync x 2: ~6 100-6 700 requests/s, p99 14-17 ms, steady from run to run;
- sync x 4: the same throughput, slightly worse p99 and twice the memory and change-log polls;
- gthread 2 x 4 threads: ~9 500-9 900/s thanks to keep-alive, but p99 19-22 ms, and its
  throughput depends on how keep-alive connections happen to spread over the processes: a
  connection stays with the worker that accepted it, and 1 worker x 8 threads — what a worker
  holding most connections amounts to — gave ~2 200/s at p99 52-56 ms;
- gevent x 2: up to ~11 500/s, but p99 150-490 ms: one greenlet runs to completion while the
  other connections of its worker wait.

Sync workers accept one connection at a time from the shared listen socket, so every request
goes to a worker that is free. They close the connection after each answer (no keep-alive):
nginx or a load balancer in front holds the clients' keep-alive and TLS (docs/deployment.md).
Override with ``--workers`` / ``--worker-class`` or ``GUNICORN_CMD_ARGS``.
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
# gunicorn >= 25 opens a control socket at one fixed path per user ($HOME/.gunicorn/gunicorn.ctl):
# a second instance on the machine (tests, benchmarks, a second deployment) would take it over.
# Off; to use ``gunicornc``, turn it back on with a ``control_socket`` path of this instance's own.
control_socket_disable = True
preload_app = False  # each worker builds its own engine and answers after fork (no shared sockets)


def post_worker_init(worker) -> None:
    """Load every access code (and render documents) and the licensed users before the worker accepts
    a connection."""
    answers = getattr(worker.wsgi, "extensions", {}).get("livery.public")
    if answers is not None:
        answers.warm()
    licensing = getattr(worker.wsgi, "extensions", {}).get("livery.licensing")
    if licensing is not None:
        # licensed users in memory (bounded in time; the rest load on first use)
        licensing.index.warm(worker.wsgi.config["LIVERY"].licensing_warm_seconds)
