"""Fixtures shared by the whole suite: apps on every backend, real services, factories.

``app`` is SQLite + local folders (fast, for most tests). ``backend_app`` runs a test on every
combination of {SQLite, PostgreSQL} x {local folder, S3}; PostgreSQL combinations skip with the
reason when the server is unreachable. On PostgreSQL each test runs inside a transaction that
is rolled back; on SQLite each test gets a copy of a migrated template database.

``make test`` runs the suite on two pytest-xdist workers (``--dist loadgroup``); the suites that
start real servers and hold wall-clock bounds (``SERIAL_SUITES``) share one xdist group, so they
run one after another on one worker, never beside each other, while the other worker runs the rest.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app import create_app, migrate
from app.config import Settings
from tests import services

BASE_URL = "http://livery.test"
# gunicorn, nginx, Chromium and an own PostgreSQL cluster under timing bounds: two of them side by
# side on a 2-core machine starve each other (fault tests failed that way), so they never overlap
SERIAL_SUITES = ("tests/faults/", "tests/e2e/", "tests/browser/", "tests/docs/")


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent without xdist
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with every test of ``SERIAL_SUITES`` in one group, chosen by path.

    xdist 3.8 passes ``xdist_group`` marks to its scheduler by rewriting node ids, which pytest
    9.2's structured node ids silently ignore (pytest-dev/pytest-xdist#1386): the tests would be
    spread as if unmarked. So the scheduler is told the group itself.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SerialSuites(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "serial" if nodeid.startswith(SERIAL_SUITES) else super()._split_scope(nodeid)

    return SerialSuites(config, log)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[services.S3Server]:
    """moto's S3 server, in its own process on a loopback port, for the whole session."""
    services.set_fake_aws_credentials()
    server = services.S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """Path of a SQLite database migrated to head, copied by each test that needs one."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a PostgreSQL database migrated to head for this test session (skips when unreachable)."""
    reason = services.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = services.create_pg_database()
    migrate.upgrade(url)
    yield url
    services.drop_pg_database(url)


@pytest.fixture(scope="session")
def pg_engine(pg_database):
    engine = create_engine(pg_database, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def make_app(request, tmp_path, sqlite_template) -> Iterator[Callable]:
    """Factory: ``make_app(db="sqlite"|"postgres", storage="local"|"s3", **setting_overrides)``."""
    cleanups: list[Callable[[], None]] = []

    def factory(db: str = "sqlite", storage: str = "local", **overrides):
        settings = Settings(
            public_base_url=BASE_URL,
            static_brands_dir=str(tmp_path / "static_brands"),
            control_files_dir=str(tmp_path / "control_files"),
            installers_dir=str(tmp_path / "installers"),
            signing_keys_dir=str(tmp_path / "signing-keys"),
            standard_viewer_url="https://viewer.livery.test/standard",
        )
        if storage == "s3":
            server = request.getfixturevalue("s3_server")
            settings = settings.with_overrides(
                storage_backend="s3", s3_endpoint_url=server.endpoint_url, s3_bucket=server.create_bucket()
            )
        bind = None
        if db == "postgres":
            engine = request.getfixturevalue("pg_engine")
            connection = engine.connect()
            transaction = connection.begin()
            bind = connection
            settings = settings.with_overrides(database_url=engine.url.render_as_string(hide_password=False))

            def rollback() -> None:
                transaction.rollback()
                connection.close()

            cleanups.append(rollback)
        else:
            path = tmp_path / f"livery-{len(cleanups)}.db"
            shutil.copyfile(sqlite_template, path)
            settings = settings.with_overrides(database_url=f"sqlite:///{path}")
        settings = settings.with_overrides(**overrides) if overrides else settings
        app = create_app(settings, bind=bind)
        app.config["TESTING"] = True
        if bind is None:
            cleanups.append(app.extensions["livery.engine"].dispose)
        return app

    yield factory
    for cleanup in reversed(cleanups):
        cleanup()


@pytest.fixture
def app(make_app):
    """SQLite + local folders."""
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


BACKENDS = [
    pytest.param(("sqlite", "local"), id="sqlite-local"),
    pytest.param(("sqlite", "s3"), id="sqlite-s3", marks=pytest.mark.s3),
    pytest.param(("postgres", "local"), id="postgres-local", marks=pytest.mark.postgres),
    pytest.param(("postgres", "s3"), id="postgres-s3", marks=[pytest.mark.postgres, pytest.mark.s3]),
]
DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend_app(request, make_app):
    """The app on each {database} x {object store} combination."""
    db, storage = request.param
    return make_app(db=db, storage=storage)


@pytest.fixture(params=DATABASES)
def db_app(request, make_app):
    """The app on each database (local folders)."""
    return make_app(db=request.param)
