"""A real multi-worker gunicorn on a loopback port, against a fresh database, for end-to-end tests.

``live_livery(db, workers=2)`` migrates a new database (a SQLite file, or a PostgreSQL database
made with tests/services.py; skipped with the reason when PostgreSQL is unreachable), starts
gunicorn with the repository's gunicorn.conf.py and returns a handle holding an in-process app on
the same database (to make changes through the services) and an access log that names the
worker process of every request. ``start_gunicorn`` / ``stop_gunicorn`` are the launcher itself,
for modules that need their own deployment (e.g. module-scoped, restarted on the same port).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from app import create_app, migrate
from app.config import REPO_ROOT, Settings
from tests import services

BASE_URL = "http://livery.e2e.test"
# pid, status and the X-Probe request header (the client's send time): enough to tell, per
# worker, when it first answered fresh
ACCESS_LOG_FORMAT = "%(p)s %(s)s %({x-probe}i)s"


@dataclass
class LiveLivery:
    app: Flask
    port: int
    access_log: Path
    process: subprocess.Popen

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request over a fresh connection (as a launching client makes it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def log_lines(self) -> list[tuple[int, int, str]]:
        """(worker pid, status, X-Probe value) of every request so far."""
        lines = []
        for line in self.access_log.read_text().splitlines():
            pid, status, probe = line.split(" ", 2)
            lines.append((int(pid.strip("<>")), int(status), probe))  # gunicorn writes the pid as <1234>
        return lines


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        public_base_url=BASE_URL,
        static_brands_dir=str(tmp_path / "static_brands"),
        control_files_dir=str(tmp_path / "control_files"),
        installers_dir=str(tmp_path / "installers"),
        signing_keys_dir=str(tmp_path / "signing-keys"),
        freshness_interval=1.0,
    )


def _env(settings: Settings) -> dict[str, str]:
    names = (
        "database_url",
        "public_base_url",
        "static_brands_dir",
        "control_files_dir",
        "installers_dir",
        "signing_keys_dir",
    )
    env = {f"LIVERY_{name.upper()}": str(getattr(settings, name)) for name in names}
    env["LIVERY_FRESHNESS_INTERVAL"] = str(settings.freshness_interval)
    return env


def start_gunicorn(
    port: int,
    env: dict[str, str],
    *,
    stderr_path: Path,
    workers: int = 2,
    extra_args: list[str] | None = None,
) -> subprocess.Popen:
    """gunicorn with the repository's gunicorn.conf.py on 127.0.0.1:``port``, ``env`` on top of
    os.environ; returns once it answers ``/healthz`` with 200."""
    args = [str(Path(sys.executable).parent / "gunicorn"), "--config", str(REPO_ROOT / "gunicorn.conf.py")]
    args += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]  # the worker class of gunicorn.conf.py
    args += [*(extra_args or []), "wsgi:app"]
    with open(stderr_path, "ab") as stderr:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        services.wait_for_port(port, timeout=60)
        deadline = time.monotonic() + 60
        while _status(port, "/healthz") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not become healthy; see {stderr_path}")
            time.sleep(0.1)
    except BaseException:
        stop_gunicorn(process)
        raise
    return process


def stop_gunicorn(process: subprocess.Popen) -> None:
    """Terminate gunicorn (graceful), kill it if it takes longer than 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _status(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


@pytest.fixture
def live_livery(tmp_path) -> Iterator[Callable[..., LiveLivery]]:
    """Factory: ``live_livery(db="sqlite"|"postgres", workers=2, **LIVERY_settings)`` -> a running LiveLivery."""
    cleanups: list[Callable[[], None]] = []

    def start(db: str = "sqlite", workers: int = 2, **env: str) -> LiveLivery:
        if db == "postgres":
            reason = services.postgres_unavailable_reason()
            if reason:
                pytest.skip(reason)
            url = services.create_pg_database("livery_e2e")
            cleanups.append(lambda: services.drop_pg_database(url))
        else:
            url = f"sqlite:///{tmp_path / 'e2e.db'}"
        migrate.upgrade(url)
        settings = _settings(url, tmp_path)
        app = create_app(settings)
        cleanups.append(app.extensions["livery.engine"].dispose)
        port = services.free_port()
        access_log = tmp_path / f"access-{port}.log"
        process = start_gunicorn(
            port,
            {**_env(settings), **env},
            stderr_path=tmp_path / f"gunicorn-{port}.err",
            workers=workers,
            extra_args=["--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT],
        )
        cleanups.append(lambda: stop_gunicorn(process))
        return LiveLivery(app, port, access_log, process)

    yield start
    for cleanup in reversed(cleanups):
        cleanup()
