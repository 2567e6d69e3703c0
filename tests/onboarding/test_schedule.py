"""Scheduled go-live: through the admin API and the cron command, and once with two schedulers racing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app, migrate
from app.audit.models import AuditEvent
from app.branding.codes import code_digest, normalise_code
from app.db import session, utcnow
from app.onboarding.launches import record_test_launches
from app.onboarding.services import run_scheduled, schedule_go_live
from app.partners.models import Partner
from app.upgrades.services import get_or_create_channel, set_halt
from tests import factories, services
from tests.api.admin.conftest import make_operator, onboard


def _ready_partner(app, slug: str) -> int:
    """An onboarding partner that passes every readiness check (upgrades explicitly off: channel halted)."""
    partner_id = factories.make_partner(app, slug, status="onboarding")
    brand_id = factories.make_brand(app, partner_id)
    test_code = factories.issue(app, brand_id, kind="test")
    with app.app_context():
        channel = get_or_create_channel(session(), partner_id, "stable")
        set_halt(session(), channel, halted=True, reason="no upgrades at launch", actor="test")
        record_test_launches(session(), [code_digest(normalise_code(test_code))])
        session().commit()
    return partner_id


def test_scheduled_go_live_through_the_api_and_the_cron_command(app):
    operator = make_operator(app)
    ready_id = _ready_partner(app, "ready")
    waiting = onboard(operator, "waiting", live=False)  # nothing done: stays onboarding
    for partner_id in (ready_id, waiting.id):
        current = operator.get(f"/partners/{partner_id}/onboarding")
        assert [s["key"] for s in current.json["steps"]][-1] == "go_live"
        when = (utcnow() - timedelta(minutes=1)).isoformat()
        scheduled = operator.patch(
            f"/partners/{partner_id}/onboarding", {"go_live_at": when}, etag=current.headers["ETag"]
        )
        assert scheduled.status_code == 200, scheduled.json
        assert scheduled.json["go_live_at"] is not None
    naive = operator.patch(
        f"/partners/{waiting.id}/onboarding",
        {"go_live_at": "2030-01-01T00:00:00"},
        etag=operator.get(f"/partners/{waiting.id}/onboarding").headers["ETag"],
    )
    assert naive.status_code == 422 and "go_live_at" in naive.json["errors"]  # a time zone is required

    result = app.test_cli_runner().invoke(args=["onboarding", "run-scheduled"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    outcome = {r["partner"]: r for r in json.loads(result.output)}
    assert outcome["ready"]["live"] is True
    assert outcome["waiting"]["live"] is False and "brand_published" in outcome["waiting"]["failing"]
    assert operator.get(f"/partners/{ready_id}").json["status"] == "live"
    assert operator.get(f"/partners/{ready_id}").json["go_live_at"] is None
    assert operator.get(f"/partners/{waiting.id}").json["status"] == "onboarding"
    again = app.test_cli_runner().invoke(args=["onboarding", "run-scheduled"], catch_exceptions=False)
    assert "ready" not in again.output  # done once


@pytest.fixture
def committed_pg(tmp_path):
    """Two apps (two schedulers) on one PostgreSQL database whose writes are really committed."""
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = services.create_pg_database("livery_schedule")
    migrate.upgrade(url)
    apps = []
    try:
        for n in range(2):
            settings = _settings(tmp_path, url, n)
            apps.append(create_app(settings))
        yield apps
    finally:
        for app in apps:
            app.extensions["livery.engine"].dispose()
        services.drop_pg_database(url)


def _settings(tmp_path, url: str, n: int):
    from app.config import Settings

    return Settings(
        database_url=url,
        public_base_url="http://livery.test",
        static_brands_dir=str(tmp_path / "static_brands"),
        control_files_dir=str(tmp_path / "control_files"),
        installers_dir=str(tmp_path / "installers"),
        signing_keys_dir=str(tmp_path / "signing-keys"),
    )


@pytest.mark.postgres
def test_a_scheduled_go_live_fires_once_with_two_schedulers_racing(committed_pg):
    first, second = committed_pg
    partner_id = _ready_partner(first, "racer")
    with first.app_context():
        schedule_go_live(session(), session().get(Partner, partner_id), utcnow() - timedelta(seconds=1), actor="test")
        session().commit()

    a = first.extensions["livery.sessionmaker"]()
    b = second.extensions["livery.sessionmaker"]()
    try:
        # scheduler A claims the partner and makes it live, not yet committed; B runs meanwhile
        done_a = run_scheduled(a, utcnow(), signing_keys=1)
        done_b = run_scheduled(b, utcnow(), signing_keys=1)  # SKIP LOCKED: A's row is skipped, not waited for
        a.commit()
        b.commit()
        done_late = run_scheduled(b, utcnow(), signing_keys=1)  # after A's commit: no longer onboarding
        b.commit()
    finally:
        a.close()
        b.close()
    assert [r["live"] for r in done_a] == [True]
    assert done_b == [] and done_late == []
    with second.app_context():
        assert session().get(Partner, partner_id).status == "live"
        went_live = select(func.count()).where(
            AuditEvent.action == "partner.set_status", AuditEvent.partner_id == partner_id
        )
        assert session().scalar(went_live) == 1
