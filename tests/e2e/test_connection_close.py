"""How a gunicorn worker ends a connection (app/sync_worker.py; docs/deployment.md, "Closing connections").

A worker closes at once after an answer when the client sent nothing it has not read, so a
client that keeps its socket open does not hold the worker; an answer sent before the body was
read still reaches a client that goes on sending it, because then the worker lingers (briefly).
One worker, so every request waits for the previous connection to be done with.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from app.sync_worker import LINGER_SECONDS
from tests.licensing.world import CHECK, LicensingWorld

pytestmark = [pytest.mark.e2e]

HOST = "livery.e2e.test"


def _answer(conn: socket.socket) -> tuple[str, dict[str, str], bytes]:
    """Read until the server ends the connection: (status line, headers, body); the body must be whole."""
    data = b""
    while chunk := conn.recv(65536):  # a reset instead of an orderly end raises here
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    assert int(headers["content-length"]) == len(body), data[:300]
    return status, headers, body


def _request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    fields = {"Host": HOST, **headers}
    if method == "POST":
        fields.setdefault("Content-Type", "application/json")
        if "Transfer-Encoding" not in fields:
            fields.setdefault("Content-Length", str(len(body)))
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body


def _ready_world(live) -> LicensingWorld:
    """A live code and a licensed user, once the worker sees them (within its freshness bound)."""
    world = LicensingWorld(live.app)
    world.license("anna@example.com")
    deadline = time.monotonic() + 10
    while live.get(f"/v1/discovery/{world.code}")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return world


def _ordinary_requests(world: LicensingWorld) -> dict[str, bytes]:
    check = json.dumps({"access_code": world.code, "user_id": "anna@example.com", "install_id": "i-1"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(check), check)
    return {
        "discovery 200": _request("GET", f"/v1/discovery/{world.code}"),
        "licence check": _request("POST", CHECK, check),
        "licence check, chunked body": _request("POST", CHECK, chunked, **{"Transfer-Encoding": "chunked"}),
    }


def test_a_client_keeping_its_socket_open_does_not_hold_the_worker(live_livery):
    live = live_livery(workers=1)
    world = _ready_world(live)
    for name, request in _ordinary_requests(world).items():
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as holder:
            holder.sendall(request)
            status, headers, body = _answer(holder)  # whole, then it keeps the socket open
            assert status.startswith("HTTP/1.1 200 "), (name, status, body[:300])
            assert headers["content-type"] == "application/json"
            if name.startswith("licence check"):
                assert json.loads(body)["payload"]["status"] == "valid"
            started = time.monotonic()
            status, _, _ = live.get("/healthz")  # the next client, while the first still holds its socket
            waited = time.monotonic() - started
            assert status == 200
            assert waited < 0.5, f"{name}: the next answer waited {waited:.2f} s (gunicorn's own close: ~2 s)"


def test_an_answer_sent_before_the_body_reaches_a_client_still_sending_it(live_livery):
    live = live_livery(workers=1)
    # declared over the licence check's 64 KiB: refused with 413 before a byte of the body is read
    head = _request("POST", CHECK, **{"Content-Length": str(1024 * 1024)})
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as conn:
        conn.sendall(head + b"{" * 4096)
        sent_until = time.monotonic() + LINGER_SECONDS / 2
        while time.monotonic() < sent_until:  # an uploader sends its body before it reads
            conn.sendall(b" " * 1024)  # a reset here would be what a closing worker causes
            time.sleep(0.01)
        status, headers, body = _answer(conn)
        assert status.startswith("HTTP/1.1 413 "), (status, body[:300])
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["code"] == "payload_too_large"
        # the client keeps its socket open: the worker lingers for LINGER_SECONDS at most
        started = time.monotonic()
        assert live.get("/healthz")[0] == 200
        assert time.monotonic() - started < LINGER_SECONDS + 0.7
