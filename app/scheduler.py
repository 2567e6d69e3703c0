"""Work that runs on a clock, off every request thread: rollout plan steps, webhook deliveries,
pruning old install reports.

``run_due`` does one pass; ``flask upgrades run-scheduled`` runs it from cron, and with
``LIVERY_SCHEDULER_SECONDS`` > 0 each gunicorn worker runs it on a daemon thread (started in
``post_worker_init``, after the fork). Running it in many places at once is safe: plans and
deliveries are claimed row by row with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or serialised by
SQLite's single writer, so each step and each attempt happens once.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import delete, select

from app.db import utcnow
from app.db_health import DATABASE_DOWN
from app.outbound.egress import EgressPolicy
from app.upgrades.models import InstallReport, InstallReportMinute
from app.upgrades.plans import run_plans
from app.webhooks.delivery import DeliveryOptions, deliver_due

PRUNE_BATCH = 1000
MINUTES_KEPT = timedelta(days=8)  # the longest guard window is 7 days
log = logging.getLogger(__name__)


def prune_reports(make_session, retention_days: int) -> int:
    """Delete install reports older than the retention (and per-minute counts older than any window)."""
    now = utcnow()
    with make_session() as session:
        ids = list(
            session.scalars(
                select(InstallReport.id)
                .where(InstallReport.received_at < now - timedelta(days=retention_days))
                .limit(PRUNE_BATCH)
            )
        )
        if ids:
            session.execute(delete(InstallReport).where(InstallReport.id.in_(ids)))
        session.execute(delete(InstallReportMinute).where(InstallReportMinute.minute < now - MINUTES_KEPT))
        session.commit()
    return len(ids)


def run_due(app: Flask) -> dict:
    """One pass: due plan steps, due webhook deliveries, a batch of old reports pruned."""
    settings = app.config["LIVERY"]
    make_session = app.extensions["livery.sessionmaker"]
    options = DeliveryOptions(
        EgressPolicy(allow_private=settings.egress_allow_private), timeout=settings.webhook_timeout
    )
    return {
        "plans": run_plans(make_session, app.extensions["livery.stores"], clock=utcnow),
        "webhooks": deliver_due(make_session, options, clock=utcnow),
        "reports_pruned": prune_reports(make_session, settings.upgrade_report_retention_days),
    }


class Scheduler:
    """``run_due`` every ``interval`` seconds (with jitter, so workers spread out) on a daemon thread."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (in the worker process, after the fork)."""
        self._thread = threading.Thread(target=self._run, name="livery-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval * random.uniform(0.8, 1.2)):
            try:
                run_due(self.app)
            except DATABASE_DOWN:
                pass  # DatabaseHealth logged the outage once; the next pass tries again
            except Exception:
                log.warning("scheduled work failed; retried at the next pass", exc_info=True)

    def stop(self) -> None:
        """Ask the thread to stop after its current pass."""
        self._stop.set()
