"""Slow clients straight at gunicorn, per worker class: what direct exposure without nginx costs.

``.venv/bin/python -m bench.slow_clients`` (under a minute, loopback only) starts Livery (SQLite,
the demo code) under each worker setting below and, for each, measures one normal client making
one request after another (fresh connection, 2 s timeout) while

- nothing else happens (baseline),
- ten slow-loris clients send a request header one byte a second (the issue's campaign), then
  a hundred (more than the threads of the gthread setting),
- four uploads promise 100 000 bytes and send ten.

It prints one table: normal requests answered, failed (timeout or error), median and worst
latency. The helpers (``slow_loris``, ``short_bodies``, ``normal_traffic``) are also what
tests/e2e/test_nginx_front.py attacks nginx with. Results and the choice: docs/deployment.md.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import servers

SETTINGS = [
    # what gunicorn.conf.py ships: Livery's sync worker (app/sync_worker.py; gunicorn's own until
    # 2026-12-01, when the figures in docs/deployment.md were taken: both read a request the same way)
    ("sync x 2 (gunicorn.conf.py)", "--workers 2"),
    ("gthread 2 x 32 threads", "--worker-class gthread --workers 2 --threads 32"),
    ("gevent x 2, 1000 connections", "--worker-class gevent --workers 2 --worker-connections 1000"),
]
LORIS_HEADER = b"GET /v1/keys HTTP/1.1\r\nHost: livery.test\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"
SHORT_BODY = (
    b"PUT /admin/v1/releases/1/installer HTTP/1.1\r\nHost: livery.test\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n0123456789"
)

Result = tuple[int | None, float]  # (status, or None for a timeout or an error; seconds)


def get_status(port: int, path: str, timeout: float = 2.0) -> int:
    """One GET on a fresh loopback connection; its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def normal_traffic(port: int, path: str, seconds: float) -> list[Result]:
    """One request after another (2 s timeout each) for ``seconds``: (status or None, seconds) of each."""
    results: list[Result] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status: int | None = get_status(port, path)
        except OSError:
            status = None
        results.append((status, time.monotonic() - started))
        time.sleep(0.02)
    return results


@contextmanager
def slow_loris(port: int, count: int, interval: float = 1.0) -> Iterator[None]:
    """``count`` connections each sending a request header one byte per ``interval`` s, until the block ends."""
    stop = threading.Event()

    def dribble() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                for byte in LORIS_HEADER:
                    if stop.wait(interval):
                        return
                    sock.sendall(bytes([byte]))
        except OSError:
            return  # the server gave up on this client: what it should do

    threads = [threading.Thread(target=dribble, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every connection is open before anything is measured
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


@contextmanager
def short_bodies(port: int, count: int) -> Iterator[None]:
    """``count`` uploads that promise 100 000 bytes and send 10, held open until the block ends."""
    with ExitStack() as stack:
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=2))
            sock.sendall(SHORT_BODY)
        time.sleep(0.5)
        yield


def summary(results: list[Result]) -> str:
    """``answered / failed / median ms / worst ms`` as table cells."""
    ok = [seconds for status, seconds in results if status is not None]
    failed = len(results) - len(ok)
    if not ok:
        return f"0 | {failed} | - | -"
    return f"{len(ok)} | {failed} | {statistics.median(ok) * 1000:.0f} | {max(ok) * 1000:.0f}"


def _dataset(work: Path) -> tuple[dict[str, str], str]:
    from app import create_app, migrate
    from app.cli.demo import demo_code
    from app.config import Settings

    url = f"sqlite:///{work / 'slow.db'}"
    migrate.upgrade(url)
    env = {
        "LIVERY_DATABASE_URL": url,
        "LIVERY_SIGNING_KEYS_DIR": str(work / "keys"),
        "LIVERY_INSTALLERS_DIR": str(work / "installers"),
        "LIVERY_REQUEST_LOG": "false",
    }
    app = create_app(Settings.from_env(env))
    app.test_cli_runner().invoke(args=["demo", "seed"])
    app.extensions["livery.engine"].dispose()
    return env, f"/v1/discovery/{demo_code('live')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per attack (and for the baseline)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="livery-slow-"))
    rows = []
    try:
        env, path = _dataset(work)
        for label, cmd_args in SETTINGS:
            if "gevent" in cmd_args and importlib.util.find_spec("gevent") is None:
                rows.append(f"| {label} | not installed | | | |")
                continue
            port = servers.free_port()
            proc = servers.gunicorn("wsgi:app", port, {**env, "GUNICORN_CMD_ARGS": cmd_args}, work / f"{port}.log")
            try:
                servers.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
                for attack, context in (
                    ("none", ExitStack()),
                    ("10 slow-loris clients", slow_loris(port, 10)),
                    ("100 slow-loris clients", slow_loris(port, 100)),
                    ("4 short bodies", short_bodies(port, 4)),
                ):
                    with context:
                        results = normal_traffic(port, path, args.seconds)
                    rows.append(f"| {label} | {attack} | {summary(results)} |")
                    print(rows[-1], flush=True)
            finally:
                proc.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| gunicorn workers | while | answered | failed | median ms | worst ms |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
