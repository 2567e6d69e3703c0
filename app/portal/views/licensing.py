"""Licensing: resellers -> end customers -> licensed users (add, suspend, remove, CSV import with
a row-by-row report, search by user id), and the web-service settings with the verification
report. Reseller users see and manage only their own end customers and those customers' users.

Authorisation is the admin API's (``load_owned``: 404 across partners; ``require_role``), plus
the reseller scope: a reseller user's actor carries its ``reseller_id``, and any row outside it
answers 404 like another partner's.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from sqlalchemy import select

from app.api.admin.auth import acting_partner, load_owned, partner_filter, require_role
from app.api.admin.licensed_users import MAX_CSV_BYTES, LicensedUserIn, LicensedUserPatch
from app.api.admin.licensing import LicensingSettingsIn
from app.api.admin.licensing_verify import VerifyIn, run_verification
from app.api.admin.organisations import OrgIn
from app.db import session
from app.licensing.csv_import import CsvRejected, parse_users_csv
from app.licensing.models import Customer, LicensedUser, Reseller
from app.licensing.services import add_user, create_org, import_users, remove_user, update_user
from app.licensing.settings import licence_types_of, redacted, settings_row, settings_values, update_settings
from app.licensing.user_ids import InvalidUserId, normalise_user_id
from app.licensing.webservice.services import latest_verification
from app.portal.pages import Crumb, form_errors, load_form, render_page, stale_changes
from app.portal.screens import audit_history, finish, form_id, partner_picker
from app.portal.web import bp, portal_actor, portal_view
from app.problems import NotFound, Problem, ValidationProblem

LICENSING_ROLES = ("operator", "admin", "viewer", "reseller")
USER_FIELDS = ("user_id", "customer_id", "licence_type", "external_id", "status")
LABELS = {
    "name": "Name",
    "external_id": "External id",
    "seat_cap": "Seat cap",
    "reseller_id": "Reseller",
    "partner_id": "Partner id",
    "user_id": "User id",
    "customer_id": "Customer",
    "licence_type": "Licence type",
    "status": "Status",
    "csv": "CSV file",
    "web_service_url_template": "Web-service URL",
    "lease_days": "Lease days",
    "grace_lease_hours": "Grace lease hours",
    "grace_max_hours": "Grace maximum hours",
    "licence_types": "Licence types",
    "known_user_id": "A licensed user id",
}


def _reseller_scope() -> int | None:
    """The reseller a reseller user is limited to (None for partner and operator users)."""
    actor = portal_actor()
    return actor.reseller_id if actor.role == "reseller" else None


def owned(model: type, ident: int, what: str) -> Any:
    """``load_owned`` plus the reseller scope: another reseller's rows are 404 too."""
    row = load_owned(model, ident, what)
    scope = _reseller_scope()
    if scope is not None:
        reseller_id = row.id if model is Reseller else row.reseller_id
        if reseller_id != scope:
            raise NotFound(f"No {what} with id {ident}.")
    return row


def _writer():
    """Partner admins, operators and reseller users change licensing (viewers read)."""
    return require_role("admin", "reseller")


def _can_edit() -> bool:
    return portal_actor().may_edit("admin", "reseller")


def _scoped(stmt, model):
    partner_id = partner_filter(None)
    if partner_id is not None:
        stmt = stmt.where(model.partner_id == partner_id)
    scope = _reseller_scope()
    if scope is not None:
        stmt = stmt.where((model.id if model is Reseller else model.reseller_id) == scope)
    return stmt


def _crumbs(*more: Crumb) -> list[Crumb]:
    return [Crumb("Home", url_for("portal.home")), Crumb("Licensing", url_for("portal.licensing")), *more]


def _org_form() -> dict[str, Any]:
    form: dict[str, Any] = {"name": request.form.get("name", "")}
    if request.form.get("external_id", "").strip():
        form["external_id"] = request.form["external_id"].strip()
    cap = request.form.get("seat_cap", "").strip()
    if cap:
        form["seat_cap"] = int(cap) if cap.isdigit() and len(cap) < 10 else cap
    return form


def _users(stmt, limit: int = 200) -> list[LicensedUser]:
    return list(session().scalars(_scoped(stmt, LicensedUser).order_by(LicensedUser.id).limit(limit)))


def _overview(errors=None, status: int = 200, form=None, import_report=None):
    query = request.args.get("user_id", "").strip()
    found, search_error = None, None
    if query:
        try:
            prefix = normalise_user_id(query)
            found = _users(select(LicensedUser).where(LicensedUser.user_key.startswith(prefix, autoescape=True)))
        except InvalidUserId as exc:
            search_error = str(exc)
    resellers = list(session().scalars(_scoped(select(Reseller), Reseller).order_by(Reseller.name).limit(500)))
    customers = list(session().scalars(_scoped(select(Customer), Customer).order_by(Customer.name).limit(500)))
    return render_page(
        "portal/licensing.html",
        title="Licensing",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Licensing")],
        resellers=resellers,
        reseller_names={r.id: r.name for r in resellers},
        customers=customers,
        query=query,
        found=found,
        search_error=search_error,
        errors=errors or {},
        form=form or {},
        labels=LABELS,
        import_report=import_report,
        reseller_scope=_reseller_scope(),
        can_edit=_can_edit(),
        is_partner_admin=portal_actor().may_edit("admin"),
    )


@bp.route("/licensing", methods=["GET"])
@portal_view(*LICENSING_ROLES)
def licensing():
    """Resellers, end customers, search by user id, CSV import."""
    return _overview()


def _partner_for_create():
    actor = portal_actor()
    return acting_partner(form_id(request.form.get("partner_id", "")) if actor.is_operator else None)


@bp.route("/licensing/resellers", methods=["POST"])
@portal_view(*LICENSING_ROLES)
def add_reseller():
    """Add a reseller (partner admins and operators)."""
    actor = require_role("admin")
    form = _org_form()
    try:
        data = load_form(OrgIn(), form)
        data.pop("partner_id", None)
        row = create_org(session(), Reseller, _partner_for_create().id, data, actor=actor.name)
        session().flush()
    except ValidationProblem as exc:
        session().rollback()
        return _overview(form_errors(exc), 422, form)
    return finish(f"Reseller {row.name} added.", "portal.reseller", reseller_id=row.id)


@bp.route("/licensing/customers", methods=["POST"])
@portal_view(*LICENSING_ROLES)
def add_customer():
    """Add an end customer, directly or under a reseller (a reseller user: always under its own)."""
    actor = _writer()
    form = _org_form()
    scope = _reseller_scope()
    reseller_id = scope if scope is not None else form_id(request.form.get("reseller_id", ""))
    try:
        data = load_form(OrgIn(), form)
        data.pop("partner_id", None)
        if reseller_id is not None:
            reseller = owned(Reseller, reseller_id, "reseller")
            partner_id = reseller.partner_id
        else:
            partner_id = _partner_for_create().id
        row = create_org(session(), Customer, partner_id, {**data, "reseller_id": reseller_id}, actor=actor.name)
        session().flush()
    except ValidationProblem as exc:
        session().rollback()
        return _overview(form_errors(exc), 422, form)
    return finish(f"Customer {row.name} added.", "portal.customer", customer_id=row.id)


@bp.route("/licensing/resellers/<int:reseller_id>", methods=["GET"])
@portal_view(*LICENSING_ROLES)
def reseller(reseller_id: int):
    """A reseller and its end customers."""
    row = owned(Reseller, reseller_id, "reseller")
    customers = session().scalars(select(Customer).where(Customer.reseller_id == row.id).order_by(Customer.name))
    return render_page(
        "portal/reseller.html",
        title=f"Reseller {row.name}",
        crumbs=_crumbs(Crumb(row.name)),
        row=row,
        customers=list(customers),
        events=audit_history("reseller", row.id),
    )


def _customer_page(row: Customer, *, errors=None, status: int = 200, form=None):
    users = list(
        session().scalars(
            select(LicensedUser).where(LicensedUser.customer_id == row.id).order_by(LicensedUser.id).limit(1000)
        )
    )
    parent = session().get(Reseller, row.reseller_id) if row.reseller_id else None
    crumbs = [Crumb(parent.name, url_for("portal.reseller", reseller_id=parent.id))] if parent else []
    return render_page(
        "portal/customer.html",
        title=f"Customer {row.name}",
        status=status,
        crumbs=_crumbs(*crumbs, Crumb(row.name)),
        row=row,
        reseller=parent,
        users=users,
        licence_types=licence_types_of(session(), row.partner_id),
        errors=errors or {},
        form=form or {},
        labels=LABELS,
        events=audit_history("customer", row.id),
        can_edit=_can_edit(),
    )


@bp.route("/licensing/customers/<int:customer_id>", methods=["GET", "POST"])
@portal_view(*LICENSING_ROLES)
def customer(customer_id: int):
    """An end customer's licensed users; POST licenses one more user id."""
    row = owned(Customer, customer_id, "customer")
    if request.method == "GET":
        return _customer_page(row)
    actor = _writer()
    form = {"user_id": request.form.get("user_id", ""), "customer_id": row.id}
    for name in ("licence_type", "external_id"):
        if request.form.get(name, "").strip():
            form[name] = request.form[name].strip()
    try:
        data = load_form(LicensedUserIn(), form)
        data.pop("partner_id", None)
        user = add_user(session(), row.partner_id, data, actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return _customer_page(row, errors=form_errors(exc), status=422, form=form)
    except Problem as exc:  # duplicate_user_id
        session().rollback()
        return _customer_page(row, errors={"user_id": [exc.detail or exc.title]}, status=exc.status, form=form)
    return finish(f"User {user.user_id} is licensed.", "portal.customer", customer_id=row.id)


def shown_user(user: LicensedUser) -> dict[str, Any]:
    """What a licensed user's page shows (and a stale change compares)."""
    return {name: getattr(user, name) for name in USER_FIELDS}


def _user_page(user: LicensedUser, *, errors=None, conflict=None, status: int = 200):
    row = session().get(Customer, user.customer_id)
    return render_page(
        "portal/licensed_user.html",
        title=f"Licensed user {user.user_id}",
        status=status,
        crumbs=_crumbs(Crumb(row.name, url_for("portal.customer", customer_id=row.id)), Crumb(user.user_id)),
        user=user,
        customer=row,
        shown=shown_user(user),
        errors=errors or {},
        conflict=conflict,
        labels=LABELS,
        events=audit_history("licensed_user", user.id),
        can_edit=_can_edit(),
    )


@bp.route("/licensing/users/<int:licensed_user_id>", methods=["GET", "POST"])
@portal_view(*LICENSING_ROLES)
def licensed_user(licensed_user_id: int):
    """One licensed user: suspend, reactivate or remove it (on the version the page was loaded at)."""
    user = owned(LicensedUser, licensed_user_id, "licensed user")
    if request.method == "GET":
        return _user_page(user)
    actor = _writer()
    conflict = stale_changes(user, shown_user(user))
    if conflict is not None:
        return _user_page(user, conflict=conflict, status=409)
    action = request.form.get("action", "")
    customer_id = user.customer_id
    if action == "remove":
        remove_user(session(), user, actor=actor.name)
        return finish(
            f"User {user.user_id} removed; its allocation history stays.", "portal.customer", customer_id=customer_id
        )
    wanted = {"suspend": "suspended", "activate": "active"}.get(action)
    if wanted is None:
        return _user_page(user, errors={"": ["Choose suspend, reactivate or remove."]}, status=422)
    try:
        update_user(session(), user, load_form(LicensedUserPatch(), {"status": wanted}), actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return _user_page(user, errors=form_errors(exc), status=422)
    return finish(f"User {user.user_id} is {user.status}.", "portal.licensed_user", licensed_user_id=user.id)


@bp.route("/licensing/import", methods=["POST"])
@portal_view(*LICENSING_ROLES)
def import_users_csv():
    """Import licensed users from CSV, all or nothing, with a row-by-row report of every bad line."""
    actor = _writer()
    sent = request.files.get("csv")
    if sent is None or not sent.filename:
        return _overview({"csv": ["Choose a CSV file."]}, 422)
    partner = _partner_for_create()
    try:
        data = sent.stream.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise CsvRejected(f"At most {MAX_CSV_BYTES // (1024 * 1024)} MiB per file; split it.")
        rows = parse_users_csv(data)
    except CsvRejected as exc:
        return _overview({"csv": [str(exc)]}, 422)
    scope = _reseller_scope()
    if scope is not None:  # a reseller user imports into its own customers only
        mine = set(session().scalars(select(Customer.id).where(Customer.reseller_id == scope)))
        for row in rows:
            if isinstance(row.fields.get("customer_id"), int) and row.fields["customer_id"] not in mine:
                row.errors["customer_id"] = ["No such customer of this partner."]
    try:
        counts = import_users(session(), partner.id, rows, actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        report = {"ok": False, "detail": exc.detail, "lines": exc.errors}
        return _overview(
            {"csv": [exc.detail or "Some lines are wrong; nothing was imported."]}, 422, import_report=report
        )
    session().commit()
    return _overview(import_report={"ok": True, **counts})


# ---- web-service settings and verification -----------------------------------------------------


def _settings_partner():
    actor = portal_actor()
    return acting_partner(form_id(request.values.get("partner_id", "")) if actor.is_operator else None)


def _settings_page(partner, *, errors=None, status: int = 200, secret: str | None = None, form=None):
    values = redacted(settings_values(settings_row(session(), partner.id)))
    return render_page(
        "portal/licensing_settings.html",
        title="Licensing settings",
        status=status,
        crumbs=_crumbs(Crumb("Settings")),
        partner=partner,
        values=values,
        form=form or {},
        verification=latest_verification(session(), partner.id),
        secret=secret,
        errors=errors or {},
        labels=LABELS,
        events=audit_history("licensing_settings", partner.id),
        can_edit=portal_actor().may_edit("admin"),
    )


@bp.route("/licensing/settings", methods=["GET", "POST"])
@portal_view()
def licensing_settings():
    """Licence types, lease and grace, the web-service URL and its signing secret."""
    if portal_actor().is_operator and form_id(request.values.get("partner_id", "")) is None:
        return partner_picker("portal.licensing_settings", "Licensing settings")
    partner = _settings_partner()
    if request.method == "GET":
        return _settings_page(partner)
    actor = require_role("admin")
    form: dict[str, Any] = {
        "licence_types": [t.strip() for t in request.form.get("licence_types", "").split(",") if t.strip()],
        "web_service_url_template": request.form.get("web_service_url_template", "").strip(),
        "rotate_secret": request.form.get("rotate_secret") == "on",
    }
    for name in ("lease_days", "grace_lease_hours", "grace_max_hours"):
        raw = request.form.get(name, "").strip()
        form[name] = int(raw) if raw.isdigit() and len(raw) < 10 else raw
    try:
        data = load_form(LicensingSettingsIn(), form)
        rotate, drop = data.pop("rotate_secret"), data.pop("drop_previous_secret")
        _row, secret = update_settings(
            session(), partner.id, data, rotate_secret=rotate, drop_old=drop, actor=actor.name
        )
    except ValidationProblem as exc:
        session().rollback()
        return _settings_page(partner, errors=form_errors(exc), status=422, form=request.form)
    session().commit()
    if secret is not None:
        return _settings_page(partner, secret=secret)  # shown once, never again
    named = {"partner_id": partner.id} if portal_actor().is_operator else {}
    return finish("Licensing settings saved.", "portal.licensing_settings", **named)


@bp.route("/licensing/settings/verify", methods=["POST"])
@portal_view()
def verify_web_service():
    """Run the web service's go-live checks (the admin API's verification) and show the report."""
    partner = _settings_partner()
    actor = require_role("admin")
    try:
        data = load_form(VerifyIn(), {"known_user_id": request.form.get("known_user_id", "")})
        run_verification(partner.id, data["known_user_id"], actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return _settings_page(partner, errors=form_errors(exc), status=422)
    except Problem as exc:
        session().rollback()
        return _settings_page(partner, errors={"known_user_id": [exc.detail or exc.title]}, status=exc.status)
    session().commit()
    return _settings_page(partner)
