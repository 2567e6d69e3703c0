"""A scripted Livery service on 127.0.0.1 for the client's tests: real HTTP, no mocks.

Tests set what the service knows (documents, assets, upgrade payloads, installers) and how it
misbehaves (forced statuses, ignored Range headers, truncated bodies, tampered envelopes), then
read back the requests it received.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from livery_client.codes import code_digest, normalise_code
from livery_client.signing import canonical_bytes


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """Base64 of the raw public key, as pinned by clients."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(payload: dict[str, Any], key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    """The signed envelope the service sends."""
    value = base64.b64encode(key.sign(canonical_bytes(payload))).decode()
    return {"payload": payload, "signature": {"alg": "Ed25519", "key_id": key_id, "value": value}}


@dataclass
class FakeLivery:
    signing_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    key_id: str = "k1"
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    code_status: dict[str, int] = field(default_factory=dict)
    assets: dict[str, bytes] = field(default_factory=dict)
    upgrade: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = field(default_factory=dict)
    envelope_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    installers: dict[str, bytes] = field(default_factory=dict)
    ignore_range: bool = False
    truncate_at: int | None = None
    fail_status: int | None = None  # every /v1 route answers this problem (the API is down)
    static_files: dict[str, bytes] = field(default_factory=dict)  # /static/<path>: a static-publish root
    static_fail_status: int | None = None
    retry_after: str | None = None
    garble: bool = False
    # POST /v1/licenses/check: request body -> payload to sign (None: the code is unknown)
    licence: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    requests: list[Recorded] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)  # install reports taken (202)
    report_status: int = 202  # what POST .../reports answers
    report_batches: bool = True  # False: a Livery before batches ({"reports": [...]} is a 422)
    report_invalid: Callable[[dict[str, Any]], bool] | None = None  # reports answered 422 (a batch with one: whole)

    def start(self) -> FakeLivery:
        """Serve on an ephemeral loopback port in a background thread."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (later requests are refused)."""
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def public_key(self) -> str:
        return public_key_b64(self.signing_key)

    def add_asset(self, data: bytes, media_type: str = "image/png", **extra: Any) -> dict[str, Any]:
        """Serve ``data`` and return its document entry."""
        sha = hashlib.sha256(data).hexdigest()
        self.assets[sha] = data
        entry = {"url": f"{self.base_url}/v1/assets/{sha}", "sha256": sha, "media_type": media_type}
        return {**entry, "bytes": len(data), "width": 32, "height": 32, **extra}

    def hits(self, prefix: str) -> list[Recorded]:
        """Requests whose path is ``prefix`` or under it (``/v1/upgrade`` is not ``/v1/upgrade-manifest``)."""
        under = prefix if prefix.endswith("/") else prefix + "/"
        return [r for r in self.requests if r.path == prefix or r.path.startswith(under)]


def _handler_for(service: FakeLivery) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def problem(self, status: int, code: str, detail: str) -> None:
            body = {"type": f"https://livery.example/problems/{code}", "title": code, "status": status}
            body.update(code=code, detail=detail)
            extra = {"Retry-After": service.retry_after} if service.retry_after else {}
            self.send_body(status, json.dumps(body).encode(), "application/problem+json", extra)

        def cached_json(self, value: dict[str, Any]) -> None:
            body = canonical_bytes(value)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            if service.garble:
                body = b"<html>proxy error page</html>"
            self.send_body(200, body, "application/json", {"ETag": etag, "Cache-Control": "public, max-age=0"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            service.requests.append(Recorded("GET", parts.path, query, dict(self.headers.items())))
            if parts.path.startswith("/static/"):
                return self.static_file(parts.path.removeprefix("/static/"))
            if service.fail_status:
                return self.problem(service.fail_status, "trouble", "scripted failure")
            segments = parts.path.strip("/").split("/")
            route = "/".join(segments[:2])
            if route == "v1/discovery" or route == "v1/upgrade":
                code = normalise_code(segments[2]) or ""
                if code in service.code_status:
                    return self.problem(service.code_status[code], "gone", "scripted status")
                if route == "v1/discovery":
                    return self.discovery(code)
                return self.upgrade_answer(code, query)
            if route == "v1/upgrade-manifest":  # the API serves the static root's manifest bytes
                code = normalise_code(segments[2]) or ""
                if code in service.code_status:
                    return self.problem(service.code_status[code], "gone", "scripted status")
                return self.static_file(f"upgrade/{code_digest(code)}/manifest.json")
            if route == "v1/assets" and segments[2] in service.assets:
                sha = segments[2]
                return self.send_body(200, service.assets[sha], "image/png", {"ETag": f'"{sha}"'})
            if route == "v1/keys":
                key = {"key_id": service.key_id, "alg": "Ed25519", "public_key": service.public_key, "status": "active"}
                return self.send_body(200, json.dumps({"keys": [key]}).encode(), "application/json")
            if segments[0] == "redirect":
                self.send_response(302)
                self.send_header("Location", f"{service.base_url}/files/{segments[1]}")
                self.send_header("Content-Length", "0")
                return self.end_headers()
            if segments[0] == "files" and segments[1] in service.installers:
                return self.installer(service.installers[segments[1]])
            return self.problem(404, "not_found", "no such thing")

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            service.requests.append(Recorded("POST", parts.path, body, dict(self.headers.items())))
            if service.fail_status:
                return self.problem(service.fail_status, "trouble", "scripted failure")
            segments = parts.path.strip("/").split("/")
            if segments[:2] == ["v1", "upgrade"] and segments[-1] == "reports":
                if service.report_status != 202:
                    return self.problem(service.report_status, "refused", "scripted report status")
                batch = body.get("reports") if isinstance(body, dict) else None
                if batch is not None and not service.report_batches:
                    return self.problem(422, "validation_failed", "reports: Unknown field.")
                items = batch if isinstance(batch, list) else [body]
                if service.report_invalid and any(service.report_invalid(item) for item in items):
                    return self.problem(422, "validation_failed", "scripted invalid report")
                service.reports.extend(items)
                answer = {"accepted": True} if batch is None else {"accepted": True, "reports": len(items)}
                return self.send_body(202, json.dumps(answer, separators=(",", ":")).encode(), "application/json")
            code = normalise_code(str(body.get("access_code"))) or ""
            if parts.path != "/v1/licenses/check" or service.licence is None:
                return self.problem(404, "not_found", "no such thing")
            if code in service.code_status:
                return self.problem(service.code_status[code], "gone", "scripted status")
            envelope = sign(service.licence(body), service.signing_key, service.key_id)
            if service.envelope_hook:
                envelope = service.envelope_hook(envelope)
            return self.send_body(200, canonical_bytes(envelope), "application/json", {"Cache-Control": "no-store"})

        def static_file(self, path: str) -> None:
            # like nginx or S3 in front of a publish root: its own ETag scheme, plain-text errors
            if service.static_fail_status:
                return self.send_body(service.static_fail_status, b"static host trouble", "text/plain")
            if path not in service.static_files:
                return self.send_body(404, b"Not Found", "text/html")
            body = service.static_files[path]
            etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'  # S3's ETag
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                return self.end_headers()
            return self.send_body(200, body, "application/json", {"ETag": etag})

        def discovery(self, code: str) -> None:
            if code not in service.documents:
                return self.problem(404, "not_found", "unknown code")
            return self.cached_json(service.documents[code])

        def upgrade_answer(self, code: str, query: dict[str, str]) -> None:
            if code not in service.upgrade:
                return self.problem(404, "not_found", "unknown code")
            if not query.get("version") or not query.get("platform"):
                return self.problem(400, "bad_request", "version and platform are required")
            envelope = sign(service.upgrade[code](query), service.signing_key, service.key_id)
            if service.envelope_hook:
                envelope = service.envelope_hook(envelope)
            return self.cached_json(envelope)

        def installer(self, data: bytes) -> None:
            etag = '"' + hashlib.sha256(data).hexdigest() + '"'
            wanted = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            start = 0
            if wanted and not service.ignore_range and (if_range is None or if_range == etag):
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    return self.send_body(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if service.truncate_at is not None:  # promise everything, deliver a piece, hang up
                self.wfile.write(body[: service.truncate_at])
                self.wfile.flush()
                self.close_connection = True
                return None
            self.wfile.write(body)
            return None

    return Handler
