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
goes to a worker that is free. They close the connection after each answer (no keep-alive), and
a client that sends its request slowly holds a whole worker: nginx in front
(deploy/nginx/microcache.conf) holds the clients' keep-alive, TLS and slow requests
(docs/deployment.md, "Slow clients"; bench/slow_clients.py measures the alternatives).

The class is gunicorn's sync worker with one change (app/sync_worker.py): gunicorn 27 ends every
connection by waiting for the client to close its side, up to 2 s, so a worker idled one round
trip after each answer and a client that kept its socket open held it 2 s. Livery's closes at
once when the client sent nothing still unread (the request received whole, no byte waiting),
and otherwise (an answer sent before the body was read: 413, 408) waits as gunicorn does, at
most 0.5 s, so the answer still reaches a client that is still sending (docs/deployment.md,
"Closing connections"; figures in BENCHMARKS.md). ``--worker-class sync`` gives gunicorn's own;
``--threads`` > 1 turns either into gthread, as gunicorn does for ``sync``.

The master also gives every worker one metrics folder (prometheus_client's multiprocess mode,
``LIVERY_METRICS_DIR``; docs/operations.md).
Override with ``--workers`` / ``--worker-class`` or ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

# app.config must not import prometheus_client (tests/test_metrics.py checks): prometheus_client
# chooses its multiprocess values when first imported, which must happen after on_starting
from app.config import Settings

_settings = Settings.from_env()
_metrics_dirs: list[Path] = []  # the temporary one this master made, removed at exit

bind = "127.0.0.1:8000"
worker_class = "app.sync_worker.SyncWorker"  # gunicorn's sync worker, closing without a wait (above)
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


def on_starting(server) -> None:
    """Give every worker one metrics folder (prometheus_client's multiprocess mode), emptied now."""
    if _settings.metrics_dir:
        folder = Path(_settings.metrics_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # a previous run's values: only prometheus_client's files
            stale.unlink(missing_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="livery-metrics-"))
        _metrics_dirs.append(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)  # before any worker imports prometheus_client


def child_exit(server, worker) -> None:
    """A worker is gone: its live-only gauges go too (its counts stay in the totals)."""
    from app.metrics import worker_exited

    worker_exited(worker.pid)


def worker_exit(server, worker) -> None:
    """Flush what the worker counted since its last flush: request metrics, the usage counters
    of licence checks (so a worker that exits normally loses none; docs/licensing.md), the
    install reports it holds (docs/upgrades.md § 8) and the test launches it has not written yet."""
    from app.metrics import flush_requests

    flush_requests()
    extensions = getattr(worker.wsgi, "extensions", {})
    licensing = extensions.get("livery.licensing")
    if licensing is not None:
        licensing.usage.flush()
    if "livery.reports" in extensions:
        extensions["livery.reports"].close()  # a graceful exit loses no accepted report
    if "livery.public" in extensions:
        extensions["livery.public"].flush_launches()  # test launches seen, for go-live readiness


def on_exit(server) -> None:
    for folder in _metrics_dirs:
        shutil.rmtree(folder, ignore_errors=True)


def post_worker_init(worker) -> None:
    """Load every access code, render documents, load channel states and licensed users before the
    worker accepts a connection (each step bounded: with the database down the worker starts, not
    ready, in ~10 s)."""
    extensions = getattr(worker.wsgi, "extensions", {})
    answers = extensions.get("livery.public")
    if answers is not None:
        answers.warm()
        if answers.loaded and "livery.upgrades" in extensions:
            extensions["livery.upgrades"].warm(answers.entries(), budget=5.0)
    settings = getattr(worker.wsgi, "config", {}).get("LIVERY")  # None: another app (the bench floor)
    if settings is not None and settings.scheduler_seconds > 0:
        from app.scheduler import Scheduler  # plan steps and webhook deliveries, off request threads

        Scheduler(worker.wsgi, settings.scheduler_seconds).start()
    licensing = extensions.get("livery.licensing")
    if licensing is not None and (answers is None or answers.loaded):
        # licensed users in memory (bounded in time; the rest load on first use)
        licensing.index.warm(worker.wsgi.config["LIVERY"].licensing_warm_seconds)
