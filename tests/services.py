"""Starting the real services the tests talk to: PostgreSQL databases and an S3 server.

Each is found or started once per test session (the fault tests start their own PostgreSQL
cluster, ``PostgresCluster``, to stop and freeze it). When PostgreSQL is unreachable, the tests that
need it are skipped with the reason; the S3 server is moto in server mode, a separate process
on loopback that boto3 talks to over HTTP.
"""

from __future__ import annotations

import contextlib
import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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

    def client(self):
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")

    def create_bucket(self, name: str | None = None) -> str:
        """A new empty bucket; returns its name."""
        name = name or f"livery-test-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name


def set_fake_aws_credentials() -> None:
    """moto accepts any credentials; boto3 needs some to sign requests."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
OWN_CLUSTER_PORTS = range(20000, 30000)  # loopback ports outside the ephemeral range (32768-60999 here)


def postgres_bindir() -> str | None:
    """The newest Debian PostgreSQL server binaries folder (initdb, pg_ctl), or None."""
    found = sorted(glob.glob(PG_BIN_GLOB), key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[-2])] or [0])
    found = [p for p in found if os.path.exists(f"{p}/initdb") and os.path.exists(f"{p}/pg_ctl")]
    return found[-1] if found else None


def free_port_in(ports: range) -> int:
    """A port of ``ports`` that nothing listens on right now (tried in random order)."""
    for port in random.sample(ports, min(len(ports), 200)):
        with closing(socket.socket()) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


class PostgresCluster:
    """A throw-away PostgreSQL cluster of its own on a loopback port, for fault tests.

    Built with the Debian server binaries in a temporary folder; initdb refuses to run as root, so
    as root the cluster belongs to the ``postgres`` user (``nobody`` when there is none) and its
    commands run through ``runuser``. It can be stopped, killed, frozen (SIGSTOP: a hung server
    whose port still accepts connections) and thawed at will.
    """

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.port = free_port_in(OWN_CLUSTER_PORTS)
        self.root = tempfile.mkdtemp(prefix="livery-pg-")
        self.datadir = os.path.join(self.root, "data")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._owner: str | None = None
        if os.geteuid() == 0:
            self._owner = "postgres" if _user_exists("postgres") else "nobody"
            shutil.chown(self.root, user=self._owner)

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [f"{self.bindir}/{args[0]}", *args[1:]]
        if self._owner:
            command = ["runuser", "-u", self._owner, "--", *command]
        subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresCluster:
        """initdb (the first time) and start; returns once it accepts connections."""
        if not os.path.exists(self.datadir):
            self._run("initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", self.datadir, "-o", options, "-l", os.path.join(self.root, "log"), "-w", "start")
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """A clean, fast shutdown: connections are closed and the port refuses new ones."""
        self._run("pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "stop")

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        with open(os.path.join(self.datadir, "postmaster.pid")) as pidfile:
            postmaster = int(pidfile.readline())
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        if int(stat.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                            children.append(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
        return [postmaster, *children]

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the postmaster and its children (SIGSTOP hangs it, SIGCONT resumes, SIGKILL ends it)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def kill(self) -> None:
        """SIGKILL every process of the cluster (a crash) and wait until the postmaster is gone."""
        postmaster = self.pids()[0]
        self.signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{postmaster}/stat") as stat:
                    if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break  # dead; its parent has not reaped it yet
            except OSError:
                break
            time.sleep(0.05)
        # a zombie still "owns" the lock files for the next postmaster's liveness check
        locks = (os.path.join(self.datadir, "postmaster.pid"), os.path.join(self.root, f".s.PGSQL.{self.port}.lock"))
        for lock in locks:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)

    def remove(self) -> None:
        """Stop whatever runs and delete the cluster's folder."""
        with contextlib.suppress(Exception):
            self.signal(signal.SIGCONT)
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
