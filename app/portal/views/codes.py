"""Access codes: issue (the code shown once, with a copy button), revoke after a confirmation
(a dialog with JavaScript, a confirmation page without), rotate, expiry."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import redirect, request, url_for
from sqlalchemy import select

from app.api.admin.access_codes import AccessCodeIn, RotateIn
from app.api.admin.auth import load_owned, partner_filter, require_role
from app.branding.document import discovery_url
from app.branding.models import AccessCode, Brand
from app.branding.services import issue_code, revoke_code, rotate_code
from app.db import session
from app.portal.pages import Crumb, form_errors, load_form, render_page, stale_changes
from app.portal.web import bp, notify, portal_actor, portal_view
from app.problems import Problem, ValidationProblem

CODE_FIELDS = ("status", "label", "expires_at")


def _date(name: str) -> str | None:
    """A ``<input type=date>`` value as an ISO timestamp at midnight UTC (None when empty)."""
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return value  # the schema names the field and says what it wants


def shown_code(code: AccessCode) -> dict:
    """What a code's page shows (and a stale revoke or rotate compares)."""
    expires = code.expires_at.isoformat() if code.expires_at else None
    return {"status": code.status, "label": code.label, "expires_at": expires}


def _crumbs(*more: Crumb) -> list[Crumb]:
    return [Crumb("Home", url_for("portal.home")), Crumb("Access codes", url_for("portal.codes")), *more]


def _brands() -> list[Brand]:
    partner_id = partner_filter(None)
    stmt = select(Brand).order_by(Brand.id)
    return list(session().scalars(stmt if partner_id is None else stmt.where(Brand.partner_id == partner_id)))


def _list(errors=None, status: int = 200, brand_id: int | None = None):
    partner_id = partner_filter(None)
    stmt = select(AccessCode).order_by(AccessCode.id.desc())
    if partner_id is not None:
        stmt = stmt.where(AccessCode.partner_id == partner_id)
    if brand_id is not None:
        stmt = stmt.where(AccessCode.brand_id == brand_id)
    brands = _brands()
    return render_page(
        "portal/codes.html",
        title="Access codes",
        status=status,
        crumbs=_crumbs(),
        rows=list(session().scalars(stmt.limit(500))),
        brands=brands,
        brand_names={b.id: b.name for b in brands},
        brand_id=brand_id,
        errors=errors or {},
        can_edit=portal_actor().may_edit("admin"),
    )


def _shown_once(code: AccessCode, plain: str, what: str):
    from flask import current_app

    return render_page(
        "portal/code_issued.html",
        title=what,
        crumbs=_crumbs(Crumb(what)),
        code=code,
        plain=plain,
        discovery=discovery_url(current_app.config["LIVERY"].public_base_url, plain),
    )


@bp.route("/codes", methods=["GET", "POST"])
@portal_view()
def codes():
    """Access codes, and a form to issue one."""
    wanted = request.args.get("brand", "")
    brand_id = int(wanted) if wanted.isdigit() and len(wanted) < 10 else None
    if request.method == "GET":
        return _list(brand_id=brand_id)
    actor = require_role("admin")
    raw_brand = request.form.get("brand_id", "")
    brand = load_owned(Brand, int(raw_brand) if raw_brand.isdigit() and len(raw_brand) < 10 else 0, "brand")
    form = {
        "kind": request.form.get("kind", ""),
        "label": request.form.get("label", ""),
        "expires_at": _date("expires_on"),
        "channel": request.form.get("channel") or None,
    }
    try:
        data = load_form(AccessCodeIn(), form)
        code, plain = issue_code(session(), brand, actor=actor.name, **data)
    except ValidationProblem as exc:
        session().rollback()
        errors = form_errors(exc)
        if "expires_at" in errors:
            errors["expires_on"] = errors.pop("expires_at")
        return _list(errors, 422, brand.id)
    session().commit()
    return _shown_once(code, plain, "Access code issued")


@bp.route("/codes/<int:code_id>", methods=["GET"])
@portal_view()
def code(code_id: int):
    """One access code: its state, rotate and revoke."""
    row = load_owned(AccessCode, code_id, "access code")
    return _code_page(row)


def _code_page(row: AccessCode, *, errors=None, conflict=None, status: int = 200):
    brand = session().get(Brand, row.brand_id)
    return render_page(
        "portal/code.html",
        title=f"Access code {row.prefix}…",
        status=status,
        crumbs=_crumbs(Crumb(f"{row.prefix}…")),
        row=row,
        brand=brand,
        successor=session().get(AccessCode, row.replaced_by_id) if row.replaced_by_id else None,
        errors=errors or {},
        conflict=conflict,
        shown=shown_code(row),
        can_edit=portal_actor().may_edit("admin"),
    )


@bp.route("/codes/<int:code_id>/revoke", methods=["GET", "POST"])
@portal_view()
def revoke(code_id: int):
    """Revoke a code (GET: the confirmation page for browsers without JavaScript)."""
    row = load_owned(AccessCode, code_id, "access code")
    actor = require_role("admin")
    if request.method == "GET":
        return render_page(
            "portal/code_revoke.html",
            title=f"Revoke access code {row.prefix}…?",
            crumbs=_crumbs(Crumb(f"{row.prefix}…", url_for("portal.code", code_id=row.id)), Crumb("Revoke")),
            row=row,
            shown=shown_code(row),
        )
    conflict = stale_changes(row, shown_code(row))
    if conflict is not None:
        return _code_page(row, conflict=conflict, status=409)
    try:
        revoke_code(session(), row, actor=actor.name)
    except Problem as exc:
        session().rollback()
        return _code_page(row, errors={"": [exc.detail or exc.title]}, status=exc.status)
    notify(f"Access code {row.prefix}… is revoked: clients using it get 410 from their next launch.")
    session().commit()
    return redirect(url_for("portal.code", code_id=row.id), code=303)


@bp.route("/codes/<int:code_id>/rotate", methods=["POST"])
@portal_view()
def rotate(code_id: int):
    """Issue a successor; the old code keeps working until the date given."""
    row = load_owned(AccessCode, code_id, "access code")
    actor = require_role("admin")
    conflict = stale_changes(row, shown_code(row))
    if conflict is not None:
        return _code_page(row, conflict=conflict, status=409)
    form = {"old_valid_until": _date("old_valid_until")}
    if request.form.get("label"):
        form["label"] = request.form["label"]
    try:
        data = load_form(RotateIn(), form)
        new_code, plain = rotate_code(session(), row, actor=actor.name, **data)
    except ValidationProblem as exc:
        session().rollback()
        return _code_page(row, errors=form_errors(exc), status=422)
    except Problem as exc:
        session().rollback()
        return _code_page(row, errors={"": [exc.detail or exc.title]}, status=exc.status)
    session().commit()
    return _shown_once(new_code, plain, "Access code rotated")
