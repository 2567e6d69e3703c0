"""A partner's licensing web service as docs/licensing-webservice.md describes it (stdlib only).

A starting point for partners, and what the demo and the tests run on loopback::

    python examples/partner_licensing_service.py --port 8099 \\
        --secret whsec_... --user alice@example.com=standard --user bob@example.com=pro

Configure Livery's URL template as ``http://127.0.0.1:8099/licences/{user_id}`` (plain http on
loopback needs ``LIVERY_EGRESS_ALLOW_PRIVATE=true``; a real service is https). Requests whose
signature does not verify get 401.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

PATH_PREFIX = "/licences/"


def verify_livery_request(headers, body: bytes, secrets: list[str], now=None) -> bool:
    """True when the request was signed by Livery with one of your secrets (whsec_...)."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs((now or time.time()) - int(timestamp)) > 300:  # refuse replays older than 5 minutes
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for offered in headers["webhook-signature"].split(" "):
            if hmac.compare_digest(expected, offered):
                return True
    return False


def make_server(users: dict[str, str], secrets: list[str], host: str = "127.0.0.1", port: int = 0):
    """A server answering for ``users`` (user id -> licence type), ids matched case-insensitively."""
    licensed = {user_id.casefold(): licence_type for user_id, licence_type in users.items()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args):
            pass  # user ids are personal data: keep them out of logs

        def do_GET(self):
            path = urlsplit(self.path).path
            if not path.startswith(PATH_PREFIX) or "/" in path[len(PATH_PREFIX) :]:
                return self._answer(404, {"error": "not found"})
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                verified = verify_livery_request(headers, b"", secrets)
            except (KeyError, ValueError):
                verified = False
            if not verified:
                return self._answer(401, {"error": "signature"})
            try:
                user_id = unquote(path[len(PATH_PREFIX) :], errors="strict")
            except UnicodeDecodeError:
                return self._answer(400, {"error": "the user id is not UTF-8"})
            licence_type = licensed.get(user_id.casefold())
            return self._answer(
                200, {"user_id": user_id, "licensed": licence_type is not None, "licence_type": licence_type}
            )

        def _answer(self, status: int, document: dict) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="A partner licensing web service for Livery.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--secret", action="append", required=True, help="whsec_... (repeat during a rotation)")
    parser.add_argument("--user", action="append", default=[], help="USER_ID=LICENCE_TYPE (repeatable)")
    args = parser.parse_args()
    users = dict(item.rsplit("=", 1) for item in args.user)
    server = make_server(users, args.secret, args.host, args.port)
    print(f"licences at http://{args.host}:{server.server_address[1]}{PATH_PREFIX}{{user_id}}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
