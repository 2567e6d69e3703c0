"""Issue 12's walk-through on a real deployment: the demo partner switched to its own licensing
web service on loopback (examples/partner_licensing_service.py, a separate process), verified and
published, with no positive cache (so that checks reach it); then the service is stopped:
licence checks for the demo user answer ``grace`` within 3 s each, and discovery goes on as before.

gunicorn with two workers on SQLite, ``LIVERY_EGRESS_ALLOW_PRIVATE=true`` (loopback, plain http);
the demo is seeded with ``flask --app wsgi demo seed --json`` as docs/licensing.md says.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import select

from app.config import REPO_ROOT
from app.db import session
from app.partners.models import Partner
from app.partners.services import create_api_key
from tests import services
from tests.e2e.conftest import _env

pytestmark = [pytest.mark.e2e]

BIN = os.path.dirname(sys.executable)
GRACE_WITHIN = 3.0  # seconds per check once the service is gone (the bound)


def _partner_service(port: int, secret: str, user: str) -> subprocess.Popen:
    args = [sys.executable, str(REPO_ROOT / "examples" / "partner_licensing_service.py"), "--port", str(port),
            "--secret", secret, "--user", f"{user}=standard"]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    services.wait_for_port(port, timeout=30)
    return process


def test_the_demo_on_a_loopback_web_service_answers_grace_when_it_stops(live_livery):
    live = live_livery("sqlite", LIVERY_EGRESS_ALLOW_PRIVATE="true")
    base = f"http://127.0.0.1:{live.port}"
    env = {**os.environ, **_env(live.app.config["LIVERY"]), "LIVERY_EGRESS_ALLOW_PRIVATE": "true"}
    seeded = subprocess.run([f"{BIN}/flask", "--app", "wsgi", "demo", "seed", "--json"], cwd=REPO_ROOT, env=env,
                            check=True, capture_output=True, text=True, timeout=120)  # fmt: skip
    demo = json.loads(seeded.stdout)
    user, code = demo["licensed_user_id"], demo["live_code"]
    with live.app.app_context():
        partner = session().scalar(select(Partner).where(Partner.slug == demo["partner"]))
        _key, plain = create_api_key(session(), role="admin", partner=partner, actor="e2e")
        session().commit()
        partner_id = partner.id
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {plain}"

    def check() -> tuple[dict, float]:
        started = time.monotonic()
        body = {"access_code": code, "user_id": user, "install_id": "e2e-1", "nonce": f"n{time.monotonic_ns()}"}
        response = requests.post(f"{base}/v1/licenses/check", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["payload"], time.monotonic() - started

    def discovery_seconds() -> float:
        started = time.monotonic()
        assert requests.get(f"{base}/v1/discovery/{code}", timeout=10).status_code == 200
        return time.monotonic() - started

    assert check()[0]["status"] == "valid"  # the demo user, on the portal
    # 1. the partner's web service on loopback, with the secret Livery shows once
    url = f"{base}/admin/v1/partners/{partner_id}/licensing"
    etag = admin.get(url, timeout=10).headers["ETag"]
    port = services.free_port()
    template = f"http://127.0.0.1:{port}/licences/{{user_id}}"
    # no positive cache: every check asks the service (else a cached answer stays valid for 15 min)
    settings = {"web_service_url_template": template, "rotate_secret": True, "positive_cache_seconds": 0}
    response = admin.put(url, json=settings, headers={"If-Match": etag}, timeout=10)
    assert response.status_code == 200, response.text
    service = _partner_service(port, response.json()["new_secret"], user)
    try:
        # 2. verified, then the brand switched to it and published
        report = admin.post(f"{url}/verify", json={"known_user_id": user}, timeout=60).json()
        assert report["passed"] is True, report
        brand = f"{base}/admin/v1/brands/{demo['brand_id']}"
        etag = admin.get(brand, timeout=10).headers["ETag"]
        response = admin.patch(brand, json={"draft": {"licensing_method": "web_service"}}, headers={"If-Match": etag},
                               timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        response = admin.post(f"{brand}/publish", headers={"If-Match": response.headers["ETag"]}, timeout=10)
        assert response.status_code == 201, response.text
        deadline = time.monotonic() + 10  # every worker answers from the web service within the freshness bound
        seen = 0
        while seen < 6:
            payload, _ = check()
            seen = seen + 1 if payload["method"] == "web_service" and payload["status"] == "valid" else 0
            assert time.monotonic() < deadline, payload
        # six answers in a row can all come from one worker: past the freshness interval every worker
        # polls before its next answer, so none still answers from the portal list below
        time.sleep(live.app.config["LIVERY"].freshness_interval + 0.2)
        before = statistics.median(discovery_seconds() for _ in range(20))
    finally:
        service.terminate()  # 3. the partner's service goes away
        service.wait(timeout=10)
    answers = [check() for _ in range(12)]
    assert {payload["status"] for payload, _ in answers} == {"grace"}, answers
    assert all(payload["licensed"] and payload["method"] == "web_service" for payload, _ in answers)
    assert max(seconds for _, seconds in answers) < GRACE_WITHIN, answers
    after = statistics.median(discovery_seconds() for _ in range(20))
    assert after < max(3 * before, 0.25), (before, after)  # discovery does not wait on the partner
