"""Slow clients against deploy/nginx/microcache.conf, as shipped, in front of real gunicorn (issue 11, item 3).

Debian's nginx (``/usr/sbin/nginx``; ``.ci/run`` installs it) runs the shipped configuration with
loopback ports and paths substituted by bench/nginx_conf.py (the benchmark's nginx uses the same
function) in front of gunicorn with two sync workers. Ten slow-loris clients (a header byte a
second) and short-bodied uploads (fewer bytes than their Content-Length), made by the helpers of
bench/slow_clients.py, must not slow down normal clients; without nginx the same clients stop
the service (the control test).
"""

from __future__ import annotations

import http.client
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import create_app, migrate
from app.config import Settings
from bench import nginx_conf, servers
from bench.slow_clients import Result, normal_traffic, short_bodies, slow_loris
from tests import factories, services
from tests.e2e.conftest import _env, _settings, start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLOW_CLIENTS = 10
ATTACK_SECONDS = 4.0  # how long each attack runs while normal clients measure
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def nginx_deployment_folder(tmp_path_factory, name: str) -> tuple[Path, Settings]:
    """A module's folder and the settings of a migrated SQLite database in it; skips without nginx."""
    if not Path(servers.nginx_binary()).exists():
        pytest.skip("nginx is not installed (apt-get install -y nginx; .ci/run does it)")
    tmp_path = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    migrate.upgrade(url)
    return tmp_path, _settings(url, tmp_path)


@dataclass
class Front:
    port: int  # nginx
    upstream_port: int  # gunicorn
    access_log: Path  # gunicorn's: "<pid> <status>" per request
    code: str


@pytest.fixture(scope="module")
def front(tmp_path_factory) -> Iterator[Front]:
    """nginx with the shipped configuration in front of gunicorn (two sync workers), for the module."""
    tmp_path, settings = nginx_deployment_folder(tmp_path_factory, "nginx-front")
    app = create_app(settings)
    code = factories.seed_ci_c(app).live_code
    upstream_port, port = services.free_port(), services.free_port()
    access_log = tmp_path / "access.log"
    with ExitStack() as stack:
        stack.callback(app.extensions["livery.engine"].dispose)
        gunicorn = start_gunicorn(
            upstream_port,
            _env(settings),
            stderr_path=tmp_path / "gunicorn.err",
            extra_args=["--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s"],
        )
        stack.callback(stop_gunicorn, gunicorn)
        prefix = tmp_path / "nginx"
        conf = nginx_conf.standalone(prefix, nginx_conf.front_proxy(prefix, port=port, upstream_port=upstream_port))
        stack.callback(servers.nginx(conf, prefix).stop)
        services.wait_for_port(port, timeout=20)
        assert _get(port, f"/v1/discovery/{code}")[0] == 200
        yield Front(port, upstream_port, access_log, code)


def _get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _assert_unaffected(results: list[Result]) -> None:
    statuses = {status for status, _ in results}
    latencies = [seconds for _, seconds in results]
    assert statuses == {200}, statuses
    assert len(results) >= 10, f"only {len(results)} requests in {ATTACK_SECONDS} s"
    median, worst = statistics.median(latencies), max(latencies)
    print(f"{len(results)} normal requests: median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms")  # -s shows it
    # generous bounds for a shared 2-core machine; unprotected, requests wait for seconds or fail
    assert median < 0.25 and worst < 1.5, latencies


def test_slow_loris_clients_do_not_slow_normal_clients(front):
    with slow_loris(front.port, SLOW_CLIENTS):
        results = normal_traffic(front.port, f"/v1/discovery/{front.code}", ATTACK_SECONDS)
    _assert_unaffected(results)


def test_short_bodies_never_hold_a_worker(front):
    seen = len(front.access_log.read_text().splitlines())
    with short_bodies(front.port, 4):  # twice as many as workers: held by gunicorn, nothing would answer
        results = normal_traffic(front.port, f"/v1/discovery/{front.code}", ATTACK_SECONDS)
    _assert_unaffected(results)
    time.sleep(0.5)
    # gunicorn never saw the uploads (it would have answered them, 401 or 400, once they gave up)
    statuses = {line.split()[1] for line in front.access_log.read_text().splitlines()[seen:]}
    assert statuses <= {"200", "304"}, statuses  # the micro-cache revalidates upstream


def test_connections_per_address_are_limited(front):
    path = f"/v1/discovery/{front.code}"
    with short_bodies(front.port, 64):  # their headers are in: each counts against the address
        status, headers, _body = _get(front.port, path)
        assert status == 429 and ("Retry-After", "1") in headers  # clients wait before asking again
    assert _get(front.port, path)[0] == 200  # released with the connections


def test_request_id_passes_through_and_cached_answers_get_their_own(front):
    port = front.port
    path = f"/v1/discovery/{front.code}"
    for given in ("client-chosen-1", "client-chosen-2"):  # the second is a micro-cache hit
        _status, headers, _body = _get(port, path, {"X-Request-Id": given})
        assert [value for name, value in headers if name.lower() == "x-request-id"] == [given]
    _status, headers, _body = _get(port, path, {"X-Request-Id": "not valid!"})
    ids = [value for name, value in headers if name.lower() == "x-request-id"]
    assert len(ids) == 1 and HEX_ID.match(ids[0])
    assert _get(port, "/metrics")[0] == 404  # never through the front door


def test_control_without_nginx_slow_clients_stop_gunicorn(front):
    """The same attack straight at gunicorn's sync workers: normal clients fail (why nginx is in front)."""
    with slow_loris(front.upstream_port, SLOW_CLIENTS):
        results = normal_traffic(front.upstream_port, "/v1/keys", 3.0)
    failed = [status for status, seconds in results if status != 200 or seconds > 1.0]
    assert failed, "gunicorn alone answered normally under slow loris: revisit docs/deployment.md"
