"""Last good answers shared through the database (SQLite and PostgreSQL): grace from any worker."""

from __future__ import annotations

import random
import shutil
import time

import pytest
from sqlalchemy import delete, select

from app.config import Settings
from app.licensing.webservice import WebServiceMethod
from app.licensing.webservice.last_good import DurableLastGood, bounded_engine
from app.licensing.webservice.models import LicensingLastGood
from tests.conftest import DATABASES
from tests.licensing.webservice.conftest import T0
from tests.licensing.webservice.conftest import ask as ask_partner_7


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "last-good.db"
        shutil.copyfile(sqlite_template, path)
        engine = bounded_engine(f"sqlite:///{path}")
    else:
        engine = bounded_engine(request.getfixturevalue("pg_database"))
    yield engine
    engine.dispose()


@pytest.fixture
def partner_id(engine):
    """A partner id of this test only (PostgreSQL's rows outlive a test: they are removed here)."""
    ident = random.randint(10**6, 10**9)
    yield ident
    with engine.begin() as conn:
        conn.execute(delete(LicensingLastGood).where(LicensingLastGood.partner_id == ident))


def worker(engine) -> WebServiceMethod:
    """A worker's method: its own memory, the shared table."""
    return WebServiceMethod(Settings(egress_allow_private=True), durable=DurableLastGood(engine))


def ask(method, settings, user_id="alice@example.com", *, at=0, partner_id):
    from datetime import timedelta

    from app.licensing.methods import CheckRequest

    request = CheckRequest(partner_id=partner_id, user_id=user_id, proof=None, now=T0 + timedelta(seconds=at))
    return method.check(request, settings)


def rows(engine, partner_id):
    with engine.connect() as conn:
        return conn.execute(select(LicensingLastGood).where(LicensingLastGood.partner_id == partner_id)).all()


def test_a_worker_that_never_saw_the_user_answers_grace_from_the_table(engine, partner_id, settings, partner):
    first, second = worker(engine), worker(engine)
    assert ask(first, settings, partner_id=partner_id).status == "valid"
    partner.mode = "error"
    verdict = ask(second, settings, at=7200, partner_id=partner_id)
    assert (verdict.status, verdict.licence_type, verdict.source["age_seconds"]) == ("grace", "standard", 7200)
    assert ask(worker(engine), settings, at=72 * 3600 + 1, partner_id=partner_id).status == "unavailable"


def test_the_table_holds_a_digest_not_the_user_id(engine, partner_id, settings):
    ask(worker(engine), settings, partner_id=partner_id)
    [row] = rows(engine, partner_id)
    assert "alice" not in str(tuple(row)) and len(row.user_digest) == 64


def test_a_not_licensed_answer_removes_the_row(engine, partner_id, settings, partner):
    ask(worker(engine), settings, partner_id=partner_id)
    del partner.licensed["alice@example.com"]
    assert ask(worker(engine), settings, at=10, partner_id=partner_id).status == "not_licensed"
    assert rows(engine, partner_id) == []
    partner.mode = "error"
    assert ask(worker(engine), settings, at=20, partner_id=partner_id).status == "unavailable"


def test_rows_are_refreshed_at_most_hourly_and_pruned_after_grace(engine, partner_id, settings, partner):
    method = worker(engine)
    ask(method, settings, partner_id=partner_id)
    ask(method, settings, at=1000, partner_id=partner_id)  # cache expired: the partner again, no write
    assert rows(engine, partner_id)[0].answered_at.timestamp() == T0.timestamp()
    ask(method, settings, at=3700, partner_id=partner_id)
    assert rows(engine, partner_id)[0].answered_at.timestamp() == T0.timestamp() + 3700
    partner.licensed["bob"] = "standard"
    ask(method, settings, "bob", at=3700 + 72 * 3600 + 1, partner_id=partner_id)  # prunes alice's old row
    assert len(rows(engine, partner_id)) == 1


def test_a_database_outage_costs_grace_from_the_table_not_the_check(settings, partner):
    down = bounded_engine("postgresql+psycopg://postgres@127.0.0.1:1/livery")
    method = WebServiceMethod(Settings(egress_allow_private=True), durable=DurableLastGood(down))
    assert ask_partner_7(method, settings).status == "valid"
    partner.mode = "error"
    assert ask_partner_7(method, settings, at=1000).status == "grace"  # this worker's memory
    started = time.monotonic()
    assert ask_partner_7(method, settings, "stranger", at=1000).status == "unavailable"
    assert time.monotonic() - started < 1.5


def test_the_service_builds_the_method_on_its_own_database(tmp_path, sqlite_template, settings, partner):
    from app.licensing.webservice import build_web_service_method

    path = tmp_path / "service.db"
    shutil.copyfile(sqlite_template, path)
    config = Settings(database_url=f"sqlite:///{path}", egress_allow_private=True)
    assert ask_partner_7(build_web_service_method(config), settings).status == "valid"
    partner.mode = "error"
    assert ask_partner_7(build_web_service_method(config), settings, at=1000).status == "grace"
