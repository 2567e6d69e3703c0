"""Livery's settings: one object, read from ``LIVERY_*`` environment variables.

Every setting has an embedded default that runs the service on one machine (SQLite file and
local folders); nothing outside this module reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is missing or malformed; raised at start-up, never later."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _rate_limit(name: str, text: str) -> None:
    if not text:
        return
    from limits import parse  # the throttling library's own syntax, e.g. "60 per 10 minutes"

    try:
        parse(text)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like '60 per 10 minutes' or empty, got {text!r}") from None


BOUNDED_WAITS = (
    "db_connect_timeout",
    "db_statement_timeout",
    "db_pool_timeout",
    "db_retry_max",
    "s3_connect_timeout",
    "s3_read_timeout",
    "readiness_timeout",
)


@dataclass(frozen=True)
class Settings:
    """All configuration of one Livery process. Field ``x`` is read from ``LIVERY_X``."""

    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'livery.db'}"
    public_base_url: str = "http://127.0.0.1:8000"
    storage_backend: str = "local"  # local | s3
    static_brands_dir: str = str(REPO_ROOT / "static_brands")
    control_files_dir: str = str(REPO_ROOT / "control_files")
    installers_dir: str = str(REPO_ROOT / "var" / "installers")
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_presign_seconds: int = 300
    standard_viewer_url: str = ""  # "": this service's own standard viewer, {public_base_url}/viewer
    max_asset_bytes: int = 5 * 1024 * 1024
    max_installer_bytes: int = 2 * 1024 * 1024 * 1024
    discovery_max_age: int = 0
    discovery_shared_max_age: int = 1
    freshness_interval: float = 1.0
    miss_poll_interval: float = 0.02
    miss_poll_timeout: float = 0.25
    signing_keys_dir: str = str(REPO_ROOT / "var" / "signing-keys")
    signing_active_key: str = ""
    signing_keys_required: bool = False
    static_publish_root: str = ""  # "" (off) | absolute folder | s3://bucket[/prefix]; docs/deployment.md
    licensing_usage_flush_seconds: float = 10.0  # the most counters a killed worker loses (usage.py)
    licensing_warm_seconds: float = 10.0  # a starting worker loads licensed users for up to this long
    billing_reconcile_percent: float = 2.0
    billing_reconcile_min_users: int = 5
    billing_max_usage_report_bytes: int = 50 * 1024 * 1024
    billing_close_budget_seconds: float = 15.0  # POST .../close of every partner stops starting partners after this
    log_level: str = "WARNING"
    body_read_timeout: float = 10.0  # seconds without a byte of a request body -> 408
    ratelimit_storage_url: str = ""  # "" (this process's memory) | redis://host:port/db
    ratelimit_admin_auth: str = "60 per 10 minutes"  # failed admin authentications per address; "" off
    ratelimit_public_not_found: str = "600 per 10 minutes"  # unknown-code answers per address; "" off
    ratelimit_portal_login_address: str = "30 per 10 minutes"  # failed portal sign-ins per address; "" off
    ratelimit_portal_login_account: str = "10 per 10 minutes"  # failed portal sign-ins per account; "" off
    trusted_proxy_hops: int = 0  # X-Forwarded-For entries added by proxies you run; 0: the peer's address
    # Bounded waits on dependencies (docs/deployment.md): every one well below gunicorn's 30 s timeout
    db_connect_timeout: int = 3  # seconds to open a database connection (libpq connect_timeout)
    db_statement_timeout: float = 5.0  # seconds per statement: server-side limit, client-side deadline
    db_pool_timeout: float = 2.0  # seconds to wait for a free pooled connection
    db_pool_recycle: int = 1800  # seconds after which a pooled connection is replaced
    db_retry_max: float = 10.0  # longest pause between reconnect attempts while the database is down
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 5.0
    s3_max_attempts: int = 2  # attempts per object-store call, the first included
    readiness_timeout: float = 5.0  # seconds /readyz waits for its probes (run in parallel)
    change_retention_hours: int = 168  # change events older than this are pruned (docs/operations.md)
    log_format: str = "text"  # text | json: one JSON object per line
    request_log: bool = True  # one line per request (logger livery.requests, level INFO)
    request_log_sample: int = 1  # 1: every request; N: 1 in N successful fast-path answers (errors: all)
    metrics_token: str = ""  # "" : GET /metrics answers 404; else it needs "Authorization: Bearer <token>"
    metrics_dir: str = ""  # gunicorn's shared folder of every worker's metrics ("" : a fresh temporary folder)
    # the web portal /portal/ (docs/portal.md)
    portal_idle_minutes: int = 30  # a session ends after this long without a request
    portal_absolute_hours: int = 12  # ... and this long after sign-in, whatever happens
    portal_invitation_hours: int = 72  # how long an invitation link works (once)
    portal_session_retention_days: int = 30  # ended sessions are deleted after this long
    # outbound calls (partner web services, JWKS): app/outbound/, docs/licensing-webservice.md
    egress_allow_private: bool = False
    licensing_connect_timeout: float = 1.0
    licensing_timeout: float = 2.0
    licensing_cache_entries: int = 1_000_000  # ~32 bytes each (webservice/memory.py)
    licensing_breaker_failures: int = 5
    licensing_breaker_cooldown: float = 30.0
    # install reports and upgrade safety (docs/upgrades.md)
    upgrade_reports_flush_seconds: float = 0.5  # 0: each report written before its 202
    upgrade_reports_max_pending: int = 5000  # reports a worker holds unwritten at most
    upgrade_reports_per_install_hour: int = 20  # distinct reports one install may send a worker per hour
    upgrade_report_retention_days: int = 90  # install reports (pseudonymous install ids) are pruned after this
    scheduler_seconds: float = 5.0  # each gunicorn worker runs due plan steps and webhook deliveries this often; 0 off
    webhook_timeout: float = 5.0  # seconds in all for one webhook delivery attempt
    clock_file: str = ""  # walk-throughs and demos only: a file naming the time Livery runs at (app.db.utcnow)

    @property
    def default_viewer_url(self) -> str:
        """The standard CRM viewer's URL until an operator sets one (admin /settings)."""
        return self.standard_viewer_url or f"{self.public_base_url.rstrip('/')}/viewer"

    @property
    def portal_plain_http(self) -> bool:
        """Whether the portal cookie drops ``__Host-`` and ``Secure``: only for http:// on loopback (``make run``)."""
        parts = urlsplit(self.public_base_url)
        return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``LIVERY_*`` variables, failing fast on a bad value."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f"LIVERY_{f.name.upper()}"
            if name not in environ:
                continue
            raw = environ[name]
            if f.type == "bool":
                values[f.name] = _bool(name, raw)
            elif f.type == "int":
                values[f.name] = _int(name, raw)
            elif f.type == "float":
                values[f.name] = _float(name, raw)
            else:
                values[f.name] = raw
        return cls(**values).validated()

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with some settings replaced (tests and CLI use this)."""
        return replace(self, **overrides).validated()

    def validated(self) -> Settings:
        """Check combinations of settings; raise ConfigError on the first problem."""
        if self.storage_backend not in {"local", "s3"}:
            raise ConfigError("LIVERY_STORAGE_BACKEND must be 'local' or 's3'")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ConfigError("LIVERY_S3_BUCKET is required when LIVERY_STORAGE_BACKEND=s3")
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ConfigError("LIVERY_PUBLIC_BASE_URL must be an http(s) URL")
        if self.freshness_interval <= 0 or self.freshness_interval > 2:
            raise ConfigError("LIVERY_FRESHNESS_INTERVAL must be in (0, 2] seconds")
        for name in (
            "ratelimit_admin_auth",
            "ratelimit_public_not_found",
            "ratelimit_portal_login_address",
            "ratelimit_portal_login_account",
        ):
            _rate_limit(f"LIVERY_{name.upper()}", getattr(self, name))
        url = self.ratelimit_storage_url
        if url and not url.startswith(("memory://", "redis://", "rediss://")):
            raise ConfigError("LIVERY_RATELIMIT_STORAGE_URL must be empty, memory:// or a redis:// URL")
        if self.trusted_proxy_hops < 0:
            raise ConfigError("LIVERY_TRUSTED_PROXY_HOPS must be 0 or more")
        if not 0 <= self.miss_poll_interval <= self.freshness_interval:
            raise ConfigError("LIVERY_MISS_POLL_INTERVAL must be in [0, LIVERY_FRESHNESS_INTERVAL] seconds")
        if not 0 < self.miss_poll_timeout <= 5:
            raise ConfigError("LIVERY_MISS_POLL_TIMEOUT must be in (0, 5] seconds")
        if not 0 < self.licensing_usage_flush_seconds <= 3600:
            raise ConfigError("LIVERY_LICENSING_USAGE_FLUSH_SECONDS must be in (0, 3600] seconds")
        if not 0 <= self.licensing_warm_seconds <= 25:
            raise ConfigError("LIVERY_LICENSING_WARM_SECONDS must be in [0, 25] (gunicorn's worker timeout is 30 s)")
        for name in BOUNDED_WAITS:
            if not 0 < getattr(self, name) <= 20:
                raise ConfigError(f"LIVERY_{name.upper()} must be in (0, 20] seconds (the worker timeout is 30 s)")
        if not 1 <= self.s3_max_attempts <= 5:
            raise ConfigError("LIVERY_S3_MAX_ATTEMPTS must be 1 to 5")
        if self.change_retention_hours < 1:
            raise ConfigError("LIVERY_CHANGE_RETENTION_HOURS must be at least 1 (workers read events up to 30 s late)")
        if not 1 <= self.request_log_sample <= 1_000_000:
            raise ConfigError("LIVERY_REQUEST_LOG_SAMPLE must be 1 (every request) to 1000000")
        if self.log_format not in {"text", "json"}:
            raise ConfigError("LIVERY_LOG_FORMAT must be 'text' or 'json'")
        if self.metrics_dir and not os.path.isabs(self.metrics_dir):
            raise ConfigError("LIVERY_METRICS_DIR must be an absolute folder path")
        if not 0 < self.licensing_connect_timeout <= self.licensing_timeout <= 10:
            raise ConfigError("LIVERY_LICENSING_CONNECT_TIMEOUT <= LIVERY_LICENSING_TIMEOUT must both be in (0, 10] s")
        if self.licensing_cache_entries < 1 or self.licensing_breaker_failures < 1:
            raise ConfigError("LIVERY_LICENSING_CACHE_ENTRIES and LIVERY_LICENSING_BREAKER_FAILURES must be >= 1")
        if not 0 < self.licensing_breaker_cooldown <= 3600:
            raise ConfigError("LIVERY_LICENSING_BREAKER_COOLDOWN must be in (0, 3600] seconds")
        if not 0 <= self.billing_reconcile_percent <= 100 or self.billing_reconcile_min_users < 0:
            raise ConfigError("LIVERY_BILLING_RECONCILE_PERCENT must be in [0, 100] and _MIN_USERS >= 0")
        if self.billing_max_usage_report_bytes < 1024:
            raise ConfigError("LIVERY_BILLING_MAX_USAGE_REPORT_BYTES must be at least 1024")
        if not 0 <= self.upgrade_reports_flush_seconds <= 5:
            raise ConfigError("LIVERY_UPGRADE_REPORTS_FLUSH_SECONDS must be in [0, 5] seconds (what SIGKILL may lose)")
        if not 10 <= self.upgrade_reports_max_pending <= 1_000_000:
            raise ConfigError("LIVERY_UPGRADE_REPORTS_MAX_PENDING must be 10 to 1000000")
        if not 1 <= self.upgrade_reports_per_install_hour <= 10_000:
            raise ConfigError("LIVERY_UPGRADE_REPORTS_PER_INSTALL_HOUR must be 1 to 10000")
        if not 1 <= self.upgrade_report_retention_days <= 3650:
            raise ConfigError("LIVERY_UPGRADE_REPORT_RETENTION_DAYS must be 1 to 3650")
        if not 0 <= self.scheduler_seconds <= 3600:
            raise ConfigError("LIVERY_SCHEDULER_SECONDS must be in [0, 3600] (0: no scheduler in the workers)")
        if not 0 < self.webhook_timeout <= 20:
            raise ConfigError("LIVERY_WEBHOOK_TIMEOUT must be in (0, 20] seconds (it runs off request threads)")
        if self.clock_file and not os.path.isabs(self.clock_file):
            raise ConfigError("LIVERY_CLOCK_FILE must be an absolute file path (walk-throughs and demos only)")
        if not 1 <= self.portal_idle_minutes <= 24 * 60 or not 1 <= self.portal_absolute_hours <= 24 * 30:
            raise ConfigError("LIVERY_PORTAL_IDLE_MINUTES must be 1 to 1440 and LIVERY_PORTAL_ABSOLUTE_HOURS 1 to 720")
        if self.portal_idle_minutes > self.portal_absolute_hours * 60:
            raise ConfigError("LIVERY_PORTAL_IDLE_MINUTES must not exceed LIVERY_PORTAL_ABSOLUTE_HOURS")
        if not 1 <= self.portal_invitation_hours <= 24 * 30 or not 1 <= self.portal_session_retention_days <= 3650:
            raise ConfigError("LIVERY_PORTAL_INVITATION_HOURS must be 1 to 720, _SESSION_RETENTION_DAYS 1 to 3650")
        if not 0 < self.billing_close_budget_seconds <= 20:
            raise ConfigError("LIVERY_BILLING_CLOSE_BUDGET_SECONDS must be in (0, 20] (below the 30 s worker timeout)")
        root = self.static_publish_root
        if root and not (root.startswith("s3://") and root[5:].split("/")[0]) and not os.path.isabs(root):
            raise ConfigError("LIVERY_STATIC_PUBLISH_ROOT must be an absolute folder path or s3://bucket/prefix")
        return self
