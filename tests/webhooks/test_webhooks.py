"""Outbound webhooks: configured through the admin API, queued with the change they report,
signed (Standard Webhooks) and verified by a receiver on loopback, retried with back-off for up
to three days, logged; an endpoint that is down slows no request."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from app.db import utcnow
from app.outbound.egress import EgressPolicy
from app.outbound.signing import verify
from app.webhooks.delivery import BACKOFF_SECONDS, DeliveryOptions, deliver_due, next_attempt
from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file
from tests.webhooks.receiver import Receiver, closed_port


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def setup(make_app) -> Setup:
    setup = Setup(make_app(egress_allow_private=True, upgrade_reports_flush_seconds=0))
    upload_control_file(setup.admin, control_file(("5.2.0", 100)))
    return setup


def configure(setup: Setup, url: str) -> str:
    response = setup.admin.put("/webhook", {"url": url})
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    return response.json["new_secret"]


def deliver(setup: Setup, clock=utcnow, timeout: float = 2.0) -> dict:
    options = DeliveryOptions(EgressPolicy(allow_private=True), connect_timeout=0.5, timeout=timeout)
    return deliver_due(setup.app.extensions["livery.sessionmaker"], options, clock=clock)


def test_a_halt_is_delivered_signed_and_logged(setup, receiver):
    secret = configure(setup, receiver.url)
    assert setup.admin.get("/webhook").json["secrets"] == [secret[:10] + "…"]
    setup.admin.post("/channels/stable/halt", {"reason": "INC-4711"})
    assert receiver.requests == []  # nothing is sent on the request thread
    assert deliver(setup) == {"delivered": 1, "retrying": 0}
    (headers, body) = receiver.requests[0]
    verify([secret], headers, body, int(time.time()))  # raises unless the signature verifies
    event = json.loads(body)
    assert event["type"] == "channel.halted"
    assert (event["data"]["channel"], event["data"]["reason"]) == ("stable", "INC-4711")
    log = setup.admin.get("/webhook/deliveries").json["items"]
    assert [(d["event_type"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("channel.halted", "delivered", 1, 204)
    ]
    assert log[0]["message_id"] == headers["webhook-id"]
    assert deliver(setup) == {"delivered": 0, "retrying": 0}  # delivered once


def test_activation_and_automatic_halt_events(setup, receiver):
    configure(setup, receiver.url)
    upload_control_file(setup.admin, control_file(("5.2.0", 100), notes="again"))
    for i in range(50):
        body = {"install_id": f"i-{i}", "from_version": "5.1.0", "to_version": "5.2.0", "platform": "windows-x64"}
        body |= {"outcome": "failed", "serial": 2}
        assert setup.client.post(f"/v1/upgrade/{setup.code}/reports", data=json.dumps(body)).status_code == 202
    deliver(setup)
    events = [json.loads(body) for _headers, body in receiver.requests]
    assert [e["type"] for e in events] == ["control_file.activated", "channel.halted"]
    assert events[0]["data"]["serial"] == 2
    assert events[1]["data"]["by"] == "guard"
    assert events[1]["data"]["reason"].startswith("Automatic halt: 5.2.0 failed on 50 of 50 installs")


def test_retries_back_off_for_three_days_then_give_up(setup, receiver):
    configure(setup, receiver.url)
    receiver.status = 503
    clock = Clock()
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1"})
    clock.now = utcnow()
    assert deliver(setup, clock) == {"delivered": 0, "retrying": 1}
    item = setup.admin.get("/webhook/deliveries").json["items"][0]
    assert (item["status"], item["attempts"], item["last_status_code"], item["last_error"]) == (
        "pending",
        1,
        503,
        "HTTP 503",
    )
    clock.now += timedelta(seconds=BACKOFF_SECONDS[0] - 1)
    assert deliver(setup, clock) == {"delivered": 0, "retrying": 0}  # not due yet
    attempts, elapsed = 1, timedelta(0)
    while True:
        clock.now += timedelta(hours=13)
        elapsed += timedelta(hours=13)
        if deliver(setup, clock) == {"delivered": 0, "retrying": 0}:
            break
        attempts += 1
    item = setup.admin.get("/webhook/deliveries").json["items"][0]
    assert item["status"] == "failed" and item["attempts"] == attempts
    assert timedelta(days=2) < elapsed <= timedelta(days=3, hours=26)  # given up once 3 days were over
    receiver.status = 204
    assert len(receiver.requests) == attempts


def test_the_back_off_schedule():
    created = utcnow()
    delays = []
    now, attempts = created, 0
    while (when := next_attempt(created, attempts + 1, now)) is not None:
        delays.append((when - now).total_seconds())
        now, attempts = when, attempts + 1
    assert delays[:4] == [10, 60, 300, 900]
    assert delays == sorted(delays)  # never shorter than the one before
    assert now - created <= timedelta(days=3)


def test_an_endpoint_that_is_down_slows_no_request(setup, receiver):
    configure(setup, receiver.url)
    receiver.hang = True  # accepts, never answers
    started = time.monotonic()
    for i in range(5):
        assert setup.admin.post("/channels/stable/halt", {"reason": f"INC-{i}"}).status_code == 200
        assert setup.admin.post("/channels/stable/resume", {}).status_code == 200
    assert time.monotonic() - started < 5  # 10 writes, each queueing a delivery, none waiting for it
    assert setup.poll().status_code == 200
    started = time.monotonic()
    counts = deliver(setup, timeout=1.0)  # the scheduler's pass: one bounded attempt, the rest wait
    assert time.monotonic() - started < 3
    assert counts == {"delivered": 0, "retrying": 1}
    log = setup.admin.get("/webhook/deliveries?status=pending").json["items"]
    assert len(log) == 10 and log[0]["last_error"].startswith("timeout")


def test_a_refused_connection_is_retried(setup):
    configure(setup, f"http://127.0.0.1:{closed_port()}/hook")
    setup.admin.post("/channels/stable/halt", {"reason": "INC-1"})
    assert deliver(setup) == {"delivered": 0, "retrying": 1}
    assert setup.admin.get("/webhook/deliveries").json["items"][0]["last_error"].startswith("connect")


def test_endpoint_input_and_rotation(make_app, receiver):
    setup = Setup(make_app())  # egress to private addresses not allowed: loopback and http refused
    response = setup.admin.put("/webhook", {"url": receiver.url})
    assert response.status_code == 422 and "url" in response.json["errors"]
    assert setup.admin.get("/webhook").status_code == 404
    response = setup.admin.put("/webhook", {"url": "https://hooks.example.com/livery"})
    assert response.status_code == 200, response.json
    first = response.json["new_secret"]
    etag = setup.admin.get("/webhook").json["etag"]
    assert setup.admin.put("/webhook", {"url": "https://hooks.example.com/livery"}).status_code == 428
    rotated = setup.admin.put(
        "/webhook", {"url": "https://hooks.example.com/livery", "rotate_secret": True}, etag=etag
    ).json
    assert len(rotated["secrets"]) == 2 and rotated["new_secret"] != first
    assert "new_secret" not in setup.admin.get("/webhook").json
