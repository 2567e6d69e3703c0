"""Test data built through the same services the application uses (never raw SQL)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from app.branding import services as branding
from app.branding.models import Brand
from app.db import session
from app.partners import services as partners
from tests import images

ACTOR = "test"


@dataclass
class Seeded:
    partner_id: int
    brand_id: int
    live_code: str
    test_code: str


def make_partner(app: Flask, slug: str = "acme", status: str = "live") -> int:
    """A partner in ``status``; returns its id."""
    with app.app_context():
        partner = partners.create_partner(session(), slug=slug, name=slug.title(), actor=ACTOR)
        if status != "onboarding":
            partners.set_partner_status(session(), partner, status, actor=ACTOR)
        session().commit()
        return partner.id


def make_live(app: Flask, partner_id: int) -> None:
    """Put a partner live through the lifecycle service, past the go-live readiness gate of the API and
    CLI (tests of other features need live partners without a whole onboarding; tests/onboarding tests the gate)."""
    from app.partners.models import Partner

    with app.app_context():
        partners.set_partner_status(session(), session().get(Partner, partner_id), "live", actor=ACTOR)
        session().commit()


def upload(app: Flask, partner_id: int, role: str, data: bytes, filename: str = "") -> str:
    """Upload an image for ``role``; returns its sha256."""
    from app.partners.models import Partner

    with app.app_context():
        partner = session().get(Partner, partner_id)
        asset, _ = branding.add_asset(
            session(),
            app.extensions["livery.stores"].assets,
            partner,
            role,
            data,
            actor=ACTOR,
            filename=filename,
            max_bytes=app.config["LIVERY"].max_asset_bytes,
        )
        session().commit()
        return asset.sha256


def make_brand(app: Flask, partner_id: int, *, publish: bool = True, **fields) -> int:
    """A brand with the given draft fields (published unless told otherwise); returns its id."""
    from app.partners.models import Partner

    with app.app_context():
        partner = session().get(Partner, partner_id)
        brand = branding.create_brand(session(), partner, "Test brand", fields, actor=ACTOR)
        if publish:
            branding.publish_draft(session(), brand, actor=ACTOR)
        session().commit()
        return brand.id


def edit(app: Flask, brand_id: int, **fields) -> None:
    """Change draft fields."""
    with app.app_context():
        branding.update_draft(session(), session().get(Brand, brand_id), fields, actor=ACTOR)
        session().commit()


def publish(app: Flask, brand_id: int) -> tuple[int, bool]:
    """Publish the draft; returns (revision number, created)."""
    with app.app_context():
        revision, created = branding.publish_draft(session(), session().get(Brand, brand_id), actor=ACTOR)
        session().commit()
        return revision.number, created


def issue(app: Flask, brand_id: int, kind: str = "live", **kw) -> str:
    """A new access code; returns it as shown to people."""
    with app.app_context():
        _code, plain = branding.issue_code(session(), session().get(Brand, brand_id), kind=kind, actor=ACTOR, **kw)
        session().commit()
        return plain


def revoke(app: Flask, plain: str) -> None:
    with app.app_context():
        branding.revoke_code(session(), branding.find_code(session(), plain), actor=ACTOR)
        session().commit()


def set_status(app: Flask, partner_id: int, status: str) -> None:
    from app.partners.models import Partner

    with app.app_context():
        partners.set_partner_status(session(), session().get(Partner, partner_id), status, actor=ACTOR)
        session().commit()


def seed_ci_c(app: Flask, slug: str = "acme") -> Seeded:
    """A live partner with a published CI-C brand using real images, and a live and a test code."""
    partner_id = make_partner(app, slug)
    fields = {
        "product_name": "Acme Connect",
        "short_name": "Acme",
        "publisher": "Acme Ltd",
        "branding_level": "CI-C",
        "tray_icon": upload(app, partner_id, "tray_icon", images.ico(32), "tray.ico"),
        "app_icon_windows": upload(app, partner_id, "app_icon_windows", images.ico(256), "app.ico"),
        "app_icon_macos": upload(app, partner_id, "app_icon_macos", images.icns(), "app.icns"),
        "splash": upload(app, partner_id, "splash", images.png(640, 360), "splash.png"),
        "viewer_logo": upload(app, partner_id, "viewer_logo", images.png(200, 60), "logo.png"),
        "viewer_name": "Acme Viewer",
        "viewer_primary_color": "#112233",
    }
    brand_id = make_brand(app, partner_id, **fields)
    return Seeded(partner_id, brand_id, issue(app, brand_id, "live"), issue(app, brand_id, "test"))
