"""Starting the real services the tests talk to: PostgreSQL databases and an S3 server.

Each is found or started once per test session. When PostgreSQL is unreachable, the tests that
need it are skipped with the reason; the S3 server is moto in server mode, a separate process
on loopback that boto3 talks to over HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing

PG_ADMIN_URL = os.environ.get("LIVERY_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL answers at the admin URL, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL is not reachable at {url}: {exc.__class__.__name__}: {str(exc).strip()[:200]}"


def redis_unavailable_reason(url: str) -> str | None:
    """None when Redis answers at ``url``, else why not (printed as the skip reason)."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed"
    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis is not reachable at {url}: {exc.__class__.__name__}: {str(exc).strip()[:200]}"


def create_pg_database(prefix: str = "livery_test") -> str:
    """A new, empty PostgreSQL database; returns its SQLAlchemy URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database, closing anything still connected."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class S3Server:
    """moto's S3 server in its own process on a loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> S3Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def create_bucket(self, name: str | None = None) -> str:
        """A new empty bucket; returns its name."""
        import boto3

        name = name or f"livery-test-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1").create_bucket(Bucket=name)
        return name


def set_fake_aws_credentials() -> None:
    """moto accepts any credentials; boto3 needs some to sign requests."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
