"""The usage counters' loss bound on a real deployment: a gunicorn worker that exits normally
(here: the server is stopped) writes the counters it had not flushed yet (gunicorn.conf.py)."""

from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import select

from app.db import session
from app.licensing.models import UsageFact
from tests.e2e.conftest import stop_gunicorn
from tests.licensing.world import LicensingWorld

pytestmark = [pytest.mark.e2e]


def test_a_worker_that_exits_writes_its_pending_usage_counters(live_livery):
    live = live_livery("sqlite", workers=1, LIVERY_LICENSING_USAGE_FLUSH_SECONDS="3600")
    world = LicensingWorld(live.app)
    world.license("anna@example.com")
    body = {"access_code": world.code, "user_id": "anna@example.com", "install_id": "e2e-1"}
    url = f"http://127.0.0.1:{live.port}/v1/licenses/check"

    def check() -> requests.Response:
        return requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10)

    deadline = time.monotonic() + 10  # the worker sees the new code and user within its freshness bound
    while (response := check()).status_code != 200 or response.json()["payload"]["status"] != "valid":
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)
    for _ in range(3):  # the first was written at once; these are only counted in the worker
        assert check().json()["payload"]["status"] == "valid"
    with live.app.app_context():
        assert session().scalar(select(UsageFact.check_count)) == 1
    stop_gunicorn(live.process)  # SIGTERM: a graceful exit
    with live.app.app_context():
        session().expire_all()
        assert session().scalar(select(UsageFact.check_count)) == 4
