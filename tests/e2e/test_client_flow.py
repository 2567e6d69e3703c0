"""Issue 5, end to end: the reference client (SDK and CLI) against a real deployment.

One deployment per module: gunicorn with two workers on 127.0.0.1, a fresh PostgreSQL database
and the S3 server (moto, storage backend ``s3``). Everything is set up through the admin API; the
only bootstrap is the operator key, made with ``flask --app wsgi operator create-key --json`` in a
subprocess with the deployment's environment. Each test gets its own brand and access code (and,
for upgrades, its own channel), made before the first test, so the tests do not depend on one
another; only the outage test stops the server, and it restarts it on the same port.

A change made through the admin API is answered at once by the worker that took it and by the
other one within the freshness interval (1 s); the tests poll for at most BOUND + MARGIN.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from livery_client import LiveryClient
from livery_client.errors import CodeRevoked, InstallerIntegrityError, SignatureError
from PIL import Image

from app import create_app, migrate
from app.config import REPO_ROOT, Settings
from tests import factories, services
from tests.e2e.conftest import start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.s3]

BOUND = 2.0  # staleness bound across workers (docs: within LIVERY_FRESHNESS_INTERVAL, 1 s)
MARGIN = 1.5
BIN = Path(sys.executable).parent  # the venv running the tests, wherever it is
PLATFORM = "windows-x64"
INSTALLER = hashlib.sha512(b"livery e2e installer").digest() * 4096  # 256 KiB of real bytes
BRANDS = ("flow", "upgrade", "outage", "revoke", "cli")


def _png(colour: tuple[int, int, int], size: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _ico(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (*colour, 255)).save(buffer, format="ICO", sizes=[(64, 64)])
    return buffer.getvalue()


@dataclass
class Brand:
    id: int
    code: str
    code_id: int
    channel: str


@dataclass
class Deployment:
    base_url: str
    port: int
    env: dict[str, str]
    workdir: Path
    operator_key: str
    process: subprocess.Popen | None = None
    partner_key: str = ""
    brands: dict[str, Brand] = field(default_factory=dict)

    # -- the server --------------------------------------------------------------------------

    def start(self) -> None:
        self.process = start_gunicorn(self.port, self.env, stderr_path=self.workdir / "gunicorn.err", workers=2)

    def stop(self) -> None:
        if self.process is not None:
            stop_gunicorn(self.process)
            self.process = None

    # -- the admin API -----------------------------------------------------------------------

    def admin(
        self, method: str, path: str, *, key: str | None = None, expect: int = 200, etag: str | None = None, **kwargs
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.partner_key}", **kwargs.pop("headers", {})}
        if etag:
            headers["If-Match"] = etag
        response = requests.request(method, f"{self.base_url}/admin/v1{path}", headers=headers, timeout=30, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def upload_asset(self, role: str, filename: str, data: bytes, media_type: str) -> str:
        response = self.admin(
            "POST", "/assets", data={"role": role}, files={"file": (filename, data, media_type)}, expect=201
        )
        return response.json()["sha256"]

    def edit_and_publish(self, brand: Brand, draft: dict[str, Any]) -> None:
        etag = self.admin("GET", f"/brands/{brand.id}").headers["ETag"]
        etag = self.admin("PATCH", f"/brands/{brand.id}", etag=etag, json={"draft": draft}).headers["ETag"]
        published = self.admin("POST", f"/brands/{brand.id}/publish", etag=etag, expect=201).json()
        assert published["created"] is True, published

    def revoke(self, brand: Brand) -> None:
        etag = self.admin("GET", f"/access-codes/{brand.code_id}").headers["ETag"]
        self.admin("POST", f"/access-codes/{brand.code_id}/revoke", etag=etag)

    # -- clients -----------------------------------------------------------------------------

    def client(self, brand: Brand, cache: str, public_keys: dict[str, str] | None = None) -> LiveryClient:
        return LiveryClient(self.base_url, brand.code, self.workdir / "clients" / cache, public_keys=public_keys)

    def pinned_keys(self) -> dict[str, str]:
        """The keys a build would pin, taken from /v1/keys once (at "build time")."""
        keys = requests.get(f"{self.base_url}/v1/keys", timeout=10).json()["keys"]
        return {key["key_id"]: key["public_key"] for key in keys}


def _wait_for(check: Callable[[], Any], what: str, timeout: float = BOUND + MARGIN) -> tuple[Any, float]:
    """Call ``check`` until it returns something truthy; (that value, seconds it took)."""
    started = time.monotonic()
    while True:
        value = check()
        elapsed = time.monotonic() - started
        if value:
            return value, elapsed
        if elapsed > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def _bootstrap_operator_key(env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "operator", "create-key", "--label", "e2e", "--json"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)["key"]


def _make_live(live: Deployment, partner_id: int) -> None:
    """The partner goes live through the lifecycle service (the running workers learn it from the change log)."""
    app = create_app(Settings.from_env(live.env))
    try:
        factories.make_live(app, partner_id)
    finally:
        app.extensions["livery.engine"].dispose()


def _onboard(live: Deployment) -> None:
    """Partner, partner admin key, images, one published brand and live code per test: admin API only."""
    op = live.operator_key
    partner = live.admin("POST", "/partners", key=op, json={"slug": "acme", "name": "Acme Communications"}, expect=201)
    _make_live(live, partner.json()["id"])  # past the go-live readiness gate: tests/onboarding tests it
    api_key = live.admin(
        "POST",
        "/api-keys",
        key=op,
        json={"role": "admin", "partner_id": partner.json()["id"], "label": "e2e"},
        expect=201,
    )
    live.partner_key = api_key.json()["key"]

    tray = live.upload_asset("tray_icon", "tray.png", _png((11, 95, 255)), "image/png")
    app_icon = live.upload_asset("app_icon_windows", "app.ico", _ico((200, 30, 30)), "image/vnd.microsoft.icon")
    for name in BRANDS:
        draft = {
            "product_name": f"Acme Connect {name}",
            "short_name": "Acme CRM",
            "publisher": "Acme Communications Ltd",
            "branding_level": "CI-B",
            "upgrade_channel": f"e2e-{name}",  # a channel per brand: one test's control file is not another's
            "tray_icon": tray,
            "app_icon_windows": app_icon,
        }
        brand = live.admin("POST", "/brands", json={"name": f"Acme {name}", "draft": draft}, expect=201)
        published = live.admin(
            "POST", f"/brands/{brand.json()['id']}/publish", etag=brand.headers["ETag"], expect=201
        ).json()
        assert published["revision"] == 1, published
        code = live.admin(
            "POST", f"/brands/{brand.json()['id']}/access-codes", json={"kind": "live", "label": name}, expect=201
        ).json()
        live.brands[name] = Brand(brand.json()["id"], code["code"], code["id"], f"e2e-{name}")
    time.sleep(BOUND)  # the other worker learns of the new codes within the bound


@pytest.fixture(scope="module")
def live(s3_server, tmp_path_factory) -> Iterator[Deployment]:
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    database_url = services.create_pg_database("livery_e2e_client")
    workdir = tmp_path_factory.mktemp("client-flow")
    try:
        migrate.upgrade(database_url)
        port = services.free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            "LIVERY_DATABASE_URL": database_url,
            "LIVERY_PUBLIC_BASE_URL": base_url,
            "LIVERY_STORAGE_BACKEND": "s3",
            "LIVERY_S3_ENDPOINT_URL": s3_server.endpoint_url,
            "LIVERY_S3_BUCKET": s3_server.create_bucket(),
            "LIVERY_SIGNING_KEYS_DIR": str(workdir / "signing-keys"),
            "LIVERY_STATIC_BRANDS_DIR": str(workdir / "static_brands"),
            "LIVERY_CONTROL_FILES_DIR": str(workdir / "control_files"),
            "LIVERY_INSTALLERS_DIR": str(workdir / "installers"),
            "LIVERY_FRESHNESS_INTERVAL": "1.0",
        }
        # also creates the development signing keys, before two workers could race to
        deployment = Deployment(base_url, port, env, workdir, _bootstrap_operator_key(env))
        deployment.start()
        try:
            _onboard(deployment)
            yield deployment
        finally:
            deployment.stop()
    finally:
        services.drop_pg_database(database_url)


# -- branding -----------------------------------------------------------------------------------


def test_launch_304_rename_and_new_icon(live):
    brand = live.brands["flow"]
    client = live.client(brand, "flow")

    first = client.launch()
    assert (first.status, first.first_launch) == ("fresh", True)
    assert first.branding["product"]["name"] == "Acme Connect flow"
    assert sorted(first.downloaded_assets) == ["app_icon_windows", "tray_icon"]
    for role, path in first.asset_paths.items():
        asset = first.branding["assets"][role]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == asset["sha256"], role

    second = client.launch()
    assert (second.status, second.downloaded_assets, second.changed_fields) == ("not_modified", [], [])
    assert second.branding == first.branding

    # the partner renames the product and publishes
    live.edit_and_publish(brand, {"product_name": "Acme Connect CRM 2"})
    published = time.monotonic()
    renamed, took = _wait_for(
        lambda: (r := client.launch()).status != "not_modified" and r, "rename reaches the client"
    )
    assert renamed.status == "fresh"
    assert renamed.changed_fields == ["product.name"]
    assert renamed.branding["product"]["name"] == "Acme Connect CRM 2"
    assert renamed.branding["revision"] == 2
    assert renamed.downloaded_assets == []
    print(f"\nrename seen after {took:.2f} s")
    time.sleep(max(0.0, published + BOUND - time.monotonic()))  # every worker answers revision 2 from now on

    # a new tray icon: only that asset is downloaded
    new_tray = live.upload_asset("tray_icon", "tray2.png", _png((0, 160, 80)), "image/png")
    live.edit_and_publish(brand, {"tray_icon": new_tray})
    iconed, _ = _wait_for(lambda: (r := client.launch()).status != "not_modified" and r, "new icon reaches the client")
    assert iconed.status == "fresh"
    assert iconed.downloaded_assets == ["tray_icon"]
    assert iconed.branding["assets"]["tray_icon"]["sha256"] == new_tray
    assert "assets.tray_icon.sha256" in iconed.changed_fields
    assert all(f.startswith("assets.tray_icon.") for f in iconed.changed_fields), iconed.changed_fields
    assert hashlib.sha256(iconed.asset_paths["tray_icon"].read_bytes()).hexdigest() == new_tray
    assert iconed.asset_paths["app_icon_windows"] == first.asset_paths["app_icon_windows"]
    assert not first.asset_paths["tray_icon"].exists()  # the old icon was pruned from the cache


# -- upgrades -----------------------------------------------------------------------------------


@pytest.fixture
def tampered_installer_server() -> Iterator[str]:
    """A loopback HTTP server that serves the installer's size in different bytes."""
    body = bytes(b ^ 0xFF for b in INSTALLER)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/acme-5.3.0-x64.msi"
    server.shutdown()
    server.server_close()


def _flip_one_byte_of_the_sha256(response: requests.Response, *args, **kwargs) -> requests.Response:
    """A response hook: a man in the middle changes one hex digit of the signed installer sha256, in
    the code's upgrade manifest (which the client decides from first) and in the per-install poll
    (which it falls back to when the manifest does not verify)."""
    if response.status_code == 200 and ("/v1/upgrade/" in response.url or "/v1/upgrade-manifest/" in response.url):
        body = response.content
        at = body.index(b'"sha256":"') + len(b'"sha256":"')
        response._content = body[:at] + (b"0" if body[at : at + 1] != b"0" else b"1") + body[at + 1 :]
    return response


def test_upgrade_offered_signed_downloaded_and_tampering_refused(live, tampered_installer_server, tmp_path):
    brand = live.brands["upgrade"]
    release = live.admin(
        "POST",
        "/releases",
        json={"version": "5.3.0", "platform": PLATFORM, "release_notes_url": "https://acme.example/notes/5.3.0"},
        expect=201,
    )
    uploaded = live.admin(
        "PUT",
        f"/releases/{release.json()['id']}/installer",
        etag=release.headers["ETag"],
        data=INSTALLER,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.json()["sha256"] == hashlib.sha256(INSTALLER).hexdigest()
    live.admin(
        "PATCH", f"/releases/{release.json()['id']}", etag=uploaded.headers["ETag"], json={"status": "published"}
    )
    control_file = {
        "schema_version": 1,
        "channel": brand.channel,
        "default_mode": "passive",
        "minimum_version": "5.0.0",
        "blocked_versions": ["5.1.0"],
        "releases": [{"version": "5.3.0", "rollout_percent": 100}],
    }
    activated = live.admin("POST", f"/channels/{brand.channel}/control-files", json=control_file, expect=201).json()
    time.sleep(BOUND)  # both workers answer with the new control file from now on

    keys = live.pinned_keys()
    client = live.client(brand, "upgrade", public_keys=keys)
    assert client.launch().branding["upgrade"]["enabled"] is True

    offered = client.check_upgrade("5.2.0", PLATFORM)
    assert (offered.action, offered.reason, offered.serial) == ("passive", "offered", activated["serial"])
    assert offered.key_id in keys
    assert offered.target.version == "5.3.0"
    assert (offered.target.sha256, offered.target.bytes) == (hashlib.sha256(INSTALLER).hexdigest(), len(INSTALLER))
    below_minimum = client.check_upgrade("4.9.0", PLATFORM)
    blocked = client.check_upgrade("5.1.0", PLATFORM)
    assert below_minimum.action == blocked.action == "dynamic"
    assert below_minimum.target.version == blocked.target.version == "5.3.0"
    assert client.check_upgrade("5.3.0", PLATFORM).action == "none"
    again = client.check_upgrade("5.2.0", PLATFORM)  # 304: the cached answer, verified again
    assert (again.action, again.from_cache, again.target) == ("passive", True, offered.target)

    path = client.download(offered, tmp_path / "downloads")  # via the S3 presigned redirect
    assert path.read_bytes() == INSTALLER

    # a tampered answer: one byte of the signed payload changed on the way
    tampered_client = live.client(brand, "upgrade-tampered", public_keys=keys)
    tampered_client.session.hooks["response"].append(_flip_one_byte_of_the_sha256)
    with pytest.raises(SignatureError):
        tampered_client.check_upgrade("5.2.0", PLATFORM)

    # a tampered installer: the signed decision, but the bytes come from somewhere else
    elsewhere = dataclasses.replace(
        offered, target=dataclasses.replace(offered.target, installer_url=tampered_installer_server)
    )
    with pytest.raises(InstallerIntegrityError):
        client.download(elsewhere, tmp_path / "tampered")
    assert not any((tmp_path / "tampered").iterdir())  # nothing kept, not even the .part


# -- outage ---------------------------------------------------------------------------------------


def test_server_down_gives_stale_branding_then_fresh_after_restart(live):
    client = live.client(live.brands["outage"], "outage")
    fresh = client.launch()
    assert fresh.status == "fresh"

    live.stop()
    try:
        stale = client.launch()
        assert stale.status == "stale"
        assert stale.stale_reason
        assert stale.branding == fresh.branding
        assert stale.downloaded_assets == []
        assert all(path.is_file() for path in stale.asset_paths.values())
    finally:
        live.start()  # same database, bucket and port

    back = client.launch()
    assert back.status == "not_modified"  # the service confirmed the cached branding: current again
    assert back.branding == fresh.branding


# -- revocation ---------------------------------------------------------------------------------


def test_revoked_code_raises_and_clears_the_cache(live):
    brand = live.brands["revoke"]
    client = live.client(brand, "revoke")
    assert client.launch().status == "fresh"
    assert any(client.cache.root.iterdir())

    live.revoke(brand)

    def revoked() -> bool:
        try:
            assert client.launch().status == "not_modified"  # a worker that has not heard yet
        except CodeRevoked:
            return True
        return False

    _wait_for(revoked, "the revocation reaches the client")
    assert not client.cache.root.exists() or not any(client.cache.root.iterdir())


# -- CLI ------------------------------------------------------------------------------------------


def _cli(live: Deployment, brand: Brand, cache_dir: Path, *args: str) -> subprocess.CompletedProcess:
    options = ["--base-url", live.base_url, "--code", brand.code, "--cache-dir", str(cache_dir)]
    return subprocess.run(
        [str(BIN / "livery-client"), *options, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_cli_launch_shows_branding_and_exits_4_after_revoke(live, tmp_path):
    brand = live.brands["cli"]
    cache_dir = tmp_path / "cli-cache"

    first = _cli(live, brand, cache_dir, "launch", "--json")
    assert first.returncode == 0, first.stderr
    shown = json.loads(first.stdout)
    assert shown["status"] == "fresh"
    assert shown["branding"]["product"]["name"] == "Acme Connect cli"
    assert sorted(shown["downloaded_assets"]) == ["app_icon_windows", "tray_icon"]
    assert all(Path(path).is_file() for path in shown["asset_paths"].values())

    second = _cli(live, brand, cache_dir, "launch", "--json")
    assert second.returncode == 0, second.stderr
    assert (json.loads(second.stdout)["status"], json.loads(second.stdout)["downloaded_assets"]) == ("not_modified", [])

    live.revoke(brand)
    result, _ = _wait_for(
        lambda: (r := _cli(live, brand, cache_dir, "launch", "--json")).returncode != 0 and r,
        "the CLI sees the revocation",
        timeout=BOUND + 3 * MARGIN,  # each run starts a Python process
    )
    assert result.returncode == 4, (result.returncode, result.stdout, result.stderr)
    assert json.loads(result.stdout)["error"]["type"] == "CodeRevoked"
    assert not cache_dir.exists() or not any(cache_dir.iterdir())
