"""The automatic halt across processes: failure reports sent to a 2-worker gunicorn halt the
channel, and every worker answers polls ``none``/``halted`` within 2 s of the last report's 202.

The reports go to both workers (fresh connections, several at once); each worker writes its
batch within ``LIVERY_UPGRADE_REPORTS_FLUSH_SECONDS`` (0.5 s), the batch that tips the failure
rate halts the channel (audited, announced) and the other worker learns it from the change log
within ``LIVERY_FRESHNESS_INTERVAL`` (1 s). Measured like tests/e2e/test_freshness.py: every
poll sent 2 s or more after the last 202, on every worker, must be the halted answer.
"""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import session
from tests import factories
from tests.api.admin.conftest import make_operator, onboard
from tests.e2e.test_freshness import BOUND, Case, _staleness
from tests.upgrades.catalogue import add_release, control_file, upload_control_file

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _report(port: int, code: str, install: int, outcome: str) -> int:
    body = {
        "install_id": f"e2e-{install:04d}",
        "from_version": "5.1.0",
        "to_version": "5.2.0",
        "platform": "windows-x64",
        "outcome": outcome,
        "serial": 1,
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", f"/v1/upgrade/{code}/reports", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize("db", [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_automatic_halt_reaches_every_worker_within_two_seconds(live_livery, db):
    live = live_livery(db=db, workers=2)
    app = live.app
    partner = onboard(make_operator(app), "guarded")
    add_release(partner.admin, "5.2.0")
    brand_id = factories.make_brand(app, partner.id, product_name="Acme", short_name="Acme")
    code = factories.issue(app, brand_id, "live")
    assert upload_control_file(partner.admin, control_file(("5.2.0", 100))).status_code == 201
    time.sleep(BOUND)
    poll = f"/v1/upgrade/{code}?platform=windows-x64&version=5.1.0&install_id=install-1"
    status, headers, body = live.get(poll)
    assert status == 200 and b'"offered"' in body, body

    def failing_installs() -> None:
        outcomes = ["succeeded"] * 40 + ["failed"] * 20  # 33 % of 60: over 5 % with more than 50 reports
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda i: _report(live.port, code, i, outcomes[i]), range(len(outcomes))))
        assert statuses == [202] * len(outcomes)

    latest_stale = _staleness(live, Case("guard", poll, {"If-None-Match": headers["ETag"]}, 304, 200, failing_installs))
    print(f"\nlatest stale answer after the last report's 202 ({db}): {latest_stale:.3f} s")
    assert latest_stale < BOUND
    _status, _headers, body = live.get(poll)
    assert b'"halted"' in body, body
    with app.app_context():
        event = session().scalars(select(AuditEvent).where(AuditEvent.action == "channel.halt")).one()
        assert event.actor == "guard"
        assert event.after["halt_reason"].startswith("Automatic halt: 5.2.0 failed on ")
