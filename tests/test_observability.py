"""Request ids, request log lines and metrics, in process (tests/e2e/test_observability.py: gunicorn)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import metrics
from app.config import REPO_ROOT, ConfigError, Settings
from app.observability import REQUEST_LOGGER, JsonFormatter, ObservedRequests, TextFormatter
from app.partners.services import create_api_key
from tests import factories
from tests.api.public.parity import fast_path
from tests.conftest import DATABASES

HEX_ID = re.compile(r"^[0-9a-f]{32}$")
TOKEN = "metrics-secret-token"


def _run(wsgi, path: str, **headers: str):
    app_iter, status, response_headers = run_wsgi_app(wsgi, EnvironBuilder(path=path, headers=headers).get_environ())
    body = b"".join(app_iter)
    return status, list(response_headers.items()), body


def _both(app, path: str, **headers: str):
    """(fast path's answer, Flask's answer), each through the request observer."""
    fast = fast_path(app)
    observed_fast = ObservedRequests(app, fast, log_requests=False)
    observed_flask = ObservedRequests(app, fast.wsgi_app, log_requests=False)
    return _run(observed_fast, path, **headers), _run(observed_flask, path, **headers)


@pytest.fixture
def seeded(app):
    return factories.seed_ci_c(app)


def test_request_id_echoed_identically_by_fast_path_and_flask(app, seeded):
    path = f"/v1/discovery/{seeded.live_code}"
    fast, flask = _both(app, path, **{"X-Request-Id": "client-id.42"})
    assert fast == flask
    assert dict(fast[1])["X-Request-Id"] == "client-id.42"
    etag = dict(fast[1])["ETag"]
    for headers in ({"If-None-Match": etag}, {}):  # 304, and 404 (a problem answer)
        for answer in _both(app, path if headers else "/v1/discovery/NOSUCH-CODE", **headers, **{"X-Request-Id": "r1"}):
            assert dict(answer[1])["X-Request-Id"] == "r1"
    fast, flask = _both(app, "/v1/discovery/NOSUCH-CODE")
    assert fast[0] == flask[0] == "404 NOT FOUND"
    assert [name for name, _ in fast[1]] == [name for name, _ in flask[1]]
    assert HEX_ID.match(dict(fast[1])["X-Request-Id"]) and HEX_ID.match(dict(flask[1])["X-Request-Id"])


@pytest.mark.parametrize("given", ["has space", "x" * 65, "semi;colon", ""])
def test_an_invalid_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-Id": given})
    assert HEX_ID.match(response.headers["X-Request-Id"])


def test_every_answer_carries_a_request_id(client, seeded):
    for path in ("/healthz", "/nothing", "/admin/v1/brands", f"/v1/discovery/{seeded.live_code}", "/v1/keys"):
        response = client.get(path)
        assert HEX_ID.match(response.headers["X-Request-Id"]), path
    assert client.get("/healthz").headers["X-Request-Id"] != client.get("/healthz").headers["X-Request-Id"]


def test_one_log_line_per_request_without_codes_or_addresses(app, seeded, caplog):
    with app.app_context():
        from app.db import session
        from app.partners.models import Partner

        _key, plain_key = create_api_key(
            session(), role="admin", actor="test", partner=session().get(Partner, seeded.partner_id)
        )
        session().commit()
    client = app.test_client()
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    client.get(f"/v1/discovery/{seeded.live_code}", headers={"X-Request-Id": "abc"})
    client.get("/v1/discovery/NOSUCH-CODE", environ_base={"REMOTE_ADDR": "203.0.113.77"})
    client.get("/admin/v1/brands", headers={"Authorization": f"Bearer {plain_key}"})
    client.get("/admin/v1/brands")
    records = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    assert [(r.fields["route"], r.fields["status"], r.fields["partner_id"]) for r in records] == [
        ("public.discovery", 200, seeded.partner_id),
        ("public.discovery", 404, None),
        ("brands.list_brands", 200, seeded.partner_id),
        ("brands.list_brands", 401, None),
    ]
    assert records[0].fields["request_id"] == "abc"
    lines = [JsonFormatter().format(r) for r in records] + [TextFormatter().format(r) for r in records]
    first = json.loads(lines[0])
    assert set(first) == {"time", "level", "logger", "message", "method", "route", "status", "duration_ms",
                          "request_id", "partner_id"}  # fmt: skip
    assert first["method"] == "GET" and first["duration_ms"] >= 0
    text = "\n".join(lines)
    for secret in (seeded.live_code, seeded.live_code.replace("-", ""), "203.0.113.77", "127.0.0.1", plain_key):
        assert secret not in text
    assert "route=public.discovery status=200" in lines[4]


def test_request_log_can_be_turned_off(make_app, caplog):
    app = make_app(request_log=False)
    caplog.set_level(logging.DEBUG)
    app.test_client().get("/healthz")
    assert not [r for r in caplog.records if r.name == REQUEST_LOGGER]


def test_metrics_need_the_token_and_are_off_without_one(make_app, client):
    off = client.get("/metrics")
    assert off.status_code == 404 and off.mimetype == "application/problem+json"
    protected = make_app(metrics_token=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = protected.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert protected.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def _sample(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_requests_by_route_and_status(make_app):
    app = make_app(metrics_token=TOKEN)
    seeded = factories.seed_ci_c(app)
    client = app.test_client()

    def scrape() -> str:
        return client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)

    before = scrape()
    for _ in range(3):
        client.get(f"/v1/discovery/{seeded.live_code}")
    client.get("/v1/discovery/NOSUCH-CODE")
    metrics.count_dependency_error("object_store")
    metrics.count_throttled("admin_auth")
    metrics.set_breaker_state("database", "open")
    after = scrape()
    counted = "livery_http_requests_total"
    assert (
        _sample(after, counted, route="public.discovery", status="200")
        - _sample(before, counted, route="public.discovery", status="200")
        == 3
    )
    assert (
        _sample(after, counted, route="public.discovery", status="404")
        - _sample(before, counted, route="public.discovery", status="404")
        == 1
    )
    assert _sample(after, "livery_http_request_duration_seconds_count", route="public.discovery") >= 4
    assert _sample(after, "livery_dependency_errors_total", dependency="object_store") >= 1
    assert _sample(after, "livery_throttled_total", kind="admin_auth") >= 1
    assert _sample(after, "livery_circuit_breaker_state", dependency="database") == 2
    assert 0 <= _sample(after, "livery_freshness_lag_seconds") < 60
    assert seeded.live_code not in after and seeded.live_code.replace("-", "") not in after
    metrics.set_breaker_state("database", "closed")


def test_settings_for_logs_and_metrics_are_checked():
    assert Settings.from_env({"LIVERY_LOG_FORMAT": "json", "LIVERY_REQUEST_LOG": "off"}).request_log is False
    with pytest.raises(ConfigError, match="LIVERY_LOG_FORMAT"):
        Settings.from_env({"LIVERY_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="LIVERY_METRICS_DIR"):
        Settings.from_env({"LIVERY_METRICS_DIR": "relative/dir"})


def test_settings_import_leaves_prometheus_client_unimported():
    # gunicorn.conf.py reads the settings before it points prometheus_client at the workers'
    # shared folder; prometheus_client picks its kind of values when first imported
    code = "import sys, app.config; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False).returncode == 0


def test_a_failing_partner_lookup_never_fails_the_request(app, seeded, caplog, monkeypatch):
    answers = app.extensions["livery.public"]
    real_code = answers.code
    calls = []

    def code_then_fail(digest):  # the answer's own lookup works; the log line's finds the database down
        calls.append(digest)
        if len(calls) > 1:
            raise OSError("database unreachable")
        return real_code(digest)

    monkeypatch.setattr(answers, "code", code_then_fail)
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    # Flask answers (the fast path notes the partner it found: the line looks nothing up again)
    observed_flask = ObservedRequests(app, fast_path(app).wsgi_app, log_requests=True)
    status, _headers, _body = _run(observed_flask, f"/v1/discovery/{seeded.live_code}")
    assert status == "200 OK" and len(calls) == 2
    [line] = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    assert (line.fields["status"], line.fields["partner_id"]) == (200, None)


def test_the_fast_path_notes_the_partner_so_the_line_looks_nothing_up(app, seeded, caplog, monkeypatch):
    answers = app.extensions["livery.public"]
    real_code = answers.code
    calls = []
    monkeypatch.setattr(answers, "code", lambda digest: calls.append(digest) or real_code(digest))
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    client = app.test_client()
    assert client.get(f"/v1/discovery/{seeded.live_code}").status_code == 200
    assert client.get("/v1/discovery/NOSUCH-CODE").status_code == 404
    assert len(calls) == 1  # the live code's answer; the unknown code is refused before any lookup
    lines = [r.fields for r in caplog.records if r.name == REQUEST_LOGGER]
    assert [(f["status"], f["partner_id"]) for f in lines] == [(200, seeded.partner_id), (404, None)]


def _dependency_errors(dependency: str) -> float:
    return _sample(metrics.exposition().decode(), "livery_dependency_errors_total", dependency=dependency)


@pytest.mark.parametrize("db", DATABASES)
def test_database_failures_are_counted_and_broken_rules_are_not(make_app, db):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError, OperationalError

    from app.db import session
    from app.partners.models import Partner

    app = make_app(db=db)
    factories.make_partner(app, "counted")
    failing = "SELECT * FROM no_such_table" if db == "sqlite" else "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)"
    before = _dependency_errors("database")
    with app.app_context():
        # a duplicate slug past the service's own check: a broken rule, not the database failing
        with pytest.raises(IntegrityError), session().begin_nested():
            session().add(Partner(slug="counted", name="Counted again"))
            session().flush()
        with pytest.raises(OperationalError), session().begin_nested():
            session().execute(text(failing))
    assert _dependency_errors("database") - before == 1


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
def test_a_request_line_written_directly_equals_the_formatters_line(formatter):
    import random

    from app.observability import request_fields, request_line

    rng = random.Random(7)
    times = [1_764_547_200.0, 1_764_547_200.9995, 1_764_547_200.9999996, 1_764_547_201.0004999]
    times += [1_700_000_000 + rng.random() * 1e8 for _ in range(500)]
    values = [
        ("GET", "public.discovery", 304, 21, "ab" * 16, 7),
        ("HEAD", "unmatched", 404, 12_500, "r.1-x_", None),
        ('WEIRD"\\é\n', "brands.update_brand", 500, 0, "x", 123456789),
        (None, "public.check", 200, 1_000, "y", 0),
        ("POST", "public.report", 202, 120, "z", 1),
    ]
    values += [("GET", "public.upgrade", 200, rng.randrange(10 ** rng.randrange(1, 14)), "q", 2) for _ in range(200)]
    for created in times:
        for line in values:
            record = logging.LogRecord(REQUEST_LOGGER, logging.INFO, __file__, 0, "request", (), None)
            record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
            record.fields = request_fields(*line)
            assert request_line(formatter, created, *line) == formatter.format(record), (created, line)


def test_request_lines_go_straight_to_livery_handler_and_elsewhere_through_logging(make_app, seeded):
    import io

    from app.observability import HANDLER_MARK

    handler = next(h for h in logging.getLogger().handlers if getattr(h, HANDLER_MARK, False))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    level = logging.getLogger(REQUEST_LOGGER).level
    try:
        app = make_app(log_format="json")
        handler = next(h for h in logging.getLogger().handlers if getattr(h, HANDLER_MARK, False))
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)
        fast = fast_path(app)
        _run(ObservedRequests(app, fast, log_requests=True), "/v1/discovery/NOSUCH-CODE", **{"X-Request-Id": "d1"})
        [line] = [json.loads(raw) for raw in stream.getvalue().splitlines() if '"d1"' in raw]
        assert (line["logger"], line["route"], line["status"], line["partner_id"]) == (
            REQUEST_LOGGER, "public.discovery", 404, None)  # fmt: skip
    finally:
        handler.setStream(previous)
        logging.getLogger(REQUEST_LOGGER).setLevel(level)


def test_a_sampled_request_log_keeps_every_error_and_every_flask_answer(app, seeded, caplog):
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    fast = fast_path(app)
    observed = ObservedRequests(app, fast, log_requests=True, sample=10)
    for _ in range(25):
        _run(observed, f"/v1/discovery/{seeded.live_code}")  # fast-path successes: 1 in 10
    for _ in range(3):
        _run(observed, "/v1/discovery/NOSUCH-CODE")  # errors: every one
        _run(observed, "/healthz")  # answered by Flask: every one
    lines = [(r.fields["route"], r.fields["status"]) for r in caplog.records if r.name == REQUEST_LOGGER]
    assert lines.count(("public.discovery", 200)) == 2
    assert lines.count(("public.discovery", 404)) == 3
    assert len([line for line in lines if line[0] not in ("public.discovery",)]) == 3


def test_the_request_log_sample_is_validated():
    with pytest.raises(ConfigError, match="LIVERY_REQUEST_LOG_SAMPLE"):
        Settings(request_log_sample=0).validated()
    assert Settings.from_env({"LIVERY_REQUEST_LOG_SAMPLE": "100"}).request_log_sample == 100
