"""Seeding a benchmark database: partners, brands and assets through the services, codes in bulk.

Partners, images, brands and their published revisions go through the same services the admin
API uses (so the documents are exactly what production renders). Access codes are what
``issue_code`` would store — digest, prefix, kind — but inserted with one executemany per chunk,
because 100 000 audited single inserts would take the whole time budget. Codes are drawn from a
seeded generator, so every run (and every database) gets the same codes.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import insert

from app.branding import codes
from app.branding import services as branding
from app.branding.models import AccessCode
from app.db import session, utcnow
from app.licensing.webservice.services import record_verification
from app.partners import services as partners
from app.partners.models import Partner
from app.upgrades import releases as upgrade_releases
from app.upgrades import services as upgrades

ACTOR = "bench:seed"
DEMO_IMAGES = Path(__file__).resolve().parent.parent / "static_brands" / "demo"
IMAGES = {
    "tray_icon": "tray_icon.ico",
    "app_icon_windows": "app_icon.ico",
    "app_icon_macos": "app_icon.icns",
    "splash": "splash.png",
    "viewer_logo": "viewer_logo.png",
}
TEST_SHARE = 10  # one code in ten is a test code (sees the draft)
CHUNK = 5000
# every partner's "stable" and "beta" channels: one release to everyone, a newer one to a fifth,
# so the upgrade-poll rows measure real decisions (clients poll from 1.x: both are newer)
RELEASES = (("2.0.0", 100), ("2.1.0", 20))
RELEASE_PLATFORMS = ("windows-x64", "macos-arm64", "macos-x64")
CHANNELS = ("stable", "beta")


@dataclass(frozen=True)
class SeededCode:
    plain: str
    digest: str
    kind: str
    brand_id: int


SEEDED_VERIFICATION = {
    "passed": True,
    "checks": [{"name": "seeded", "passed": True, "detail": "benchmark data: no web service", "latencies_ms": []}],
}


def _code(rng: random.Random) -> str:
    data = "".join(rng.choice(codes.ALPHABET) for _ in range(codes.DATA_SYMBOLS))
    return data + codes.check_symbol(data)


def _brand_fields(p: int, b: int, shas: dict[str, str]) -> dict:
    level = "CI-C" if (p + b) % 2 == 0 else "CI-B"
    fields = {
        "product_name": f"Partner {p} Connect {b}",
        "short_name": f"P{p}C{b}",
        "publisher": f"Partner {p} Communications Ltd",
        "support_url": f"https://support.partner{p}.example/crm/{b}",
        "eula_url": f"https://partner{p}.example/legal/eula",
        "branding_level": level,
        "licensing_method": ("portal", "web_service", "proprietary")[b % 3],
        "upgrade_channel": "stable" if b % 4 else "beta",
        "splash_seconds": 1 + b % 5,
        **{role: sha for role, sha in shas.items() if role != "viewer_logo"},
    }
    if level == "CI-C":
        fields |= {
            "viewer_name": f"Partner {p} Viewer",
            "viewer_logo": shas["viewer_logo"],
            "viewer_primary_color": f"#{(p * 7919) % 0xFFFFFF:06x}",
            "viewer_accent_color": "#ff7a00",
        }
    return fields


def seed(app: Flask, *, partners_n: int, brands_per_partner: int, codes_per_brand: int) -> list[SeededCode]:
    """Fill an empty, migrated database; returns every access code issued (plain and digest)."""
    rng = random.Random(20261129)
    images = {role: (DEMO_IMAGES / name).read_bytes() for role, name in IMAGES.items()}
    store = app.extensions["livery.stores"].assets
    max_bytes = app.config["LIVERY"].max_asset_bytes
    seeded: list[SeededCode] = []
    with app.app_context():
        db = session()
        brand_ids: list[tuple[int, int]] = []
        for p in range(partners_n):
            partner = partners.create_partner(db, slug=f"partner-{p:04d}", name=f"Partner {p}", actor=ACTOR)
            partners.set_partner_status(db, partner, "live", actor=ACTOR)
            # a third of the brands use the web-service method, which goes live only once verified
            record_verification(db, partner.id, SEEDED_VERIFICATION, actor=ACTOR)
            shas = {}
            for role, data in images.items():
                asset, _ = branding.add_asset(
                    db, store, partner, role, data, actor=ACTOR, filename=IMAGES[role], max_bytes=max_bytes
                )
                shas[role] = asset.sha256
            _seed_upgrades(db, app, partner)
            for b in range(brands_per_partner):
                brand = branding.create_brand(db, partner, f"Brand {p}-{b}", _brand_fields(p, b, shas), actor=ACTOR)
                branding.publish_draft(db, brand, actor=ACTOR)
                brand_ids.append((partner.id, brand.id))
            db.commit()
        rows = []
        for partner_id, brand_id in brand_ids:
            for i in range(codes_per_brand):
                plain = _code(rng)
                kind = "test" if i % TEST_SHARE == TEST_SHARE - 1 else "live"
                digest = codes.code_digest(plain)
                seeded.append(SeededCode(plain, digest, kind, brand_id))
                rows.append(_row(partner_id, brand_id, plain, digest, kind))
        for start in range(0, len(rows), CHUNK):
            db.execute(insert(AccessCode), rows[start : start + CHUNK])
        db.commit()
        assert db.query(Partner).count() == partners_n
    return seeded


def _seed_upgrades(db, app: Flask, partner) -> None:
    """External (partner-hosted) releases, published, and an active control file on each channel."""
    stores = app.extensions["livery.stores"]
    for version, _share in RELEASES:
        for platform in RELEASE_PLATFORMS:
            release = upgrade_releases.create_release(
                db,
                partner,
                version=version,
                platform=platform,
                actor=ACTOR,
                release_notes_url=f"https://{partner.slug}.example/notes/{version}",
                external_url=f"https://downloads.{partner.slug}.example/{version}/{platform}/setup.bin",
                sha256=hashlib.sha256(f"{partner.slug}/{version}/{platform}".encode()).hexdigest(),
                size=50_000_000,
            )
            upgrade_releases.update_release(db, release, {"status": "published"}, actor=ACTOR, store=stores.installers)
    for channel in CHANNELS:
        document = {
            "schema_version": 1,
            "channel": channel,
            "default_mode": "passive",
            "releases": [{"version": v, "rollout_percent": share} for v, share in RELEASES],
        }
        upgrades.upload_control_file(db, stores, partner.id, channel, json.dumps(document).encode(), actor=ACTOR)


def _row(partner_id: int, brand_id: int, plain: str, digest: str, kind: str) -> dict:
    return {
        "partner_id": partner_id,
        "brand_id": brand_id,
        "digest": digest,
        "prefix": codes.code_prefix(plain),
        "kind": kind,
        "label": "bench",
        "status": "active",
        "channel": None,
        "expires_at": None,
        "version": 1,
        "created_at": utcnow(),
    }


def unknown_codes(n: int) -> list[str]:
    """Well-formed codes (valid check symbol) that no database holds."""
    rng = random.Random(404)
    return [_code(rng) for _ in range(n)]
