"""Fault injection against a real deployment: PostgreSQL stopped, killed, hung; S3 hung and stopped.

One deployment for the module (tests/faults/deployment.py: its own PostgreSQL cluster on a
loopback port outside the ephemeral range, its own S3 server, gunicorn with 2 workers). Each
test breaks one dependency for a few seconds while a client keeps calling, checks what the
client saw, mends the dependency and checks that the service recovers without a restart and
that nothing acknowledged before the fault was lost.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import stop_gunicorn
from tests.faults.deployment import PUBLIC, Deployment, Reply, freeze, start_deployment, thaw, unavailable_reason

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HEALTHZ_BOUND = 1.0  # seconds: liveness never waits on a dependency
READYZ_BOUND = 4.0  # readiness timeout (2 s) + slack
RECOVERY_BOUND = 20.0  # seconds until admin calls and readiness are back after the fault ends
CALLS = (*PUBLIC, "admin_read", "admin_write", "healthz", "readyz")


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    deployment = start_deployment()
    yield deployment
    deployment.stop()


@pytest.fixture
def log_tail(deployment):
    """The gunicorn log lines written during the test."""
    path = deployment.workdir / "gunicorn.err"
    start = path.stat().st_size if path.exists() else 0
    return lambda: path.read_bytes()[start:].decode(errors="replace")


def _by(replies: list[Reply], *kinds: str) -> list[Reply]:
    return [r for r in replies if r.kind in kinds]


def _statuses(replies: list[Reply]) -> Counter:
    return Counter((r.kind, r.status) for r in replies)


def _report(name: str, replies: list[Reply]) -> None:
    slowest = max(r.seconds for r in replies)
    print(f"\n{name}: {dict(sorted(_statuses(replies).items()))}; slowest {slowest:.2f} s")
    print([(r.kind, r.status, round(r.seconds, 2)) for r in replies][:40])


def _assert_public_flows(replies: list[Reply], kinds=PUBLIC) -> None:
    public = _by(replies, *kinds)
    assert public, "no public request was made"
    assert all(200 <= r.status < 400 for r in public), _statuses(public)


def _assert_probes(replies: list[Reply], down: str) -> None:
    health = _by(replies, "healthz")
    assert health and all(r.status == 200 and r.seconds < HEALTHZ_BOUND for r in health), [
        (r.status, round(r.seconds, 2)) for r in health
    ]
    ready = _by(replies, "readyz")
    assert ready and all(r.status == 503 and r.seconds < READYZ_BOUND for r in ready), _statuses(ready)
    assert all(down in json.loads(r.body)["down"] for r in ready), [r.body for r in ready]


def _assert_retry_later(replies: list[Reply], code: str) -> None:
    assert all(r.status == 503 for r in replies), _statuses(replies)
    for reply in replies:
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert json.loads(reply.body)["code"] == code
        assert int(reply.headers["Retry-After"]) >= 1


def _assert_assets_held_or_bounded(assets: list[Reply]) -> None:
    """Asset bytes a worker holds answer 200; the others a quick 503 with Retry-After, never a hung worker."""
    assert assets and all(r.status in (200, 503) and r.seconds < 3.0 for r in assets), _statuses(assets)
    _assert_retry_later([r for r in assets if r.status == 503] or [], "storage_unavailable")


def _assert_recovered(deployment: Deployment) -> None:
    deployment.wait_until("admin_read", 200, RECOVERY_BOUND)
    deployment.wait_until("readyz", 200, RECOVERY_BOUND)
    assert deployment.call("admin_write").status == 201
    replies = deployment.traffic(1.0, PUBLIC)
    assert all(r.status in (200, 302, 304) for r in replies), _statuses(replies)
    for partner_id in deployment.acknowledged:  # every write answered 201 is still there
        reply = deployment.request("check", "GET", f"/admin/v1/partners/{partner_id}", _admin(deployment))
        assert reply.status == 200, (partner_id, reply.status)


def _admin(deployment: Deployment) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.admin_key}"}


def _assert_logged_once(log: str, dependency: str = "database", workers: int = 2) -> None:
    """No traceback, no killed worker, and each worker's outage logged once (not per request)."""
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log, log[-3000:]
    assert log.count(f"{dependency} unreachable") <= workers, log[-3000:]


@pytest.mark.parametrize(
    "fault",
    [
        "stopped",  # a clean, fast shutdown: connections closed, then the port refuses
        "killed",  # a crash (SIGKILL): connections reset, then the port refuses
    ],
)
def test_postgres_stopped_or_killed(deployment, log_tail, fault):
    assert deployment.call("admin_write").status == 201  # acknowledged before the fault
    deployment.cluster.stop() if fault == "stopped" else deployment.cluster.kill()
    try:
        replies = deployment.traffic(4.0, CALLS)
    finally:
        deployment.cluster.start()
    _report(f"test_postgres_{fault}", replies)
    _assert_public_flows(replies)
    assert _by(replies, "admin_read", "admin_write")
    _assert_retry_later(_by(replies, "admin_read", "admin_write"), "database_unavailable")
    _assert_probes(replies, "database")
    _assert_recovered(deployment)
    _assert_logged_once(log_tail())


def test_postgres_hung(deployment, log_tail):
    assert deployment.call("admin_write").status == 201
    deployment.cluster.signal(signal.SIGSTOP)  # the port still accepts connections; nothing answers
    try:
        replies = deployment.traffic(9.0, CALLS)
    finally:
        deployment.cluster.signal(signal.SIGCONT)
    _report("test_postgres_hung", replies)
    _assert_public_flows(replies)
    # a request caught mid-statement waits for its deadline (2 s + 1 s; plus at most 1 s for the poll
    # it started), never for the worker timeout
    assert max(r.seconds for r in _by(replies, *PUBLIC)) < 5.0, sorted(r.seconds for r in replies)[-5:]
    _assert_retry_later(_by(replies, "admin_read", "admin_write"), "database_unavailable")
    _assert_probes(replies, "database")
    _assert_recovered(deployment)
    assert "WORKER TIMEOUT" not in log_tail()


def test_s3_hung(deployment, log_tail):
    freeze(deployment.s3.process.pid)
    try:
        replies = deployment.traffic(4.0, (*CALLS, "asset"))
    finally:
        thaw(deployment.s3.process.pid)
    _report("test_s3_hung", replies)
    _assert_public_flows(replies, ("discovery", "upgrade", "asset_304", "installer"))
    _assert_assets_held_or_bounded(_by(replies, "asset"))
    assert all(r.status in (200, 201) for r in _by(replies, "admin_read", "admin_write")), _statuses(replies)
    _assert_probes(replies, "storage.assets")
    deployment.wait_until("readyz", 200, RECOVERY_BOUND)
    assert deployment.call("asset").status == 200
    _assert_logged_once(log_tail(), "object store")


def test_s3_stopped_then_back_empty_and_repaired_by_a_reupload(deployment):
    deployment.s3.stop()
    try:
        replies = deployment.traffic(3.0, (*CALLS, "asset"))
    finally:
        deployment.restart_s3()  # a new, empty server: every object is lost
    _report("test_s3_stopped_then_back_empty_and_repaired_by_a_reupload", replies)
    _assert_public_flows(replies, ("discovery", "upgrade", "asset_304", "installer"))
    _assert_assets_held_or_bounded(_by(replies, "asset"))
    _assert_probes(replies, "storage.assets")
    deployment.wait_until("readyz", 200, RECOVERY_BOUND)
    store = deployment.s3.client().head_object
    with pytest.raises(Exception, match="404"):
        store(Bucket=deployment.bucket, Key=f"assets/{deployment.asset}")  # its object is gone
    assert deployment.upload_asset_again().status == 200  # the same image: deduplicated by row...
    assert store(Bucket=deployment.bucket, Key=f"assets/{deployment.asset}")["ContentLength"]  # ...object restored
    assert deployment.call("asset").status == 200


@pytest.mark.parametrize("fault", ["stopped", "hung"])
def test_a_worker_started_during_an_outage_comes_up_not_ready_then_serves(deployment, fault):
    freeze_db = fault == "hung"
    deployment.cluster.signal(signal.SIGSTOP) if freeze_db else deployment.cluster.stop()
    started = time.monotonic()
    other = None
    try:
        other = deployment.another_gunicorn()  # its warm-up cannot load anything: bounded, not hung
        boot = time.monotonic() - started
        ready = other.call("readyz")
        discovery = other.call("discovery")
        admin = other.call("admin_read")
    finally:
        deployment.cluster.signal(signal.SIGCONT) if freeze_db else deployment.cluster.start()
    try:
        print(f"\nworker start with the database {fault}: healthy after {boot:.1f} s")
        assert boot < 20
        assert ready.status == 503 and {"database", "public_answers"} <= set(json.loads(ready.body)["down"])
        _assert_retry_later([discovery], "database_unavailable")  # not a 404 that would condemn the code
        _assert_retry_later([admin], "database_unavailable")
        other.wait_until("discovery", 200, RECOVERY_BOUND, in_a_row=2)
        other.wait_until("readyz", 200, RECOVERY_BOUND, in_a_row=2)
    finally:
        if other is not None:
            stop_gunicorn(other.process)
