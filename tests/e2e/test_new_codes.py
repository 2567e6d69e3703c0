"""A newly issued code answers on every gunicorn worker as soon as its issue call has returned.

The code is issued through the admin API of the running gunicorn (so one worker commits it and
the others learn of it only from the change log); the moment the call returns, 8 clients ask
for its discovery document over fresh connections. Every answer, on every worker, must be 200:
the client treats a 404 as "misconfigured build" and stops.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from app.db import session
from app.partners.services import create_api_key
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROUNDS = 5
CLIENTS = 8
REQUESTS_PER_CLIENT = 15


def _issue(live, key: str, brand_id: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn.request("POST", f"/admin/v1/brands/{brand_id}/access-codes", json.dumps({"kind": "live"}), headers)
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 201, body
        return body["code"]
    finally:
        conn.close()


@pytest.mark.parametrize("db", [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_new_code_never_answers_404_on_any_worker(live_livery, db):
    live = live_livery(db=db, workers=3)
    seeded = factories.seed_ci_c(live.app, "acme")
    with live.app.app_context():
        _row, key = create_api_key(session(), role="operator", actor="test:bootstrap")
        session().commit()
    time.sleep(1.5)  # every worker has loaded and polled past the seeding

    for round_ in range(ROUNDS):
        code = _issue(live, key, seeded.brand_id)
        tag = f"round-{round_}"
        statuses: list[int] = []

        def client() -> None:
            for _ in range(REQUESTS_PER_CLIENT):
                statuses.append(live.get(f"/v1/discovery/{code}", {"X-Probe": tag})[0])  # noqa: B023

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses and set(statuses) == {200}, f"{tag}: {sorted(set(statuses))} {statuses.count(404)} x 404"

    served = {pid for pid, _status, probe in live.log_lines() if probe.startswith("round-")}
    workers = {pid for pid, _status, _probe in live.log_lines()}
    assert len(served) >= 2 and served == workers, f"not every worker answered: {served} of {workers}"
