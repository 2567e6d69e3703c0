"""A 200 MB installer streamed through a real gunicorn worker into S3 with bounded memory.

The worker's peak resident memory (VmHWM) is read from /proc before and after the upload: it
must grow by far less than the file, which proves the body went to disk in chunks and on to the
object store without being held whole in memory anywhere.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app import create_app, migrate
from app.config import REPO_ROOT, Settings
from app.db import session
from app.partners.models import Partner
from app.partners.services import create_api_key
from tests import factories, services

pytestmark = [pytest.mark.e2e, pytest.mark.s3, pytest.mark.slow]

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024
MAX_GROWTH = 150 * 1024 * 1024


def _vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _worker_pid(master: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("gunicorn started no worker")


def _body(digest):
    block = hashlib.sha512(b"installer").digest() * (CHUNK // 64)
    for i in range(SIZE // CHUNK):
        chunk = i.to_bytes(8, "big") + block[8:]  # every megabyte differs: no accidental dedup
        digest.update(chunk)
        yield chunk


@pytest.fixture
def gunicorn_s3(tmp_path, s3_server):
    """A one-worker gunicorn on loopback, SQLite + S3 (moto server), with an admin key for a partner."""
    env = {
        "LIVERY_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
        "LIVERY_STORAGE_BACKEND": "s3",
        "LIVERY_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "LIVERY_S3_BUCKET": s3_server.create_bucket(),
        "LIVERY_SIGNING_KEYS_DIR": str(tmp_path / "keys"),
        "LIVERY_PUBLIC_BASE_URL": "http://127.0.0.1",
    }
    migrate.upgrade(env["LIVERY_DATABASE_URL"])
    settings = Settings.from_env(env)
    app = create_app(settings)
    partner_id = factories.make_partner(app, "bigco")
    with app.app_context():
        partner = session().get(Partner, partner_id)
        _key, plain = create_api_key(session(), role="admin", partner=partner, actor="test", label="e2e")
        session().commit()
    port = services.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "--timeout", "300", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        services.wait_for_port(port)
        yield f"http://127.0.0.1:{port}", plain, process.pid, app
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_200_mb_installer_streams_with_bounded_memory(gunicorn_s3):
    base, key, master, app = gunicorn_s3
    auth = {"Authorization": f"Bearer {key}"}
    release = requests.post(
        f"{base}/admin/v1/releases", json={"version": "9.0.0", "platform": "windows-x64"}, headers=auth, timeout=10
    )
    assert release.status_code == 201, release.text
    worker = _worker_pid(master)
    before = _vm_hwm(worker)

    digest = hashlib.sha256()
    started = time.monotonic()
    response = requests.put(
        f"{base}/admin/v1/releases/{release.json()['id']}/installer",
        data=_body(digest),  # a generator: sent chunked, never built in memory here either
        headers={**auth, "If-Match": release.headers["ETag"], "Content-Type": "application/octet-stream"},
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    growth = _vm_hwm(worker) - before
    print(f"\n200 MB upload: {elapsed:.1f} s, worker VmHWM {before / 2**20:.0f} MiB -> +{growth / 2**20:.1f} MiB")
    assert growth < MAX_GROWTH, f"worker peak memory grew by {growth / 2**20:.0f} MiB"

    assert response.json()["sha256"] == digest.hexdigest()
    assert response.json()["bytes"] == SIZE
    store = app.extensions["livery.stores"].installers
    stat = store.stat(digest.hexdigest())
    assert (stat.size, stat.sha256) == (SIZE, digest.hexdigest())
    stored = hashlib.sha256()
    for chunk in store.open(digest.hexdigest()):
        stored.update(chunk)
    assert stored.hexdigest() == digest.hexdigest()
