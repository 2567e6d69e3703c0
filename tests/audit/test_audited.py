"""The one audited-change step: every write is audited and announced the same way, through HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.resources import resource_of
from app.audit.services import audited
from app.branding.models import Brand
from app.db import Base, session
from app.freshness.models import ChangeEvent
from app.problems import ValidationProblem
from tests import factories

# Tables no service changes through audited(): history rows written beside an audited change, the
# logs themselves, partners' last licensing answers (a cache for grace, not a change) and facts the
# service observes (test launches seen by discovery).
NOT_AUDITED = {
    "brand_revisions",
    "control_files",
    "audit_events",
    "change_events",
    "licensing_last_good",
    "test_launches",
    "allocation_events",  # the allocation history, written inside a licensed user's audited change
    "usage_facts",  # facts of checks, not changes
    "usage_report_rows",  # rows of a closed report version, written inside its audited close
    "usage_submission_rows",  # rows of a submitted usage report, written inside its audited submission
    "install_reports",  # upgrade outcomes clients report: facts observed, not changes
    "install_report_minutes",  # their per-minute counts
    "webhook_deliveries",  # the outbox: queued inside the audited change it reports, then a delivery log
    "rollout_plan_events",  # a plan's timeline, written inside the plan's audited changes
    "portal_sessions",  # sign-in sessions: sign-ins, sign-outs and expiry are not changes to a resource
}


def _events(app):
    with app.app_context():
        audit = [(e.action, e.resource_type, e.resource_id) for e in session().scalars(select(AuditEvent))]
        changes = [(c.topic, c.key) for c in session().scalars(select(ChangeEvent).order_by(ChangeEvent.id))]
        return audit, changes


def test_every_table_a_service_writes_is_a_registered_audited_resource():
    models = {mapper.class_ for mapper in Base.registry.mappers if mapper.local_table.name not in NOT_AUDITED}
    for model in models:
        assert resource_of(model.__new__(model)).type, model  # KeyError names an unregistered model


def test_a_write_records_its_event_and_announces_what_it_changed(app):
    partner_id = factories.make_partner(app)
    brand_id = factories.make_brand(app, partner_id, publish=False)
    audit, changes = _events(app)
    assert ("brand.create", "brand", str(brand_id)) in audit
    assert ("brand", str(brand_id)) in changes

    factories.edit(app, brand_id, product_name="Renamed")
    audit, changes = _events(app)
    assert audit[-1] == ("brand.update_draft", "brand", str(brand_id))
    assert changes[-1] == ("brand", str(brand_id))


def test_nothing_is_recorded_when_the_change_fails(app):
    partner_id = factories.make_partner(app)
    brand_id = factories.make_brand(app, partner_id, publish=False)
    before = _events(app)
    with app.app_context():
        brand = session().get(Brand, brand_id)
        with pytest.raises(ValidationProblem), audited(session(), "test", "brand.update_draft", brand):
            raise ValidationProblem({"name": ["no"]})
        session().flush()
        assert _events(app) == before
        session().rollback()


def test_no_service_writes_an_audit_event_or_announcement_by_hand():
    import ast
    from pathlib import Path

    app_dir = Path(__file__).resolve().parents[2] / "app"
    by_hand = []
    for path in app_dir.rglob("*.py"):
        if path == app_dir / "audit" / "services.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("record_event", "announce_change"):
                by_hand.append(f"{path.relative_to(app_dir)}:{node.lineno}")
    assert by_hand == [], "write through app.audit.services.audited instead"
