"""Brands: the list, and the editor with its live client preview.

The editor posts the whole form. "Preview" (and htmx, as the user types, to ``/preview``) renders
the content as the client would show it without saving anything but uploaded images (which are
content-addressed and immutable, stored through the same service as the admin API). "Save draft"
checks the version the form was loaded at, then saves through ``update_draft`` (audited; test
codes see it at once). Publishing is on the review page (publish.py).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from app.api.admin.auth import acting_partner, load_owned, partner_filter, require_role
from app.branding.content import ASSET_ROLES, BRANDING_LEVELS, LICENSING_METHODS, VIEWER_FIELDS, content_problems
from app.branding.models import Asset, Brand, BrandRevision
from app.branding.preview import client_preview
from app.branding.services import add_asset, create_brand, update_draft
from app.db import session
from app.partners.models import Partner
from app.portal.pages import Crumb, form_errors, render_page, stale_changes, text_input
from app.portal.web import bp, notify, portal_actor, portal_view
from app.problems import PayloadTooLarge, ValidationProblem
from app.viewer.theme import brand_theme

LABELS = {
    "name": "Brand name (in the portal)",
    "product_name": "Product name",
    "short_name": "Short name",
    "publisher": "Publisher",
    "support_url": "Support URL",
    "eula_url": "EULA URL",
    "branding_level": "Branding level",
    "licensing_method": "Licensing method",
    "upgrade_channel": "Upgrade channel",
    "tray_icon": "Tray icon (.ico)",
    "app_icon_windows": "App icon, Windows (.ico)",
    "app_icon_macos": "App icon, macOS (.icns or .png)",
    "splash": "Splash image (.png)",
    "splash_seconds": "Splash display time (seconds)",
    "viewer_name": "Viewer name",
    "viewer_logo": "Viewer logo (.png)",
    "viewer_url": "Viewer URL",
    "viewer_primary_color": "Primary colour",
    "viewer_accent_color": "Accent colour",
}
LABELS.update({f"upload_{role}": LABELS[role] for role in ASSET_ROLES})
TEXT_FIELDS = ("product_name", "short_name", "publisher", "upgrade_channel")
OPTIONAL_FIELDS = (
    "support_url",
    "eula_url",
    "viewer_name",
    "viewer_url",
    "viewer_primary_color",
    "viewer_accent_color",
)


def shown_fields(brand: Brand) -> dict[str, Any]:
    """What the editor shows of a brand (and what a stale save compares)."""
    return {"name": brand.name, **brand.draft}


def _uploads(brand: Brand) -> dict[str, str]:
    """Store uploaded images (same service as the admin API); their sha256 by role."""
    found: dict[str, str] = {}
    limit = current_app.config["LIVERY"].max_asset_bytes
    for role in ASSET_ROLES:
        file = request.files.get(f"upload_{role}")
        if file is None or not file.filename:
            continue
        try:
            asset, _created = add_asset(
                session(),
                current_app.extensions["livery.stores"].assets,
                session().get(Partner, brand.partner_id),
                role,
                file.stream.read(limit + 1),
                actor=portal_actor().name,
                filename=file.filename,
                declared_type=file.mimetype or "",
                max_bytes=limit,
            )
        except PayloadTooLarge as exc:
            raise ValidationProblem({f"upload_{role}": [exc.detail or "Too large."]}) from None
        except ValidationProblem as exc:
            messages = [m for ms in form_errors(exc).values() for m in ms]
            raise ValidationProblem({f"upload_{role}": messages}) from None
        found[role] = asset.sha256
    return found


def draft_from_form(brand: Brand, uploads: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The brand name and the full content the form describes (the draft with the form applied)."""
    form = request.form
    content = dict(brand.draft)
    for name in TEXT_FIELDS:
        if name in form:
            content[name] = form[name]
    for name in OPTIONAL_FIELDS:
        if name in form:
            content[name] = form[name] or None
    for name, allowed in (("branding_level", BRANDING_LEVELS), ("licensing_method", LICENSING_METHODS)):
        if form.get(name) in allowed:
            content[name] = form[name]
    seconds = form.get("splash_seconds", "")
    if seconds:
        content["splash_seconds"] = int(seconds) if seconds.isdigit() and len(seconds) < 4 else seconds
    for role in ASSET_ROLES:
        chosen = form.get(f"asset_{role}")  # an image uploaded by an earlier "Preview" of this form
        if chosen is not None:
            content[role] = chosen or None
        if form.get(f"clear_{role}"):
            content[role] = None
    content.update(uploads)
    if content.get("branding_level") == "CI-B":  # the branded viewer needs CI-C: its settings go
        content.update(dict.fromkeys(VIEWER_FIELDS))
    return form.get("name", brand.name), content


def _assets_of(partner_id: int, content: dict[str, Any]) -> dict[str, Asset]:
    shas = [content[r] for r in ASSET_ROLES if content.get(r)]
    if not shas:
        return {}
    rows = session().scalars(select(Asset).where(Asset.partner_id == partner_id, Asset.sha256.in_(shas)))
    return {a.sha256: a for a in rows}


def preview_context(brand: Brand, content: dict[str, Any]) -> dict[str, Any]:
    """What the preview fragment needs."""
    return {
        "brand": brand,
        "content": content,
        "preview": client_preview(content),
        "assets": _assets_of(brand.partner_id, content),
        "labels": LABELS,
    }


def recent_revisions(brand: Brand, limit: int = 10) -> list[BrandRevision]:
    """The brand's latest published revisions, newest first (the history pane)."""
    stmt = select(BrandRevision).where(BrandRevision.brand_id == brand.id).order_by(BrandRevision.number.desc())
    return list(session().scalars(stmt.limit(limit)))


def _editor(brand: Brand, name: str, content: dict[str, Any], *, errors=None, conflict=None, status=200, saved=True):
    problems = errors if errors is not None else (content_problems(content) if not saved else {})
    return render_page(
        "portal/brand_edit.html",
        title=f"Edit {brand.name}",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Brands", url_for("portal.brands")), Crumb(brand.name)],
        name=name,
        errors=problems,
        conflict=conflict,
        levels=list(BRANDING_LEVELS),
        methods=LICENSING_METHODS,
        unsaved=not saved,
        shown=shown_fields(brand),
        revisions=recent_revisions(brand),
        **preview_context(brand, content),
    )


@bp.route("/brands", methods=["GET", "POST"])
@portal_view()
def brands():
    """Brands of your partner (operators: every partner's), and a form to add one."""
    errors: dict[str, list[str]] = {}
    actor = portal_actor()
    if request.method == "POST":
        require_role("admin")
        partner_id = request.form.get("partner_id", "")
        partner = acting_partner(int(partner_id) if partner_id.isdigit() and len(partner_id) < 10 else None)
        try:
            name = text_input("name", max_length=200, required=True).strip()
            brand = create_brand(session(), partner, name, {}, actor=actor.name)
        except ValidationProblem as exc:
            errors = form_errors(exc)
        else:
            notify(f"Brand {brand.name} created.")
            session().commit()
            return redirect(url_for("portal.brand", brand_id=brand.id), code=303)
    partner_id = partner_filter(None)
    stmt = select(Brand).order_by(Brand.partner_id, Brand.id)
    if partner_id is not None:
        stmt = stmt.where(Brand.partner_id == partner_id)
    partners = {p.id: p for p in session().scalars(select(Partner))} if actor.is_operator else {}
    return render_page(
        "portal/brands.html",
        title="Brands",
        status=422 if errors else 200,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Brands")],
        rows=list(session().scalars(stmt.limit(500))),
        partners=partners,
        errors=errors,
        can_edit=actor.may_edit("admin"),
    )


@bp.route("/brands/<int:brand_id>", methods=["GET", "POST"])
@portal_view()
def brand(brand_id: int):
    """The brand editor: fields and images on one side, the client preview on the other."""
    row = load_owned(Brand, brand_id, "brand")
    if request.method == "GET":
        return _editor(row, row.name, dict(row.draft))
    require_role("admin")
    try:
        uploads = _uploads(row)
    except ValidationProblem as exc:
        session().rollback()
        name, content = draft_from_form(row, {})
        return _editor(row, name, content, errors=form_errors(exc), status=422, saved=False)
    session().commit()  # stored images are kept whatever happens to the draft
    name, content = draft_from_form(row, uploads)
    if request.form.get("action") == "preview":
        return _editor(row, name, content, saved=False)
    conflict = stale_changes(row, shown_fields(row))
    if conflict is not None:
        return _editor(row, name, content, conflict=conflict, status=409, saved=False, errors={})
    changes = {k: v for k, v in content.items() if row.draft.get(k) != v}
    try:
        name = text_input("name", max_length=200, required=True)
        update_draft(session(), row, changes, actor=portal_actor().name, name=name if name != row.name else None)
    except ValidationProblem as exc:
        session().rollback()
        return _editor(row, name, content, errors=form_errors(exc), status=422, saved=False)
    notify("Draft saved. Test codes see it now; live codes see it once you publish it.")
    session().commit()
    return redirect(url_for("portal.brand", brand_id=row.id), code=303)


@bp.route("/brands/<int:brand_id>/preview", methods=["POST"])
@portal_view()
def brand_preview(brand_id: int):
    """The preview fragment for the form as typed (htmx); nothing is saved."""
    row = load_owned(Brand, brand_id, "brand")
    _name, content = draft_from_form(row, {})
    return render_template("portal/_preview.html", problems=content_problems(content), **preview_context(row, content))


@bp.route("/preview-theme.css", methods=["GET"])
@portal_view()
def preview_theme():
    """The preview tile's colours: CSS custom properties from validated #rrggbb values only."""
    colours = {k: request.args.get(k, "")[:7] for k in ("viewer_primary_color", "viewer_accent_color")}
    theme = brand_theme({"product_name": "", **colours})  # anything but #rrggbb falls back to the standard
    css = (
        f".tile {{ --tile-primary: {theme.primary}; --tile-on-primary: {theme.on_primary}; "
        f"--tile-accent: {theme.accent}; --tile-on-accent: {theme.on_accent}; }}\n"
    )
    return Response(css, mimetype="text/css", headers={"Cache-Control": "private, max-age=300"})
