"""Install reports: tell the service how an upgrade went, and keep trying while it is unreachable.

A report is queued in the cache folder first (``reports/outbox.json``, written atomically) and
then sent; a report the service took (202), or refused for good (400/404/410/413/422), leaves the
outbox; one it could not take now (network error, 429, 5xx) stays and goes with the next send, so
a client that installs offline reports once it is back. The outbox keeps at most ``MAX_PENDING``
reports (the oldest go first). Sending never raises: reporting must not break an install.
"""

from __future__ import annotations

from typing import Any

import requests

from livery_client.cache import ClientCache
from livery_client.errors import ServiceUnavailable
from livery_client.transport import post_json

OUTCOMES = ("started", "succeeded", "failed", "rolled_back")
MAX_PENDING = 100
_FINAL_REFUSALS = {400, 404, 410, 413, 422}  # sending it again cannot help


def build_report(
    install_id: str,
    from_version: str,
    to_version: str,
    platform: str,
    outcome: str,
    serial: int,
    error_code: str | None = None,
) -> dict[str, Any]:
    """The report body (see docs/client-protocol.md)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    body: dict[str, Any] = {
        "install_id": install_id,
        "from_version": from_version,
        "to_version": to_version,
        "platform": platform,
        "outcome": outcome,
        "serial": serial,
    }
    if error_code:
        body["error_code"] = error_code
    return body


def queue_report(cache: ClientCache, report: dict[str, Any]) -> None:
    """Add ``report`` to the outbox (a repeat of a queued one is not added twice)."""
    pending = [r for r in cache.load_reports() if r != report]
    cache.store_reports([*pending, report][-MAX_PENDING:])


def send_reports(session: requests.Session, cache: ClientCache, url: str, timeout: float) -> dict[str, int]:
    """Send every queued report in order; stop at the first one the service cannot take now."""
    pending = cache.load_reports()
    sent = dropped = 0
    while pending:
        try:
            response = post_json(session, url, pending[0], timeout=timeout)
        except ServiceUnavailable:
            break
        if response.status_code == 202:
            sent += 1
        elif response.status_code in _FINAL_REFUSALS:
            dropped += 1
        else:  # 429, 5xx, anything unexpected: later
            break
        pending = pending[1:]
        cache.store_reports(pending)
    return {"sent": sent, "dropped": dropped, "pending": len(pending)}
