"""A partner's licensing web service on loopback, for the licensing benchmarks.

It licenses every user it is asked about (echoing the decoded id, licence type ``standard``) and
counts the calls, so a benchmark can tell cached checks from partner calls; once ``hang`` is
set, it accepts each request and never answers it (for ``HANG_SECONDS``, or until stopped).
Signatures are not checked: examples/partner_licensing_service.py shows a real partner's side,
and its tests verify it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HANG_SECONDS = 30.0


class PartnerService(ThreadingHTTPServer):
    """``with PartnerService() as partner:`` serves on a free loopback port in a thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang = threading.Event()
        self.stopping = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    @property
    def url_template(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/licences/{{user_id}}"

    def handle_error(self, request, client_address):
        pass  # a caller that gave up (its timeout) is what the hang is for

    def __enter__(self) -> PartnerService:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: PartnerService

    def log_message(self, *_args):
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.calls += 1
        if self.server.hang.is_set():
            self.server.stopping.wait(HANG_SECONDS)
            return
        user_id = unquote(urlsplit(self.path).path.rsplit("/", 1)[-1])
        body = json.dumps({"user_id": user_id, "licensed": True, "licence_type": "standard"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
