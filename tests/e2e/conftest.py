"""A real multi-worker gunicorn on a loopback port, against a fresh database, for end-to-end tests.

``live_livery(db, workers=2)`` migrates a new database (a SQLite file, or a PostgreSQL database
made with tests/services.py; skipped with the reason when PostgreSQL is unreachable), starts
gunicorn with the repository's gunicorn.conf.py and returns a handle holding an in-process app on
the same database (to make changes through the services) and an access log that names the
worker process of every request.
"""

from __future__ import annotations

import http.client
import os
import subprocess
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


@pytest.fixture
def live_livery(tmp_path) -> Iterator[Callable[..., LiveLivery]]:
    """Factory: ``live_livery(db="sqlite"|"postgres", workers=2)`` -> a running LiveLivery."""
    cleanups: list[Callable[[], None]] = []

    def start(db: str = "sqlite", workers: int = 2) -> LiveLivery:
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
        args = [str(REPO_ROOT / ".venv" / "bin" / "gunicorn"), "--config", str(REPO_ROOT / "gunicorn.conf.py")]
        args += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync"]
        args += ["--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT, "wsgi:app"]
        process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env={**os.environ, **_env(settings)},
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"gunicorn-{port}.err", "wb"),  # noqa: SIM115 - lives as long as gunicorn
        )

        def stop() -> None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

        cleanups.append(stop)
        services.wait_for_port(port, timeout=60)
        live = LiveLivery(app, port, access_log, process)
        deadline = time.monotonic() + 60
        while live.get("/healthz")[0] != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("gunicorn did not become healthy")
            time.sleep(0.1)
        return live

    yield start
    for cleanup in reversed(cleanups):
        cleanup()
