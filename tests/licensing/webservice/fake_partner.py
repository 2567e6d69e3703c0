"""A partner's licensing web service on loopback (real HTTP), whose behaviour a test sets.

``mode``: ``ok`` (answers by ``licensed``: user id -> licence type), ``slow`` (waits
``delay`` seconds first), ``hang`` (waits until stopped), ``error`` (500), ``not_found`` (404),
``garbage`` (not JSON), ``huge`` (a 1 MiB body), ``redirect`` (302 to ``redirect_to``),
``drip`` (one byte every 0.3 s), ``raw_echo`` (echoes the id still percent-encoded: a partner
that forgot to decode). ``slow_users`` are answered after ``delay`` in any mode. Every request
is recorded (path, headers, arrival time).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        pass  # Livery hanging up on a huge or slow answer is expected here


class FakePartner:
    def __init__(self, licensed: dict[str, str] | None = None) -> None:
        self.licensed = dict(licensed or {})
        self.mode = "ok"
        self.delay = 0.0
        self.redirect_to = "http://10.0.0.1/licences/x"
        self.slow_users: set[str] = set()
        self.requests: list[dict] = []
        self.stopped = threading.Event()
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                partner.requests.append({"path": self.path, "headers": dict(self.headers), "at": time.monotonic()})
                partner.answer(self)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def url_template(self) -> str:
        return self.base_url + "/licences/{user_id}"

    def start(self) -> FakePartner:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "slow":
            self.stopped.wait(self.delay)
        if mode == "hang":
            self.stopped.wait(60)
            return
        if mode == "error":
            return self._send(handler, 500, b'{"error": "boom"}')
        if mode == "not_found":
            return self._send(handler, 404, b"{}")
        if mode == "garbage":
            return self._send(handler, 200, b"<html>not json</html>")
        if mode == "huge":
            return self._send(handler, 200, b'{"pad": "' + b"x" * (1024 * 1024) + b'"}')
        if mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", self.redirect_to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        if mode == "drip":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.end_headers()
            for _ in range(20):
                if self.stopped.wait(0.3):
                    return None
                handler.wfile.write(b" ")
                handler.wfile.flush()
            return None
        raw = handler.path.split("/licences/", 1)[1].split("?")[0]
        user_id = unquote(raw)
        if user_id in self.slow_users:
            self.stopped.wait(self.delay)
        licence_type = self.licensed.get(user_id)
        echoed = raw if mode == "raw_echo" else user_id
        body = {"user_id": echoed, "licensed": licence_type is not None, "licence_type": licence_type}
        return self._send(handler, 200, json.dumps(body).encode())

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
