"""A partner's licensing settings: read with defaults, change with audit, hand to the methods."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.audit.services import audited
from app.licensing.models import DEFAULT_LICENCE_TYPES, LicensingSettings
from app.outbound.signing import secret_hint

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
MAX_SECRETS = 2  # the new one and, during a rotation, the previous one
EDITABLE = (
    "licence_types",
    "lease_days",
    "grace_lease_hours",
    "grace_max_hours",
    "positive_cache_seconds",
    "negative_cache_seconds",
    "web_service_url_template",
    "proprietary_adapter",
    "proprietary_settings",
    "method_settings",
    "scim_customer_id",
)
DEFAULTS: dict[str, Any] = {
    "licence_types": DEFAULT_LICENCE_TYPES,
    "lease_days": 7,
    "grace_lease_hours": 24,
    "grace_max_hours": 72,
    "positive_cache_seconds": 900,
    "negative_cache_seconds": 60,
    "web_service_url_template": "",
    "web_service_secrets": [],
    "proprietary_adapter": "",
    "proprietary_settings": {},
    "method_settings": {},
    "scim_customer_id": None,
}


def settings_row(session: Session, partner_id: int, *, create: bool = False) -> LicensingSettings | None:
    """The partner's settings row (made with every default when ``create`` and absent)."""
    row = session.get(LicensingSettings, partner_id)
    if row is None and create:
        row = LicensingSettings(partner_id=partner_id, **{k: _copy(v) for k, v in DEFAULTS.items()})
        session.add(row)
        session.flush()
    return row


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value


def settings_values(row: LicensingSettings | None) -> dict[str, Any]:
    """Every setting, defaults filled in (secrets included: callers decide what to show)."""
    if row is None:
        return {k: _copy(v) for k, v in DEFAULTS.items()}
    return {name: _copy(getattr(row, name)) for name in DEFAULTS}


def licence_types_of(session: Session, partner_id: int) -> list[str]:
    """The partner's licence types, the default one first."""
    return settings_values(settings_row(session, partner_id))["licence_types"]


def settings_mapping(partner_id: int, values: Mapping[str, Any], *, egress_allow_private: bool) -> dict[str, Any]:
    """What a licensing method receives as ``settings`` (see app/licensing/registry.py)."""
    return {**values, "partner_id": partner_id, "egress_allow_private": egress_allow_private}


def redacted(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each secret reduced to its first characters (for audit and reads)."""
    out = dict(values)
    out["web_service_secrets"] = [secret_hint(secret) for secret in values["web_service_secrets"]]
    return out


def new_secret() -> str:
    """A fresh signing secret for the partner's web service (Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def update_settings(
    session: Session, partner_id: int, changes: Mapping[str, Any], *, rotate_secret: bool, drop_old: bool, actor: str
) -> tuple[LicensingSettings, str | None]:
    """Apply ``changes``; ``rotate_secret`` adds a new secret (kept with the previous one until
    ``drop_old``). Returns the row and the new secret, which is shown only now."""
    row = settings_row(session, partner_id, create=True)
    secret = None
    with audited(session, actor, "licensing_settings.update", row):  # secrets redacted by the snapshot
        for name in EDITABLE:
            if name in changes:
                setattr(row, name, _copy(changes[name]))
        if rotate_secret:
            secret = new_secret()
            row.web_service_secrets = [secret, *row.web_service_secrets][:MAX_SECRETS]
        if drop_old:
            row.web_service_secrets = list(row.web_service_secrets[:1])
    return row, secret
