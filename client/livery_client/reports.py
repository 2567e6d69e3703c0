"""Install reports: tell the service how an upgrade went, and keep trying while it is unreachable.

A report is queued in the cache folder first (``reports/outbox.json``, written atomically) and
then sent; a report the service took (202), or refused for good (400/404/410/413/422), leaves the
outbox; one it could not take now (network error, 429, 5xx) stays and goes with the next send, so
a client that installs offline reports once it is back. The outbox keeps at most ``MAX_PENDING``
reports (the oldest go first). Sending never raises: reporting must not break an install.

A lone report goes as one report, as it happens (``started`` before the download, the outcome
after the install: the halt guard needs them at once). Several waiting (an outbox flushed after
an outage) go ``MAX_BATCH`` per request as ``{"reports": [...]}``; a batch answered 400, 404,
405, 413, 415 or 422 (a Livery that predates batches, or one report it refuses) is sent again
report by report, so an older service and a bad report cost a few requests, never a report.
"""

from __future__ import annotations

from typing import Any

import requests

from livery_client.cache import ClientCache
from livery_client.errors import ServiceUnavailable
from livery_client.transport import post_json

OUTCOMES = ("started", "succeeded", "failed", "rolled_back")
MAX_PENDING = 100
MAX_BATCH = 20  # reports per request, the service's limit
_FINAL_REFUSALS = {400, 404, 410, 413, 422}  # sending it again cannot help
# a batch answered so by a Livery that predates batches (or refusing one report of it): sent one by one
_BATCH_REFUSED = {400, 404, 405, 413, 415, 422}


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
    """Send every queued report in order, up to ``MAX_BATCH`` per request; stop at what the service cannot take now."""
    pending = cache.load_reports()
    sent = dropped = 0
    while pending:
        chunk = pending[:MAX_BATCH]
        taken, refused = _send(session, url, timeout, chunk)
        sent, dropped = sent + taken, dropped + refused
        if taken + refused:
            pending = pending[taken + refused :]
            cache.store_reports(pending)
        if taken + refused < len(chunk):
            break
    return {"sent": sent, "dropped": dropped, "pending": len(pending)}


def _send(session: requests.Session, url: str, timeout: float, chunk: list[dict[str, Any]]) -> tuple[int, int]:
    """How many of the first reports of ``chunk`` the service took and refused for good; the rest wait."""
    if len(chunk) > 1:
        try:
            response = post_json(session, url, {"reports": chunk}, timeout=timeout)
        except ServiceUnavailable:
            return 0, 0
        if response.status_code == 202:
            return len(chunk), 0
        if response.status_code == 410:  # the code is gone: each report alone would be refused too
            return 0, len(chunk)
        if response.status_code not in _BATCH_REFUSED:  # 429, 5xx, anything unexpected: later
            return 0, 0
        # a Livery before batches, or one report of the chunk it refuses: the chunk one by one
    sent = dropped = 0
    for report in chunk:
        try:
            response = post_json(session, url, report, timeout=timeout)
        except ServiceUnavailable:
            break
        if response.status_code == 202:
            sent += 1
        elif response.status_code in _FINAL_REFUSALS:
            dropped += 1
        else:  # 429, 5xx, anything unexpected: later
            break
    return sent, dropped
