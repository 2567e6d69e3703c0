"""A body shorter than its Content-Length fails within LIVERY_BODY_READ_TIMEOUT on real gunicorn
(sync worker), instead of holding the worker until the arbiter kills it at 30 s."""

from __future__ import annotations

import socket
import time

from app.db import session
from app.partners.services import create_api_key
from tests import factories

TIMEOUT = 2  # LIVERY_BODY_READ_TIMEOUT for this deployment


def _operator_key(app) -> str:
    with app.app_context():
        _key, plain = create_api_key(session(), role="operator", actor="test:bootstrap")
        session().commit()
    return plain


def _send_short_body(port: int, request_head: str, sent: bytes) -> tuple[bytes, float]:
    """Send the head and part of the body, then wait silently; (answer, seconds until it came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(request_head.encode() + sent)
        started = time.monotonic()
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer, time.monotonic() - started


def test_a_short_body_is_a_408_within_the_timeout_and_frees_the_worker(live_livery):
    live = live_livery(workers=1, LIVERY_BODY_READ_TIMEOUT=str(TIMEOUT))
    key = _operator_key(live.app)
    uploads = (("/admin/v1/partners", "application/json"), ("/admin/v1/assets", "multipart/form-data; boundary=b"))
    for path, content_type in uploads:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: livery.e2e.test\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
        )
        answer, seconds = _send_short_body(live.port, head, b'{"slug": "x"')
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 408 "), answer[:300]
        assert b"application/problem+json" in rest and b'"request_timeout"' in rest
        assert TIMEOUT - 0.5 < seconds < TIMEOUT + 3
        # the only worker is free again at once
        started = time.monotonic()
        assert live.get("/healthz")[0] == 200
        assert time.monotonic() - started < 1


def test_a_slow_but_steady_body_is_not_cut_short(live_livery):
    live = live_livery(workers=1, LIVERY_BODY_READ_TIMEOUT=str(TIMEOUT))
    key = _operator_key(live.app)
    body = b'{"slug": "steady", "name": "Steady"}'
    head = (
        f"POST /admin/v1/partners HTTP/1.1\r\nHost: livery.e2e.test\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", live.port), timeout=20) as conn:
        conn.sendall(head.encode())
        for start in range(0, len(body), 12):  # ~3.5 s in all, every pause below the timeout
            time.sleep(TIMEOUT / 2)
            conn.sendall(body[start : start + 12])
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]


def test_public_posts_answered_below_flask_are_bounded_too(live_livery):
    # licence checks and install reports are read by the WSGI fast path (app/api/public/fast.py)
    live = live_livery(workers=1, LIVERY_BODY_READ_TIMEOUT=str(TIMEOUT))
    code = factories.seed_ci_c(live.app).live_code  # reports are read only for a usable code
    for path in ("/v1/licenses/check", f"/v1/upgrade/{code}/reports"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: livery.e2e.test\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\nConnection: close\r\n\r\n"
        )
        answer, seconds = _send_short_body(live.port, head, b'{"access_code": "x"')
        assert answer.startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in answer, answer[:300]
        assert TIMEOUT - 0.5 < seconds < TIMEOUT + 3
