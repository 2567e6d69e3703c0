"""Static-publish mode: files byte-identical to the API, rewritten only on change, removed when gone."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import boto3
import pytest
from livery_client import CodeRevoked, LiveryClient

from app.branding.codes import code_digest, normalise_code
from app.publishing.root import publish_store
from app.storage import LocalObjectStore
from tests import factories, services


def _key(plain: str) -> str:
    return f"discovery/{code_digest(normalise_code(plain))}.json"


@pytest.fixture
def published(make_app, tmp_path):
    """An app publishing to a local folder, with a seeded partner; returns (app, root, seeded)."""
    root = tmp_path / "static-root"
    app = make_app(static_publish_root=str(root))
    return app, root, factories.seed_ci_c(app)


def test_every_code_gets_the_exact_bytes_the_api_answers(published):
    app, root, seeded = published
    client = app.test_client()

    for plain in (seeded.live_code, seeded.test_code):
        dynamic = client.get(f"/v1/discovery/{plain}")
        assert dynamic.status_code == 200
        assert (root / _key(plain)).read_bytes() == dynamic.data

    # the path is computable by a client: sha256 of the canonical code, never the code itself
    names = [p.name for p in (root / "discovery").glob("*.json")]
    assert all(seeded.live_code.replace("-", "") not in name for name in names)
    assert hashlib.sha256(normalise_code(seeded.live_code).encode()).hexdigest() + ".json" in names


def test_unchanged_files_keep_their_mtime(published):
    app, root, seeded = published
    path = root / _key(seeded.live_code)
    before = path.stat().st_mtime_ns

    factories.issue(app, seeded.brand_id, "live")  # an unrelated change
    counts = app.extensions["livery.publisher"].publish_all()

    assert path.stat().st_mtime_ns == before
    assert counts.written == 0 and counts.deleted == 0 and counts.unchanged == 6  # 3 documents, 3 manifests


def test_a_publish_rewrites_live_files_and_draft_edits_rewrite_test_files(published):
    app, root, seeded = published
    client = app.test_client()
    live_before = (root / _key(seeded.live_code)).read_bytes()

    factories.edit(app, seeded.brand_id, product_name="Acme Connect 2027")
    assert (root / _key(seeded.live_code)).read_bytes() == live_before  # live codes see no draft
    assert (root / _key(seeded.test_code)).read_bytes() == client.get(f"/v1/discovery/{seeded.test_code}").data

    factories.publish(app, seeded.brand_id)
    live_after = (root / _key(seeded.live_code)).read_bytes()
    assert live_after != live_before
    assert live_after == client.get(f"/v1/discovery/{seeded.live_code}").data


def test_revoke_deletes_and_suspension_deletes_every_file_of_the_partner(published):
    app, root, seeded = published
    other = factories.issue(app, seeded.brand_id, "live")

    factories.revoke(app, seeded.live_code)
    assert not (root / _key(seeded.live_code)).exists()
    assert (root / _key(other)).exists()

    factories.set_status(app, seeded.partner_id, "suspended")
    assert list((root / "discovery").glob("*.json")) == []

    factories.set_status(app, seeded.partner_id, "live")
    assert (root / _key(other)).exists() and (root / _key(seeded.test_code)).exists()
    assert not (root / _key(seeded.live_code)).exists()  # revoked stays gone


def test_unpublished_brand_has_no_live_file(published):
    app, root, seeded = published
    brand_id = factories.make_brand(app, seeded.partner_id, publish=False, product_name="Soon")
    live, test = factories.issue(app, brand_id, "live"), factories.issue(app, brand_id, "test")
    assert not (root / _key(live)).exists()
    assert (root / _key(test)).exists()


def test_cli_rebuild_removes_orphans_and_repairs(published):
    app, root, seeded = published
    orphan = root / "discovery" / ("0" * 64 + ".json")
    orphan.write_text("{}")
    (root / _key(seeded.live_code)).unlink()

    result = app.test_cli_runner().invoke(args=["static-publish"])

    assert result.exit_code == 0, result.output
    assert "1 written" in result.output and "1 deleted" in result.output
    assert not orphan.exists()
    assert (root / _key(seeded.live_code)).exists()


def test_cli_without_a_root_says_how_to_set_one(app):
    result = app.test_cli_runner().invoke(args=["static-publish"])
    assert result.exit_code != 0
    assert "LIVERY_STATIC_PUBLISH_ROOT" in result.output


def test_root_setting_means_a_folder_or_an_s3_prefix(tmp_path):
    assert publish_store("") is None
    assert isinstance(publish_store(str(tmp_path)), LocalObjectStore)
    s3 = publish_store("s3://bucket/some/prefix", s3_endpoint_url="http://127.0.0.1:9")
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix/")


@pytest.mark.s3
def test_s3_root_gets_the_same_bytes_and_loses_revoked_codes(make_app, s3_server):
    bucket = s3_server.create_bucket()
    app = make_app(static_publish_root=f"s3://{bucket}/static", s3_endpoint_url=s3_server.endpoint_url)
    seeded = factories.seed_ci_c(app)
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")

    def read(plain: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=f"static/{_key(plain)}")["Body"].read()

    assert read(seeded.live_code) == app.test_client().get(f"/v1/discovery/{seeded.live_code}").data
    etag = s3.head_object(Bucket=bucket, Key=f"static/{_key(seeded.live_code)}")["ETag"]
    head = s3.head_object(Bucket=bucket, Key=f"static/{_key(seeded.live_code)}")
    assert head["ContentType"] == "application/json"

    counts = app.extensions["livery.publisher"].publish_all()
    assert counts.written == 0
    assert s3.head_object(Bucket=bucket, Key=f"static/{_key(seeded.live_code)}")["ETag"] == etag

    factories.revoke(app, seeded.live_code)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="static/").get("Contents", [])]
    assert f"static/{_key(seeded.live_code)}" not in keys
    assert f"static/{_key(seeded.test_code)}" in keys


def test_local_root_writes_world_readable_files(published):
    _app, root, seeded = published
    path = Path(root / _key(seeded.live_code))
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("root", ["relative/folder", "s3://", "s3:///prefix"])
def test_a_malformed_root_stops_start_up(root):
    from app.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="LIVERY_STATIC_PUBLISH_ROOT"):
        Settings.from_env({"LIVERY_STATIC_PUBLISH_ROOT": root})


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _QuietWSGI(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def _serve(wsgi_or_root, port: int) -> Iterator[str]:
    """Serve a WSGI app, or a folder as plain static files, on 127.0.0.1:``port``."""
    if isinstance(wsgi_or_root, Path):
        server = ThreadingHTTPServer(("127.0.0.1", port), partial(_QuietFiles, directory=str(wsgi_or_root)))
    else:  # one thread: the app's test session is not shared across threads
        server = make_server("127.0.0.1", port, wsgi_or_root, handler_class=_QuietWSGI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_reference_client_launches_from_the_published_root(make_app, tmp_path):
    root, api_port = tmp_path / "static-root", services.free_port()
    app = make_app(static_publish_root=str(root), public_base_url=f"http://127.0.0.1:{api_port}")
    seeded = factories.seed_ci_c(app)
    discovery_calls: list[str] = []
    api_answers_discovery = False

    def api(environ, start_response):  # the API: assets always, discovery only when told
        if environ["PATH_INFO"].startswith("/v1/discovery/"):
            discovery_calls.append(environ["PATH_INFO"])
            if not api_answers_discovery:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"down"]
        return app.wsgi_app(environ, start_response)

    with _serve(root, services.free_port()) as static_url, _serve(api, api_port) as api_url:
        client = LiveryClient(api_url, seeded.live_code, tmp_path / "client-cache", static_base_url=static_url)
        assert client.static_discovery_url == f"{static_url}/{_key(seeded.live_code)}"

        launched = client.launch()
        assert (launched.status, launched.origin) == ("fresh", "static")
        assert launched.branding["product"]["name"] == "Acme Connect" and discovery_calls == []
        assert sorted(launched.downloaded_assets) == [
            "app_icon_macos",
            "app_icon_windows",
            "splash",
            "tray_icon",
            "viewer_logo",
        ]

        factories.revoke(app, seeded.live_code)  # deletes the file; only the API can say why it is gone
        api_answers_discovery = True
        with pytest.raises(CodeRevoked):
            client.launch()
        assert len(discovery_calls) == 1
