"""The portal home: per partner, what needs attention and this month's licence count."""

from __future__ import annotations

from datetime import timedelta

from flask import url_for
from sqlalchemy import select

from app.billing.reports import counted_users
from app.branding.models import AccessCode, Brand, BrandRevision
from app.branding.services import content_sha256
from app.db import session
from app.partners.models import Partner
from app.portal.pages import Crumb, render_page
from app.portal.web import ALL_ROLES, bp, now, portal_actor, portal_view
from app.upgrades.guard import GUARD_ACTOR
from app.upgrades.models import Channel

EXPIRING_WITHIN = timedelta(days=14)
MAX_PARTNERS = 50  # operators see the first ones here; the operator area lists them all


def partner_summary(partner: Partner) -> dict:
    """What the home page shows of one partner."""
    db = session()
    brands = list(db.scalars(select(Brand).where(Brand.partner_id == partner.id).order_by(Brand.id)))
    live_ids = [b.live_revision_id for b in brands if b.live_revision_id]
    lives = {r.id: r.content_sha256 for r in db.scalars(select(BrandRevision).where(BrandRevision.id.in_(live_ids)))}
    waiting = [b for b in brands if lives.get(b.live_revision_id) != content_sha256(b.draft)]
    moment = now()
    expiring = list(
        db.scalars(
            select(AccessCode)
            .where(
                AccessCode.partner_id == partner.id,
                AccessCode.status == "active",
                AccessCode.expires_at.is_not(None),
                AccessCode.expires_at > moment,
                AccessCode.expires_at <= moment + EXPIRING_WITHIN,
            )
            .order_by(AccessCode.expires_at)
            .limit(20)
        )
    )
    halted = list(
        db.scalars(
            select(Channel)
            .where(Channel.partner_id == partner.id, Channel.halted.is_(True))
            .order_by(Channel.halted_at.desc(), Channel.name)
        )
    )
    month = moment.strftime("%Y-%m")
    return {
        "partner": partner,
        "brands": brands,
        "waiting": waiting,
        "halted": halted,
        "expiring": expiring,
        "month": month,
        "licences": sum(1 for _ in counted_users(db, partner.id, month)),
    }


@bp.route("/", methods=["GET"])
@portal_view(*ALL_ROLES)
def home():
    """Home: brands with changes waiting, halted channels (who halted, when), expiring codes, licences."""
    actor = portal_actor()
    stmt = select(Partner).order_by(Partner.id).limit(MAX_PARTNERS)
    if not actor.is_operator:
        stmt = stmt.where(Partner.id == actor.partner_id)
    summaries = [partner_summary(p) for p in session().scalars(stmt)]
    return render_page(
        "portal/home.html",
        title="Home",
        crumbs=[Crumb("Home", url_for("portal.home"))],
        summaries=summaries,
        show_brands=actor.role != "reseller",
        guard_actor=GUARD_ACTOR,
    )
