"""The processes a benchmark run starts: gunicorn, nginx, wrk; all on loopback, all stopped by pid."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
LUA = Path(__file__).resolve().parent / "wrk" / "rotate.lua"
RESULT_RE = re.compile(r"RESULT (.*)")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_tools() -> None:
    """Install nginx and wrk from Debian's packages when either is missing."""
    if (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")) and shutil.which("wrk"):
        return
    print("installing nginx and wrk (apt-get)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "nginx-light", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_version() -> str:
    """nginx's version string, e.g. ``1.22.1``."""
    out = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True).stderr
    return out.strip().rsplit("/", 1)[-1]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET on loopback: (status, headers, body), errors included."""
    assert url.startswith("http://127.0.0.1:"), url  # never anywhere but loopback
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_http(url: str, timeout: float = 120.0) -> None:
    """Block until ``url`` answers anything over HTTP."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def wait_ready(url: str, timeout: float = 600.0, in_a_row: int = 8) -> None:
    """Block until ``url`` (a /readyz) answers 200 ``in_a_row`` times running: every worker has its codes.

    A worker loads its codes for up to 10 s before it accepts connections, then goes on loading in
    the background (a million codes on a busy machine take longer); until then it answers 503.
    """
    deadline = time.monotonic() + timeout
    ready = 0
    while ready < in_a_row:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} was not ready within {timeout}s")
        ready = ready + 1 if get(url)[0] == 200 else 0
        time.sleep(0.05 if ready else 0.5)


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid``, every thread, from /proc/<pid>/stat; OSError when it is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime: fields 14 and 15


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids``; a process gone counts 0."""
    total = 0.0
    for pid in pids:
        try:
            total += sum(cpu_times(pid))
        except OSError:
            continue
    return total


def wait_started(master_pid: int, timeout: float = 600.0, quiet: float = 1.0) -> None:
    """Block until every worker of ``master_pid`` has finished starting: none busy for ``quiet`` seconds.

    A worker loads codes, documents, channel states and licensed users before it accepts a
    connection (gunicorn.conf.py ``post_worker_init``, seconds on the bench's datasets), while
    the first worker up already answers /healthz and /readyz. A run begun then measures one
    worker serving and one starting; wait until the workers sit idle (below 5 % of a core).
    """
    step, idle_share = 0.25, 0.05  # seconds between readings; "idle": below this share of a core each
    deadline = time.monotonic() + timeout
    workers = worker_pids(master_pid)
    used = _cpu_seconds(workers)
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < quiet:
        if time.monotonic() > deadline:
            raise TimeoutError(f"gunicorn {master_pid}'s workers were still busy after {timeout}s")
        time.sleep(step)
        now_workers = worker_pids(master_pid)
        now_used = _cpu_seconds(now_workers)
        if now_workers != workers or now_used - used > step * idle_share * max(1, len(workers)):
            idle_since = time.monotonic()
        workers, used = now_workers, now_used


class Process:
    """A child process group we started, stopped by its own pid."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=REPO, env={**os.environ, **(env or {})}, stdout=self._out, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()


def gunicorn(app_spec: str, port: int, env: dict[str, str], log: Path, extra_args: list[str] | None = None) -> Process:
    """gunicorn with the repository's gunicorn.conf.py, bound to loopback ``port``."""
    args = [str(VENV_BIN / "gunicorn"), "--config", str(REPO / "gunicorn.conf.py")]
    args += ["--bind", f"127.0.0.1:{port}", *(extra_args or []), app_spec]
    return Process(args, env=env, log=log)


def floor(port: int, document: Path, log: Path) -> Process:
    """The framework floor (bench/floor.py) answering ``document``'s bytes, on stock gunicorn sync workers.

    gunicorn.conf.py's settings, but gunicorn's own ``sync`` worker class rather than Livery's
    (app/sync_worker.py, which closes connections sooner): the floor stays "a bare Flask app on
    stock gunicorn sync workers", as in every earlier figure.
    """
    env = {"LIVERY_BENCH_FLOOR_BODY": str(document)}
    return gunicorn("bench.floor:app", port, env, log, extra_args=["--worker-class", "sync"])


def nginx(conf: str, prefix: Path) -> Process:
    """nginx in the foreground as the current user, with its own prefix and this configuration."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(conf)
    args = [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    return Process(args, log=prefix / "logs" / "stdout.log")


def _children_status(master_pid: int) -> list[tuple[int, dict[str, str]]]:
    """(pid, /proc status fields) of each child of ``master_pid``."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == master_pid:
            children.append((int(entry.name), fields))
    return children


def worker_pids(master_pid: int) -> list[int]:
    """The pids of the children (gunicorn's workers) of ``master_pid``."""
    return sorted(pid for pid, _fields in _children_status(master_pid))


def worker_rss_mb(master_pid: int) -> list[float]:
    """Resident memory (MB) of each child of ``master_pid``, read from /proc."""
    return sorted(int(fields["VmRSS"].split()[0]) / 1024 for _pid, fields in _children_status(master_pid))


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    status_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(
    base_url: str, lines_file: Path, *, seconds: int, connections: int, threads: int, post_path: str | None = None
) -> WrkResult:
    """Drive ``base_url`` with wrk, rotating over ``lines_file``; the parsed RESULT line.

    With ``post_path``, each line of ``lines_file`` is a JSON body POSTed to that path.
    """
    assert base_url.startswith("http://127.0.0.1:"), base_url
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA)]
    args += [base_url, "--", str(lines_file), *([post_path] if post_path else [])]
    # (wrk's Lua reads the whole lines file in each thread before it starts: minutes on a busy machine)
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 240).stdout
    match = RESULT_RE.search(out)
    if not match:
        raise RuntimeError(f"wrk printed no RESULT line:\n{out}")
    values = dict(pair.split("=") for pair in match.group(1).split())
    return WrkResult(
        requests=int(values["requests"]),
        seconds=int(values["duration_us"]) / 1e6,
        p50_ms=int(values["p50_us"]) / 1000,
        p99_ms=int(values["p99_us"]) / 1000,
        socket_errors=int(values["socket_errors"]),
        status_errors=int(values["status_errors"]),
    )


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_database(work_cleanups: list) -> str | None:
    """A new, empty PostgreSQL database on 127.0.0.1:5432 (dropped by a cleanup), or None when absent."""
    try:
        import psycopg

        name = f"livery_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - the row says why it is missing
        print(f"PostgreSQL unavailable, skipping: {exc}", flush=True)
        return None

    def drop() -> None:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    work_cleanups.append(drop)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
