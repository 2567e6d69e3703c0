"""``flask demo seed``: a demo partner with a published CI-C brand and two well-known access codes."""

from __future__ import annotations

import base64
import hashlib

import click
from sqlalchemy import select

from app.branding import codes
from app.branding.document import branded_viewer_url
from app.branding.models import AccessCode, Brand
from app.branding.services import create_brand, issue_code, publish_draft, update_draft
from app.cli import CLI_ACTOR, _add_asset, _commit, _discovery_url, _emit, _ProblemsAsClickErrors, _settings
from app.config import REPO_ROOT
from app.db import session
from app.partners.models import Partner
from app.partners.services import create_partner, set_partner_status

DEMO_DIR = REPO_ROOT / "static_brands" / "demo"
demo_cli = _ProblemsAsClickErrors("demo", help="Demo data for a first look.")


def demo_code(kind: str) -> str:
    """The demo partner's fixed access code of ``kind``: the same on every machine, demo only."""
    seed = hashlib.sha256(f"livery-demo-{kind}".encode()).digest()
    data = "".join(codes.ALPHABET[b % 32] for b in seed[: codes.DATA_SYMBOLS])
    return data + codes.check_symbol(data)


DEMO_FIELDS = {
    "product_name": "Acme Connect CRM",
    "short_name": "Acme CRM",
    "publisher": "Acme Communications Ltd",
    "support_url": "https://support.acme-communications.example/crm",
    "eula_url": "https://acme-communications.example/legal/eula",
    "branding_level": "CI-C",
    "licensing_method": "portal",
    "upgrade_channel": "stable",
    "splash_seconds": 3,
    "viewer_name": "Acme CRM Viewer",
    "viewer_primary_color": "#0b5fff",
    "viewer_accent_color": "#ff7a00",
}
DEMO_IMAGES = {
    "tray_icon": "tray_icon.ico",
    "app_icon_windows": "app_icon.ico",
    "app_icon_macos": "app_icon.icns",
    "splash": "splash.png",
    "viewer_logo": "viewer_logo.png",
}


@demo_cli.command("seed")
@click.option("--json", "as_json", is_flag=True)
def demo_seed(as_json: bool) -> None:
    """Create (idempotently) a demo partner with a published CI-C brand and two access codes.

    The demo partner is put live directly (demo only, past the go-live readiness gate), so that
    ``make run`` answers its live code at once.
    """
    db = session()
    partner = db.scalar(select(Partner).where(Partner.slug == "demo"))
    if partner is None:
        partner = create_partner(db, slug="demo", name="Acme Communications (demo)", actor=CLI_ACTOR)
    if partner.status != "live":
        set_partner_status(db, partner, "live", actor=CLI_ACTOR)
    fields = dict(DEMO_FIELDS)
    for role, filename in DEMO_IMAGES.items():
        asset, _ = _add_asset(partner, role, DEMO_DIR / filename)
        fields[role] = asset.sha256
    brand = db.scalar(select(Brand).where(Brand.partner_id == partner.id).order_by(Brand.id))
    if brand is None:
        brand = create_brand(db, partner, "Acme Connect", fields, actor=CLI_ACTOR)
    elif any(brand.draft.get(k) != v for k, v in fields.items()):
        update_draft(db, brand, fields, actor=CLI_ACTOR)
    revision, _ = publish_draft(db, brand, actor=CLI_ACTOR)
    licensed_user_id = _demo_licensed_user(db, partner.id)
    _demo_channel(db, partner)
    portal_users = _demo_portal_users(db, partner.id)
    plain_codes = {}
    for kind in ("live", "test"):
        plain = demo_code(kind)
        row = db.scalar(select(AccessCode).where(AccessCode.digest == codes.code_digest(plain)))
        if row is None:
            issue_code(db, brand, kind=kind, actor=CLI_ACTOR, label=f"demo {kind}", plain=plain)
        plain_codes[kind] = codes.format_code(plain)
    _commit()
    _emit(
        {
            "partner": partner.slug,
            "partner_id": partner.id,
            "brand_id": brand.id,
            "revision": revision.number,
            "live_code": plain_codes["live"],
            "test_code": plain_codes["test"],
            "discovery_url": _discovery_url(plain_codes["live"]),
            "test_discovery_url": _discovery_url(plain_codes["test"]),
            "viewer_url": branded_viewer_url(_settings().public_base_url, brand.slug),
            "licensed_user_id": licensed_user_id,
            "licence_check_url": f"{_settings().public_base_url.rstrip('/')}/v1/licenses/check",
            "portal_url": f"{_settings().public_base_url.rstrip('/')}/portal/",
            **portal_users,
        },
        as_json,
    )


DEMO_USER_ID = "demo.user@acme-communications.example"


def _demo_licensed_user(db, partner_id: int) -> str:
    """The demo partner's portal user (under a demo reseller and customer), made once."""
    from app.licensing.models import Customer, Reseller
    from app.licensing.services import add_user, create_org, find_user

    if find_user(db, partner_id, DEMO_USER_ID) is None:
        reseller = db.scalar(select(Reseller).where(Reseller.partner_id == partner_id).order_by(Reseller.id))
        if reseller is None:
            reseller = create_org(db, Reseller, partner_id, {"name": "Demo Reseller"}, actor=CLI_ACTOR)
        customer = db.scalar(select(Customer).where(Customer.partner_id == partner_id).order_by(Customer.id))
        if customer is None:
            fields = {"name": "Demo Customer", "reseller_id": reseller.id}
            customer = create_org(db, Customer, partner_id, fields, actor=CLI_ACTOR)
        add_user(db, partner_id, {"user_id": DEMO_USER_ID, "customer_id": customer.id}, actor=CLI_ACTOR)
    return DEMO_USER_ID


DEMO_RELEASE = "5.3.0"


def _demo_channel(db, partner: Partner) -> None:
    """A published demo release and the ``stable`` channel offering it to everyone, made once
    (so that the portal's channel page has something to halt on ``make run``)."""
    import io
    import json

    from flask import current_app

    from app.storage import SpooledUpload
    from app.upgrades.models import Release
    from app.upgrades.releases import create_release, store_installer, update_release
    from app.upgrades.services import find_channel, upload_control_file

    if find_channel(db, partner.id, "stable") is not None:
        return
    stores = current_app.extensions["livery.stores"]
    release = db.scalar(select(Release).where(Release.partner_id == partner.id, Release.version == DEMO_RELEASE))
    if release is None:
        release = create_release(db, partner, version=DEMO_RELEASE, platform="windows-x64", actor=CLI_ACTOR)
        upload = SpooledUpload.from_stream(io.BytesIO(b"MZ demo installer " * 64), max_bytes=1 << 20)
        try:
            store_installer(db, stores.installers, release, upload, actor=CLI_ACTOR)
        finally:
            upload.discard()
        update_release(db, release, {"status": "published"}, actor=CLI_ACTOR, store=stores.installers)
    document = {"schema_version": 1, "channel": "stable", "default_mode": "passive",
                "releases": [{"version": DEMO_RELEASE, "rollout_percent": 100}]}  # fmt: skip
    upload_control_file(db, stores, partner.id, "stable", json.dumps(document).encode(), actor=CLI_ACTOR)


DEMO_PORTAL_ADMIN = "admin@acme-communications.example"
DEMO_PORTAL_OPERATOR = "operator@livery.example"


def demo_secret(purpose: str, length: int = 20) -> str:
    """A fixed demo credential (the same on every machine, demo only, like the demo codes)."""
    return hashlib.sha256(f"livery-demo-{purpose}".encode()).hexdigest()[:length]


def demo_totp_secret() -> str:
    """The demo operator's fixed TOTP secret (base32)."""
    return base64.b32encode(hashlib.sha256(b"livery-demo-operator-totp").digest()[:20]).decode()


def _demo_portal_users(db, partner_id: int) -> dict[str, str]:
    """The demo partner's portal admin and an operator with TOTP, made once; their credentials."""
    from app.portal import accounts

    admin_password, operator_password = demo_secret("portal-admin"), demo_secret("portal-operator")
    if accounts.find_user(db, DEMO_PORTAL_ADMIN) is None:
        accounts.create_user(
            db, email=DEMO_PORTAL_ADMIN, password=admin_password, role="admin", actor=CLI_ACTOR, partner_id=partner_id
        )
    if accounts.find_user(db, DEMO_PORTAL_OPERATOR) is None:
        user = accounts.create_user(
            db, email=DEMO_PORTAL_OPERATOR, password=operator_password, role="operator", actor=CLI_ACTOR
        )
        accounts.set_totp(db, user, demo_totp_secret(), actor=CLI_ACTOR)
    return {
        "portal_admin_email": DEMO_PORTAL_ADMIN,
        "portal_admin_password": admin_password,
        "portal_operator_email": DEMO_PORTAL_OPERATOR,
        "portal_operator_password": operator_password,
        "portal_operator_totp_secret": demo_totp_secret(),
    }
