"""A Livery deployment to break: its own PostgreSQL cluster, its own S3 server, gunicorn with 2 workers.

Shared by tests/faults and bench/faults_campaign.py (one launch, one traffic loop). The
deployment runs with short timeouts (FAULT_SETTINGS) so that each fault shows its effect in a
few seconds; the production defaults are in app/config.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from app import create_app, migrate
from app.config import Settings
from app.db import session
from app.partners.models import Partner
from app.partners.services import create_api_key
from app.storage import SpooledUpload
from app.upgrades import releases, services
from tests import factories, images
from tests.e2e.conftest import start_gunicorn, stop_gunicorn
from tests.services import PostgresCluster, S3Server, free_port, postgres_bindir, set_fake_aws_credentials

FAULT_SETTINGS = {
    "LIVERY_DB_CONNECT_TIMEOUT": "2",
    "LIVERY_DB_STATEMENT_TIMEOUT": "2",
    "LIVERY_DB_RETRY_MAX": "2",
    "LIVERY_S3_CONNECT_TIMEOUT": "1",
    "LIVERY_S3_READ_TIMEOUT": "1",
    "LIVERY_S3_MAX_ATTEMPTS": "1",
    "LIVERY_READINESS_TIMEOUT": "2",
}
PLATFORM = "windows-x64"
PUBLIC = ("discovery", "upgrade", "asset", "asset_304", "installer")


def unavailable_reason() -> str | None:
    """Why the fault deployment cannot run here (no PostgreSQL server binaries), else None."""
    if postgres_bindir() is None:
        return "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb cannot run"
    return None


@dataclass
class Reply:
    kind: str
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


@dataclass
class Deployment:
    cluster: PostgresCluster
    s3: S3Server
    bucket: str
    port: int
    env: dict[str, str]
    workdir: Path
    admin_key: str
    partner_id: int
    code: str
    asset: str
    asset_bytes: bytes
    installer: str
    process: object = None
    acknowledged: list[int] = field(default_factory=list)  # partner ids whose creation answered 201

    def request(
        self, kind: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Reply:
        """One request over a fresh connection; a status of 0 means no answer within 10 s."""
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            return Reply(kind, response.status, dict(response.getheaders()), body, time.monotonic() - started)
        except OSError:
            return Reply(kind, 0, {}, b"", time.monotonic() - started)
        finally:
            conn.close()

    def call(self, kind: str) -> Reply:
        """One request of a named kind (PUBLIC, ``admin_read``, ``admin_write``, ``healthz``, ``readyz``)."""
        admin = {"Authorization": f"Bearer {self.admin_key}"}
        if kind == "discovery":
            return self.request(kind, "GET", f"/v1/discovery/{self.code}")
        if kind == "upgrade":
            query = f"platform={PLATFORM}&version=6.0.0&install_id=faults"
            return self.request(kind, "GET", f"/v1/upgrade/{self.code}?{query}")
        if kind == "asset":
            return self.request(kind, "GET", f"/v1/assets/{self.asset}")
        if kind == "asset_304":
            return self.request(kind, "GET", f"/v1/assets/{self.asset}", {"If-None-Match": f'"{self.asset}"'})
        if kind == "installer":
            return self.request(kind, "GET", f"/v1/installers/{self.installer}")
        if kind == "admin_read":
            return self.request(kind, "GET", f"/admin/v1/partners/{self.partner_id}", admin)
        if kind == "admin_write":
            slug = f"p{time.monotonic_ns()}"
            body = json.dumps({"slug": slug, "name": "Fault test"}).encode()
            headers = {**admin, "Content-Type": "application/json"}
            reply = self.request(kind, "POST", "/admin/v1/partners", headers, body)
            if reply.status == 201:
                self.acknowledged.append(json.loads(reply.body)["id"])
            return reply
        return self.request(kind, "GET", f"/{kind}")

    def upload_asset_again(self) -> Reply:
        """Re-upload the splash image through the admin API (restores the object if it was lost)."""
        boundary = "livery-faults"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="role"\r\n\r\nsplash\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="partner_id"\r\n\r\n{self.partner_id}\r\n'.encode(),
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="splash.png"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + self.asset_bytes
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        headers = {
            "Authorization": f"Bearer {self.admin_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        return self.request("admin_upload", "POST", "/admin/v1/assets", headers, b"".join(parts))

    def traffic(self, seconds: float, kinds: Iterable[str]) -> list[Reply]:
        """Requests of ``kinds`` in turn, one at a time, for ``seconds``."""
        kinds = list(kinds)
        replies: list[Reply] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            replies.append(self.call(kinds[len(replies) % len(kinds)]))
        return replies

    def wait_until(self, kind: str, status: int, timeout: float, in_a_row: int = 6) -> float:
        """Seconds until ``in_a_row`` ``kind`` requests in a row answer ``status`` (every worker, most
        likely); AssertionError after ``timeout``."""
        started = time.monotonic()
        streak = 0
        while time.monotonic() - started < timeout:
            streak = streak + 1 if self.call(kind).status == status else 0
            if streak >= in_a_row:
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(f"{kind} did not answer {status} {in_a_row} times in a row within {timeout} s")

    def another_gunicorn(self, workers: int = 1) -> Deployment:
        """A second gunicorn on the same database and bucket (returns once /healthz answers)."""
        other = replace(self, port=free_port(), process=None)
        other.process = start_gunicorn(
            other.port, self.env, stderr_path=self.workdir / f"gunicorn-{other.port}.err", workers=workers
        )
        return other

    def restart_s3(self) -> None:
        """Start a new (empty) S3 server on the same port, with the bucket: the objects are lost."""
        self.s3.start()
        self.s3.create_bucket(self.bucket)

    def stop(self) -> None:
        if self.process is not None:
            stop_gunicorn(self.process)
        with_errors_ignored(self.s3.stop)
        self.cluster.remove()
        shutil.rmtree(self.workdir, ignore_errors=True)


def with_errors_ignored(action) -> None:
    with contextlib.suppress(Exception):  # best-effort cleanup
        action()


def start_deployment(workers: int = 2) -> Deployment:
    """Cluster, S3 server, schema, seed data (a published brand, a live code, a published installer
    offered on a channel) and gunicorn; returns once every worker holds the public answers."""
    set_fake_aws_credentials()
    cluster = PostgresCluster(postgres_bindir()).start()
    s3 = S3Server().start()
    workdir = Path(tempfile.mkdtemp(prefix="livery-faults-"))
    try:
        bucket = s3.create_bucket()
        migrate.upgrade(cluster.url)
        env = {
            "LIVERY_DATABASE_URL": cluster.url,
            "LIVERY_STORAGE_BACKEND": "s3",
            "LIVERY_S3_ENDPOINT_URL": s3.endpoint_url,
            "LIVERY_S3_BUCKET": bucket,
            "LIVERY_PUBLIC_BASE_URL": "http://livery.faults.test",
            "LIVERY_SIGNING_KEYS_DIR": str(workdir / "keys"),
            **FAULT_SETTINGS,
        }
        deployment = _seed(cluster, s3, bucket, env, workdir)
        deployment.process = start_gunicorn(deployment.port, env, stderr_path=workdir / "gunicorn.err", workers=workers)
        deployment.traffic(1.0, PUBLIC)
        return deployment
    except BaseException:
        with_errors_ignored(s3.stop)
        cluster.remove()
        raise


def _seed(cluster: PostgresCluster, s3: S3Server, bucket: str, env: dict[str, str], workdir: Path) -> Deployment:
    app = create_app(Settings.from_env(env))
    try:
        seeded = factories.seed_ci_c(app)
        splash = images.png(640, 360)
        installer = b"faults installer " * 4096
        with app.app_context():
            partner = session().get(Partner, seeded.partner_id)
            release = releases.create_release(session(), partner, version="7.0.0", platform=PLATFORM, actor="faults")
            upload = SpooledUpload.from_stream(io.BytesIO(installer))
            store = app.extensions["livery.stores"].installers
            releases.store_installer(session(), store, release, upload, actor="faults")
            upload.discard()
            releases.update_release(session(), release, {"status": "published"}, actor="faults", store=store)
            control = {
                "schema_version": 1,
                "channel": "stable",
                "default_mode": "passive",
                "releases": [{"version": "7.0.0", "rollout_percent": 100}],
            }
            stores = app.extensions["livery.stores"]
            services.upload_control_file(
                session(), stores, seeded.partner_id, "stable", json.dumps(control).encode(), actor="faults"
            )
            _key, admin_key = create_api_key(session(), role="operator", actor="faults")
            session().commit()
            installer_sha = release.sha256
        return Deployment(
            cluster=cluster,
            s3=s3,
            bucket=bucket,
            port=free_port(),
            env=env,
            workdir=workdir,
            admin_key=admin_key,
            partner_id=seeded.partner_id,
            code=seeded.live_code,
            asset=hashlib.sha256(splash).hexdigest(),
            asset_bytes=splash,
            installer=installer_sha,
        )
    finally:
        app.extensions["livery.engine"].dispose()


def freeze(pid: int) -> None:
    """SIGSTOP one process (a hung server: its port still accepts connections)."""
    os.kill(pid, signal.SIGSTOP)


def thaw(pid: int) -> None:
    """SIGCONT one process."""
    os.kill(pid, signal.SIGCONT)
