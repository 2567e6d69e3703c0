"""Sending queued webhook deliveries: signed, bounded, retried with back-off for up to three days.

``deliver_due`` is called by the scheduler (app/upgrades/scheduler.py, a thread in each worker)
and by ``flask webhooks deliver`` (cron), never on a request thread, so an endpoint that is down
or slow delays only the next deliveries, never an answer. Rows are claimed one at a time with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several schedulers never send the same attempt; on
SQLite one writer runs at a time. Each attempt is one bounded request (app/outbound/http.py);
after a failed attempt the partner's other deliveries wait for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.formats import canonical_json
from app.outbound.egress import EgressPolicy
from app.outbound.http import FetchError, fetch
from app.outbound.signing import signature_headers
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

# seconds to wait after the n-th failed attempt (the last value repeats); 3 days in all, then failed
BACKOFF_SECONDS = (10, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
GIVE_UP_AFTER = timedelta(days=3)
USER_AGENT = "Livery-Webhooks/1"
log = logging.getLogger(__name__)


def next_attempt(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts, or None when three days are over."""
    delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    when = now + timedelta(seconds=delay)
    return None if when > created_at + GIVE_UP_AFTER else when


@dataclass(frozen=True)
class DeliveryOptions:
    """How deliveries are sent: egress policy and the bounds of one attempt."""

    policy: EgressPolicy
    connect_timeout: float = 1.0
    timeout: float = 5.0


def _claim(session: Session, now: datetime, skip_partners: set[int]) -> WebhookDelivery | None:
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip_partners:
        stmt = stmt.where(WebhookDelivery.partner_id.not_in(skip_partners))
    return session.scalar(stmt)


def _attempt(session: Session, delivery: WebhookDelivery, options: DeliveryOptions, now: datetime) -> bool:
    """Send ``delivery`` once and record the outcome on its row; whether it was delivered."""
    endpoint = session.get(WebhookEndpoint, delivery.partner_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    if endpoint is None or not endpoint.enabled or not endpoint.secrets:
        delivery.status, delivery.last_error = "failed", "The partner has no enabled webhook endpoint."
        return False
    body = canonical_json(delivery.payload)
    headers = {
        **signature_headers(endpoint.secrets[0], body, int(now.timestamp()), delivery.message_id),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        answer = fetch(
            options.policy,
            endpoint.url,
            method="POST",
            headers=headers,
            body=body,
            connect_timeout=options.connect_timeout,
            timeout=options.timeout,
            max_bytes=4096,
        )
        delivery.last_status_code, error = answer.status, "" if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    except FetchError as exc:
        delivery.last_status_code, error = None, f"{exc.kind}: {exc}"[:500]
    if not error:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, ""
        return True
    delivery.last_error = error
    retry_at = next_attempt(delivery.created_at, delivery.attempts, now)
    if retry_at is None:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = retry_at
    return False


def deliver_due(
    make_session: sessionmaker,
    options: DeliveryOptions,
    *,
    clock: Callable[[], datetime],
    limit: int = 100,
    budget_seconds: float = 20.0,
) -> dict[str, int]:
    """Send up to ``limit`` due deliveries within about ``budget_seconds``; counts of delivered and failed."""
    started = time.monotonic()
    counts = {"delivered": 0, "retrying": 0}
    failed_partners: set[int] = set()
    for _ in range(limit):
        if time.monotonic() - started > budget_seconds:
            break
        with make_session() as session:
            delivery = _claim(session, clock(), failed_partners)
            if delivery is None:
                break
            ok = _attempt(session, delivery, options, clock())
            session.commit()
            counts["delivered" if ok else "retrying"] += 1
            if not ok:
                failed_partners.add(delivery.partner_id)  # its endpoint is down: the rest wait for the next run
    return counts
