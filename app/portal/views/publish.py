"""Review and publish: the draft against the live revision field by field, who will see it, the
required comment; the history, and "restore this revision as the draft"."""

from __future__ import annotations

from flask import redirect, request, url_for
from sqlalchemy import func, or_, select

from app.api.admin.auth import load_owned, require_role
from app.audit.models import AuditEvent
from app.branding.content import ASSET_ROLES, content_diff
from app.branding.models import AccessCode, Asset, Brand, BrandRevision
from app.branding.services import live_revision, publish_draft, update_draft
from app.db import session
from app.portal.pages import Crumb, form_errors, render_page, stale_changes, text_input
from app.portal.views.brands import LABELS, shown_fields
from app.portal.web import bp, notify, now, portal_view
from app.problems import NotFound, ValidationProblem

MAX_COMMENT = 500
HISTORY = 50


def live_code_count(brand: Brand) -> int:
    """Active, unexpired live codes of ``brand``: the installations a publish reaches."""
    stmt = select(func.count(AccessCode.id)).where(
        AccessCode.brand_id == brand.id,
        AccessCode.kind == "live",
        AccessCode.status == "active",
        or_(AccessCode.expires_at.is_(None), AccessCode.expires_at > now()),
    )
    return session().scalar(stmt) or 0


def history(brand: Brand) -> list[dict]:
    """Published revisions, newest first, with who published and their comment."""
    revisions = list(
        session().scalars(
            select(BrandRevision)
            .where(BrandRevision.brand_id == brand.id)
            .order_by(BrandRevision.number.desc())
            .limit(HISTORY)
        )
    )
    events = session().scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "brand",
            AuditEvent.resource_id == str(brand.id),
            AuditEvent.action.in_(("brand.publish", "brand.rollback")),
        )
    )
    comments = {(e.after or {}).get("revision"): (e.after or {}).get("comment", "") for e in events}
    return [{"revision": r, "comment": comments.get(r.number, "")} for r in revisions]


def _review(brand: Brand, *, errors=None, conflict=None, comment: str = "", status: int = 200):
    live = live_revision(session(), brand)
    diff = content_diff(live.content if live else None, brand.draft)
    shas = [v for change in diff.values() for v in (change["from"], change["to"]) if isinstance(v, str)]
    assets = (
        {
            a.sha256: a
            for a in session().scalars(
                select(Asset).where(Asset.partner_id == brand.partner_id, Asset.sha256.in_(shas))
            )
        }
        if shas
        else {}
    )
    return render_page(
        "portal/review.html",
        title=f"Review and publish {brand.name}",
        status=status,
        crumbs=[
            Crumb("Home", url_for("portal.home")),
            Crumb("Brands", url_for("portal.brands")),
            Crumb(brand.name, url_for("portal.brand", brand_id=brand.id)),
            Crumb("Review and publish"),
        ],
        brand=brand,
        live=live,
        diff=diff,
        image_roles=ASSET_ROLES,
        assets=assets,
        labels=LABELS,
        live_codes=live_code_count(brand),
        history=history(brand),
        errors=errors or {},
        conflict=conflict,
        comment=comment,
        shown=shown_fields(brand),
    )


@bp.route("/brands/<int:brand_id>/review", methods=["GET"])
@portal_view()
def review(brand_id: int):
    """What publishing would change, who sees it, and the history."""
    return _review(load_owned(Brand, brand_id, "brand"))


@bp.route("/brands/<int:brand_id>/publish", methods=["POST"])
@portal_view()
def publish(brand_id: int):
    """Publish the reviewed draft with a comment; refused when the draft changed since the review."""
    brand = load_owned(Brand, brand_id, "brand")
    actor = require_role("admin")
    comment = request.form.get("comment", "")
    conflict = stale_changes(brand, shown_fields(brand))
    if conflict is not None:
        return _review(brand, conflict=conflict, comment=comment, status=409)
    try:
        comment = text_input("comment", max_length=MAX_COMMENT, required=True).strip()
        revision, created = publish_draft(session(), brand, actor=actor.name, comment=comment)
    except ValidationProblem as exc:
        session().rollback()
        return _review(brand, errors=form_errors(exc), comment=comment, status=422)
    if created:
        notify(f"Published revision {revision.number}. Live codes see it from their next launch.")
    else:
        notify(f"Nothing to publish: the draft equals the live revision {revision.number}.")
    session().commit()
    return redirect(url_for("portal.review", brand_id=brand.id), code=303)


@bp.route("/brands/<int:brand_id>/restore", methods=["POST"])
@portal_view()
def restore(brand_id: int):
    """Make an earlier revision's content the draft (then review and publish it as usual)."""
    brand = load_owned(Brand, brand_id, "brand")
    actor = require_role("admin")
    number = request.form.get("revision", "")
    source = None
    if number.isdigit() and len(number) < 10:
        source = session().scalar(
            select(BrandRevision).where(BrandRevision.brand_id == brand.id, BrandRevision.number == int(number))
        )
    if source is None:
        raise NotFound(f"Brand {brand.id} has no revision {number[:20]}.")
    conflict = stale_changes(brand, shown_fields(brand))
    if conflict is not None:
        return _review(brand, conflict=conflict, status=409)
    changes = {k: v for k, v in source.content.items() if brand.draft.get(k) != v}
    update_draft(session(), brand, changes, actor=actor.name)
    notify(f"The draft now equals revision {source.number}. Review it below, then publish.")
    session().commit()
    return redirect(url_for("portal.review", brand_id=brand.id), code=303)
