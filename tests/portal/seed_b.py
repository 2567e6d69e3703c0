"""Part B's test data and page helpers: a partner's release and channel, licensing organisations and a user,
made through the same services the portal calls (ids per partner, seeded once per app)."""

from __future__ import annotations

import io
import json

from flask import Flask

from app.db import session, utcnow
from app.licensing.models import Customer, Reseller
from app.licensing.services import add_user, create_org
from app.partners.models import Partner
from app.storage import SpooledUpload
from app.upgrades.approvals import activation_digest, keep_document, request_approval, set_two_person
from app.upgrades.models import Channel
from app.upgrades.plans import cancel_plan, start_plan
from app.upgrades.releases import create_release, store_installer, update_release
from app.upgrades.services import upload_control_file
from tests import factories


def seed_catalogue(app: Flask, partner_id: int, version: str = "5.3.0") -> dict[str, int]:
    """A published release (windows-x64) and channel ``stable`` offering it to everyone."""
    with app.app_context():
        stores = app.extensions["livery.stores"]
        partner = session().get(Partner, partner_id)
        release = create_release(session(), partner, version=version, platform="windows-x64", actor=factories.ACTOR)
        upload = SpooledUpload.from_stream(io.BytesIO(b"MZ" + version.encode() * 100), max_bytes=1 << 20)
        store_installer(session(), stores.installers, release, upload, actor=factories.ACTOR)
        upload.discard()
        update_release(session(), release, {"status": "published"}, actor=factories.ACTOR, store=stores.installers)
        document = {
            "schema_version": 1,
            "channel": "stable",
            "default_mode": "passive",
            "releases": [{"version": version, "rollout_percent": 100}],
        }
        row = upload_control_file(
            session(), stores, partner_id, "stable", json.dumps(document).encode(), actor=factories.ACTOR
        )
        session().commit()
        return {"release_id": release.id, "channel_id": row.channel_id}


def seed_licensing(app: Flask, partner_id: int, user_id: str = "anna@example.com") -> dict[str, int]:
    """A reseller, an end customer under it, and one licensed user of that customer."""
    with app.app_context():
        reseller = create_org(session(), Reseller, partner_id, {"name": "Resell Co"}, actor=factories.ACTOR)
        session().flush()
        customer = create_org(
            session(), Customer, partner_id, {"name": "Customer Co", "reseller_id": reseller.id}, actor=factories.ACTOR
        )
        session().flush()
        user = add_user(session(), partner_id, {"user_id": user_id, "customer_id": customer.id}, actor=factories.ACTOR)
        session().commit()
        return {"reseller_id": reseller.id, "customer_id": customer.id, "licensed_user_id": user.id}


def seed_team(app: Flask, partner_id: int) -> dict[str, int]:
    """A viewer portal user and an API key of the partner."""
    from app.partners.services import create_api_key
    from tests.portal.helpers import make_user

    with app.app_context():
        partner = session().get(Partner, partner_id)
        key, _plain = create_api_key(session(), role="viewer", actor=factories.ACTOR, partner=partner, label="ci")
        session().commit()
        key_id = key.id
    user = make_user(app, f"member-{partner_id}-{key_id}@team.example", "viewer", partner_id)
    return {"portal_user_id": user.id, "key_id": key_id}


def seed_rollout(app: Flask, channel_id: int) -> dict[str, int]:
    """A cancelled rollout plan and a pending activation approval on the channel (ids for the route walks),
    asked while two-person activation was on; it is off again afterwards."""
    with app.app_context():
        stores = app.extensions["livery.stores"]
        channel = session().get(Channel, channel_id)
        plan = start_plan(session(), stores, channel, "5.3.0", [{"percent": 100}], actor=factories.ACTOR, now=utcnow())
        cancel_plan(session(), plan, actor=factories.ACTOR, now=utcnow())
        raw = json.dumps({"schema_version": 1, "channel": channel.name, "default_mode": "dynamic", "releases": []})
        digest = activation_digest(channel, raw.encode())
        keep_document(stores, digest, raw.encode())
        # asked while two-person activation was on; the partner then turned it off again (as it was)
        set_two_person(session(), channel.partner_id, True, actor=factories.ACTOR)
        approval = request_approval(session(), channel, "activate", digest, actor=factories.ACTOR)
        set_two_person(session(), channel.partner_id, False, actor=factories.ACTOR)
        session().commit()
        return {"plan_id": plan.id, "approval_id": approval.id}


def part_b_ids(app: Flask, partner_id: int) -> dict[str, int]:
    """Every route parameter of part B's screens for ``partner_id`` (seeded on first use)."""
    cache = app.extensions.setdefault("tests.portal_b_ids", {})
    if partner_id not in cache:
        catalogue = seed_catalogue(app, partner_id)
        cache[partner_id] = {
            **catalogue,
            **seed_rollout(app, catalogue["channel_id"]),
            **seed_licensing(app, partner_id),
            **seed_team(app, partner_id),
            "partner_id": partner_id,
        }
    return cache[partner_id]


def etag_field(page: str) -> str:
    """The hidden ``etag`` input of the first form on a page that carries one (the admin API's If-Match)."""
    import html
    import re

    return html.unescape(re.search(r'name="etag" value="([^"]+)"', page).group(1))
