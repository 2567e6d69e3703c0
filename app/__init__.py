"""Livery: the cloud side of a white-label CRM-integration desktop client."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from app import db
from app.body_timeout import BodyReadTimeout
from app.config import ConfigError, Settings
from app.problems import register_error_handlers
from app.storage import build_stores

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, bind: Engine | Connection | None = None) -> Flask:
    """The application factory: settings, database, storage, public answers, blueprints, error handlers.

    ``init_public`` also puts the public fast path (app/api/public/fast.py) in front of the app.

    ``bind`` replaces the engine built from the settings (tests pass a connection).
    """
    from app import observability

    settings = settings or Settings.from_env()
    observability.configure_logging(settings)
    app = Flask(__name__)
    app.config["LIVERY"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_installer_bytes + 1024 * 1024
    app.json.sort_keys = False

    db.use_clock_file(settings.clock_file)
    bind = bind if bind is not None else db.make_engine(settings.database_url, settings)
    db.init_app(app, bind)
    app.extensions["livery.stores"] = build_stores(settings)
    from app import throttling  # not at import: it loads metrics

    app.extensions["livery.throttle"] = throttling.FailureThrottle(
        settings.ratelimit_storage_url,
        {
            throttling.ADMIN_AUTH: settings.ratelimit_admin_auth,
            throttling.PUBLIC_NOT_FOUND: settings.ratelimit_public_not_found,
            throttling.PORTAL_LOGIN_ADDRESS: settings.ratelimit_portal_login_address,
            throttling.PORTAL_LOGIN_ACCOUNT: settings.ratelimit_portal_login_account,
        },
        settings.trusted_proxy_hops,
    )
    _init_public_answers(app, settings)
    _init_upgrades(app, settings)
    _init_licensing(app, settings)
    _init_upgrade_safety(app, settings)

    from app import cli, health
    from app.api.admin import init_admin
    from app.api.admin.fields import install_url_converters
    from app.api.public import init_public
    from app.api.scim import bp as scim_bp
    from app.api.viewer import init_viewer
    from app.portal import init_portal
    from app.publishing.wiring import init_app as init_static_publish

    # before the fast path wraps it (below Flask: GETs without a body never reach this)
    app.wsgi_app = BodyReadTimeout(app.wsgi_app, settings.body_read_timeout)
    install_url_converters(app)  # before any route is added
    app.register_blueprint(health.bp)
    init_public(app)
    app.register_blueprint(scim_bp)
    init_admin(app)
    init_viewer(app)
    init_portal(app)
    health.add_security_headers(app)
    register_error_handlers(app)
    cli.register(app)
    init_static_publish(app)
    _count_database_errors()
    observability.install(app, settings)  # last: it wraps every other middleware
    return app


def _count_database_errors() -> None:
    # every engine, whatever builds it: a failed statement or connection is a database error
    if not event.contains(Engine, "handle_error", _database_error):
        event.listen(Engine, "handle_error", _database_error)


def _database_error(context) -> None:
    from app.metrics import count_dependency_error

    # unreachable, timed out, locked, disconnected; not a constraint a request broke (IntegrityError)
    if context.is_disconnect or isinstance(context.sqlalchemy_exception, (OperationalError, InterfaceError)):
        count_dependency_error("database")


def _init_public_answers(app: Flask, settings: Settings) -> None:
    from app.api.public.cache import PublicAnswers
    from app.freshness.services import PENDING_KEY

    make_session = app.extensions["livery.sessionmaker"]
    answers = PublicAnswers(
        make_session,
        base_url=settings.public_base_url,
        standard_viewer_url=settings.default_viewer_url,
        interval=settings.freshness_interval,
        health=app.extensions["livery.db_health"],
        retention_hours=settings.change_retention_hours,
        miss_poll_interval=settings.miss_poll_interval,
        miss_poll_timeout=settings.miss_poll_timeout,
    )
    app.extensions["livery.public"] = answers

    # Changes committed by this process take effect here at once; other processes see them
    # through the change log within one freshness interval.
    @event.listens_for(make_session, "after_commit")
    def _apply(session):
        changes = session.info.pop(PENDING_KEY, [])
        if changes:
            try:
                answers.apply(changes, committed_here=True)
            except Exception:
                # the write is committed: never answer it with a 500 (a retry could repeat it);
                # the change log brings this worker up to date at its next poll
                log.exception("applying committed changes failed; the next freshness poll catches up")

    @event.listens_for(make_session, "after_soft_rollback")
    def _forget(session, _transaction):
        if not session.in_transaction():
            session.info.pop(PENDING_KEY, None)


def _init_upgrades(app: Flask, settings: Settings) -> None:
    from app.api.public.upgrade_cache import UpgradeAnswers
    from app.upgrades.signing import KeyConfigError, ensure_dev_keys, load_key_ring

    try:
        if not settings.signing_keys_required:
            ensure_dev_keys(settings.signing_keys_dir)  # only writes into an empty directory
        ring = load_key_ring(settings.signing_keys_dir, settings.signing_active_key or None)
    except (KeyConfigError, OSError) as exc:
        raise ConfigError(f"LIVERY_SIGNING_KEYS_DIR / LIVERY_SIGNING_ACTIVE_KEY: {exc}") from exc
    app.extensions["livery.upgrades"] = UpgradeAnswers.attach(app, ring)


def _init_licensing(app: Flask, settings: Settings) -> None:
    from app.licensing.check import LicenceChecks
    from app.licensing.proprietary import ProprietaryMethod
    from app.licensing.webservice import build_web_service_method

    checks = LicenceChecks(
        app.extensions["livery.sessionmaker"],
        app.extensions["livery.upgrades"].ring,
        egress_allow_private=settings.egress_allow_private,
        usage_flush_seconds=settings.licensing_usage_flush_seconds,
        method_factories={
            "web_service": lambda: build_web_service_method(settings),
            "proprietary": lambda: ProprietaryMethod(settings),
        },
    )
    app.extensions["livery.public"].listeners.append(checks.forget)
    app.extensions["livery.licensing"] = checks


def _init_upgrade_safety(app: Flask, settings: Settings) -> None:
    from app.db import utcnow
    from app.upgrades.reports import ReportRecorder

    app.extensions["livery.reports"] = ReportRecorder(
        app.extensions["livery.sessionmaker"],
        flush_seconds=settings.upgrade_reports_flush_seconds,
        max_pending=settings.upgrade_reports_max_pending,
        per_install_hour=settings.upgrade_reports_per_install_hour,
        wall_clock=utcnow,
    )
