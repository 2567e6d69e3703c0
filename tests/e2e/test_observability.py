"""Metrics, request ids and log lines of a real gunicorn with two workers (multiprocess metrics).

One deployment for the module, SQLite, JSON logs, ``LIVERY_METRICS_TOKEN`` set and the metrics
folder in the test's temporary folder. The access log names the worker of every request, so the
tests know both workers answered; the metrics page must add up what both counted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import create_app, migrate
from app.db import session
from app.partners.models import Partner
from app.partners.services import create_api_key
from tests import factories, services
from tests.e2e.conftest import ACCESS_LOG_FORMAT, LiveLivery, _env, _settings, start_gunicorn, stop_gunicorn

pytestmark = pytest.mark.e2e

TOKEN = "e2e-metrics-token"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")
REQUEST_FIELDS = {"time", "level", "logger", "message", "method", "route", "status", "duration_ms", "request_id",
                  "partner_id"}  # fmt: skip


@dataclass
class Deployment:
    live: LiveLivery
    stderr: Path
    metrics_dir: Path
    seeded: factories.Seeded
    partner_key: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return self.live.get(path, headers)

    def scrape(self) -> str:
        status, _headers, body = self.get("/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        return body.decode()

    def pids(self) -> set[int]:
        return {pid for pid, _status, _probe in self.live.log_lines()}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    tmp_path = tmp_path_factory.mktemp("observability")
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    migrate.upgrade(url)
    settings = _settings(url, tmp_path)
    app = create_app(settings)
    seeded = factories.seed_ci_c(app)
    with app.app_context():
        partner = session().get(Partner, seeded.partner_id)
        _key, partner_key = create_api_key(session(), role="admin", actor="test", partner=partner)
        session().commit()
    port = services.free_port()
    env = {
        **_env(settings),
        "LIVERY_METRICS_TOKEN": TOKEN,
        "LIVERY_LOG_FORMAT": "json",
        "LIVERY_METRICS_DIR": str(tmp_path / "metrics"),
    }
    access_log = tmp_path / "access.log"
    stderr = tmp_path / "gunicorn.err"
    process = start_gunicorn(
        port,
        env,
        stderr_path=stderr,
        workers=2,
        extra_args=["--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT],
    )
    try:
        live = LiveLivery(app, port, access_log, process)
        yield Deployment(live, stderr, tmp_path / "metrics", seeded, partner_key)
    finally:
        stop_gunicorn(process)
        app.extensions["livery.engine"].dispose()


def _value(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search("^" + re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_add_up_every_worker(deployment):
    code = deployment.seeded.live_code
    _status, headers, _body = deployment.get(f"/v1/discovery/{code}")
    etag = headers["ETag"]
    before = deployment.scrape()
    requests = {
        ("public.discovery", "200"): (f"/v1/discovery/{code}", {}),
        ("public.discovery", "304"): (f"/v1/discovery/{code}", {"If-None-Match": etag}),
        ("public.discovery", "404"): ("/v1/discovery/NOSUCH-CODE", {}),
    }
    counts = dict.fromkeys(requests, 0)
    # concurrent clients, until both workers have answered (one idle worker may otherwise take all);
    # bounded in time, not rounds: on a loaded machine a worker may still be booting for seconds
    booted = time.monotonic() + 30
    with ThreadPoolExecutor(8) as pool:
        while True:
            batch = [key for key in requests for _ in range(10)]
            statuses = list(pool.map(lambda key: deployment.get(*requests[key])[0], batch))
            assert statuses == [int(key[1]) for key in batch]
            for key in batch:
                counts[key] += 1
            if len(deployment.pids()) == 2 or time.monotonic() > booted:
                break
    assert len(deployment.pids()) == 2, "both workers should have answered"
    total = sum(counts.values())

    def grown(text: str) -> dict:
        return {
            key: _value(text, "livery_http_requests_total", route=key[0], status=key[1])
            - _value(before, "livery_http_requests_total", route=key[0], status=key[1])
            for key in counts
        }

    deadline = time.monotonic() + 10  # each worker flushes its counts once a second
    while (after := deployment.scrape()) and grown(after) != counts and time.monotonic() < deadline:
        time.sleep(0.3)
    assert grown(after) == counts
    assert len(list(deployment.metrics_dir.glob("counter_*.db"))) >= 2  # one file per worker
    assert _value(after, "livery_http_request_duration_seconds_count", route="public.discovery") >= total
    assert _value(after, "livery_http_request_duration_seconds_bucket", le="+Inf", route="public.discovery") >= total
    assert 0 <= _value(after, "livery_freshness_lag_seconds") < 10
    assert "# TYPE livery_dependency_errors_total counter" in after
    assert code not in after and code.replace("-", "") not in after


def test_metrics_page_needs_the_token(deployment):
    status, headers, _body = deployment.get("/metrics")
    assert status == 401 and headers["Content-Type"] == "application/problem+json"
    assert HEX_ID.match(headers["X-Request-Id"])


def test_request_ids_and_log_lines(deployment):
    code = deployment.seeded.live_code
    answers = {
        "fast-200": deployment.get(f"/v1/discovery/{code}", {"X-Request-Id": "e2e-fast-200"}),
        "fast-404": deployment.get("/v1/discovery/NOSUCH-CODE", {"X-Request-Id": "e2e-fast-404"}),
        "flask-404": deployment.get("/v1/discovery/A/B", {"X-Request-Id": "e2e-flask-404"}),
        "admin-200": deployment.get(
            "/admin/v1/brands", {"X-Request-Id": "e2e-admin-200", "Authorization": f"Bearer {deployment.partner_key}"}
        ),
        "admin-401": deployment.get("/admin/v1/brands", {"X-Request-Id": "e2e-admin-401"}),
    }
    for name, (_status, headers, _body) in answers.items():
        assert headers["X-Request-Id"] == f"e2e-{name}"
    generated = deployment.get("/healthz", {"X-Request-Id": "not valid!"})[1]["X-Request-Id"]
    assert HEX_ID.match(generated)

    wanted = {f"e2e-{name}" for name in answers} | {generated}
    deadline = time.monotonic() + 5
    while True:
        text = deployment.stderr.read_text()
        lines = {}
        for raw in text.splitlines():
            if raw.startswith("{"):
                line = json.loads(raw)
                if line.get("logger") == "livery.requests":
                    lines[line["request_id"]] = line
        if wanted <= lines.keys() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert wanted <= lines.keys()
    for request_id in wanted:
        assert set(lines[request_id]) == REQUEST_FIELDS
    partner = deployment.seeded.partner_id
    assert (lines["e2e-fast-200"]["route"], lines["e2e-fast-200"]["status"]) == ("public.discovery", 200)
    assert lines["e2e-fast-200"]["partner_id"] == partner
    assert (lines["e2e-fast-404"]["status"], lines["e2e-fast-404"]["partner_id"]) == (404, None)
    assert (lines["e2e-flask-404"]["route"], lines["e2e-flask-404"]["status"]) == ("public.discovery", 404)
    assert (lines["e2e-admin-200"]["route"], lines["e2e-admin-200"]["partner_id"]) == ("brands.list_brands", partner)
    assert lines["e2e-admin-401"]["status"] == 401
    for secret in (code, code.replace("-", ""), deployment.seeded.test_code, deployment.partner_key):
        assert secret not in text
    livery_lines = "\n".join(raw for raw in text.splitlines() if raw.startswith("{"))
    assert "127.0.0.1" not in livery_lines  # (gunicorn's own start-up lines name its bind address)
