"""Releases and channels: the release list and detail (installer upload with a progress bar,
publish and yank), channels with the control file as a form checked by the readiness gate (the
admin API's dry run), rollout percentages, the one-click halt with a required reason, resume
after a confirmation, and the explain tool ("why does install X get this answer")."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request, url_for
from sqlalchemy import select

from app.api.admin.auth import acting_partner, load_owned, partner_filter, require_role
from app.api.admin.channels import ExplainQuery, HaltIn
from app.api.admin.concurrency import etag_of
from app.api.admin.releases import ReleaseIn, ReleasePatch, create_from
from app.db import session, utcnow
from app.formats import is_channel_name
from app.portal.pages import Crumb, form_errors, load_form, render_page
from app.portal.screens import audit_history, finish, form_id
from app.portal.views.channel_safety import safety_context
from app.portal.web import bp, portal_actor, portal_view
from app.problems import PayloadTooLarge, Problem, ValidationProblem
from app.storage import SpooledUpload, TooLarge
from app.upgrades.approvals import (
    ApprovalRequired,
    activation_digest,
    keep_document,
    request_approval,
    resume_digest,
    two_person,
    use_approval,
)
from app.upgrades.channel_state import explain, load_channel_state
from app.upgrades.control_file import MODES
from app.upgrades.models import Channel, ControlFile, Release
from app.upgrades.releases import store_installer, update_release
from app.upgrades.services import (
    ControlFileRejected,
    get_or_create_channel,
    read_control_file,
    readiness_report,
    set_halt,
    upload_control_file,
)
from app.upgrades.versions import PLATFORMS, InvalidVersion, parse_version

RELEASE_ROWS = 5  # release lines of the control-file form beyond those already in the file
RELEASE_LABELS = {
    "version": "Version",
    "platform": "Platform",
    "release_notes_url": "Release notes URL",
    "installer_url": "Installer URL",
    "sha256": "SHA-256",
    "bytes": "Size in bytes",
    "file_name": "File name",
    "installer": "Installer",
    "status": "Status",
    "partner_id": "Partner",
}


def _can_edit() -> bool:
    return portal_actor().may_edit("admin")


def _crumbs(*more: Crumb) -> list[Crumb]:
    return [Crumb("Home", url_for("portal.home")), Crumb("Releases and channels", url_for("portal.releases")), *more]


def _rows(model: type, order, limit: int = 500) -> list[Any]:
    partner_id = partner_filter(None)
    stmt = select(model).order_by(order).limit(limit)
    return list(session().scalars(stmt if partner_id is None else stmt.where(model.partner_id == partner_id)))


def _optional(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


def _list(errors=None, status: int = 200, form=None):
    return render_page(
        "portal/releases.html",
        title="Releases and channels",
        status=status,
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Releases and channels")],
        releases=_rows(Release, Release.id.desc()),
        channels=_rows(Channel, Channel.name),
        platforms=PLATFORMS,
        errors=errors or {},
        form=form or {},
        labels=RELEASE_LABELS,
        can_edit=_can_edit(),
    )


@bp.route("/releases", methods=["GET", "POST"])
@portal_view()
def releases():
    """Releases and channels, and a form to create a draft release."""
    if request.method == "GET":
        return _list()
    actor = require_role("admin")
    form = {name: _optional(name) for name in ("version", "platform", "release_notes_url", "installer_url", "sha256")}
    form["file_name"] = _optional("file_name")
    size = _optional("bytes")
    form["bytes"] = int(size) if size and size.isdigit() and len(size) < 19 else size
    partner_id = form_id(request.form.get("partner_id", "")) if actor.is_operator else None
    try:
        data = load_form(ReleaseIn(), {k: v for k, v in form.items() if v is not None})
        release = create_from(acting_partner(partner_id), data, actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return _list(form_errors(exc), 422, form)
    except Problem as exc:
        session().rollback()
        if exc.status == 404:
            raise
        return _list({"": [exc.detail or exc.title]}, exc.status, form)
    return finish(
        f"Draft release {release.version} ({release.platform}) created.", "portal.release", release_id=release.id
    )


def _release_page(row: Release, *, errors=None, conflict: bool = False, status: int = 200):
    return render_page(
        "portal/release.html",
        title=f"Release {row.version} · {row.platform}",
        status=status,
        crumbs=_crumbs(Crumb(f"{row.version} · {row.platform}")),
        row=row,
        etag=etag_of(row),
        errors=errors or {},
        conflict=conflict,
        labels=RELEASE_LABELS,
        events=audit_history("release", row.id),
        can_edit=_can_edit(),
        max_bytes=current_app.config["LIVERY"].max_installer_bytes,
    )


def _fresh(row: Any) -> bool:
    """Whether the form was loaded at the row's current version (its ETag: the admin API's If-Match)."""
    return request.form.get("etag", "") == etag_of(row)


@bp.route("/releases/<int:release_id>", methods=["GET", "POST"])
@portal_view()
def release(release_id: int):
    """One release: its installer, status (publish, yank) and history."""
    row = load_owned(Release, release_id, "release")
    if request.method == "GET":
        return _release_page(row)
    actor = require_role("admin")
    if not _fresh(row):
        return _release_page(row, conflict=True, status=409)
    changes = {"status": request.form.get("status", "")}
    if "release_notes_url" in request.form:
        changes["release_notes_url"] = _optional("release_notes_url")
    try:
        data = load_form(ReleasePatch(), changes)
        update_release(session(), row, data, actor=actor.name, store=current_app.extensions["livery.stores"].installers)
    except ValidationProblem as exc:
        session().rollback()
        return _release_page(row, errors=form_errors(exc), status=422)
    except Problem as exc:
        session().rollback()
        return _release_page(row, errors={"": [exc.detail or exc.title]}, status=exc.status)
    return finish(f"Release {row.version} is {row.status}.", "portal.release", release_id=row.id)


@bp.route("/releases/<int:release_id>/installer", methods=["POST"])
@portal_view()
def installer(release_id: int):
    """Upload a draft release's installer (multipart; streamed to disk, as the admin API's PUT)."""
    row = load_owned(Release, release_id, "release")
    actor = require_role("admin")
    if not _fresh(row):
        return _release_page(row, conflict=True, status=409)
    sent = request.files.get("installer")
    if sent is None or not sent.filename:
        return _release_page(row, errors={"installer": ["Choose the installer file."]}, status=422)
    limit = current_app.config["LIVERY"].max_installer_bytes
    try:
        upload = SpooledUpload.from_stream(sent.stream, max_bytes=limit)
    except TooLarge:
        raise PayloadTooLarge(limit, "Installers") from None
    try:
        store_installer(session(), current_app.extensions["livery.stores"].installers, row, upload, actor=actor.name)
    except Problem as exc:
        session().rollback()
        return _release_page(row, errors={"installer": [exc.detail or exc.title]}, status=exc.status)
    finally:
        upload.discard()
    return finish(
        f"Installer uploaded ({row.bytes} bytes, sha256 {row.sha256[:12]}…).", "portal.release", release_id=row.id
    )


# ---- channels -------------------------------------------------------------------------------


def _control_files(channel: Channel) -> list[ControlFile]:
    stmt = select(ControlFile).where(ControlFile.channel_id == channel.id).order_by(ControlFile.serial.desc())
    return list(session().scalars(stmt.limit(20)))


def _active_document(channel: Channel | None) -> dict[str, Any]:
    if channel is None or channel.active_serial is None:
        return {}
    row = session().scalar(
        select(ControlFile).where(ControlFile.channel_id == channel.id, ControlFile.serial == channel.active_serial)
    )
    if row is None:
        return {}
    return json.loads(read_control_file(current_app.extensions["livery.stores"], row))


def channel_page(
    channel: Channel,
    *,
    errors=None,
    status: int = 200,
    explained=None,
    explain_form=None,
    guard_form=None,
    plan_form=None,
):
    """The channel page; ``guard_form`` and ``plan_form`` give back what was typed when a change is refused."""
    return render_page(
        "portal/channel.html",
        title=f"Channel {channel.name}",
        status=status,
        crumbs=_crumbs(Crumb(f"Channel {channel.name}")),
        channel=channel,
        document=_active_document(channel),
        files=_control_files(channel),
        errors=errors or {},
        explained=explained,
        explain_form=explain_form or {},
        guard_form=guard_form,
        plan_form=plan_form or {},
        platforms=PLATFORMS,
        events=audit_history("channel", f"{channel.partner_id}:{channel.name}"),
        can_edit=_can_edit(),
        **safety_context(channel),
    )


@bp.route("/channels/<int:channel_id>", methods=["GET"])
@portal_view()
def channel(channel_id: int):
    """One channel: halt switch, active control file, explain, history."""
    row = load_owned(Channel, channel_id, "channel")
    if "version" not in request.args:
        return channel_page(row)
    form = {name: request.args.get(name, "").strip() for name in ("version", "platform", "install_id")}
    try:
        args = load_form(ExplainQuery(), {k: v for k, v in form.items() if v})
        version = parse_version(args["version"])
    except ValidationProblem as exc:
        return channel_page(row, errors=form_errors(exc), status=422, explain_form=form)
    except InvalidVersion as exc:
        return channel_page(row, errors={"version": [str(exc)]}, status=422, explain_form=form)
    state = load_channel_state(session(), current_app.extensions["livery.stores"], row.partner_id, row.name)
    answer = explain(state, version, args["platform"], args["install_id"], utcnow())
    return channel_page(row, explained=answer, explain_form=form)


@bp.route("/channels/<int:channel_id>/halt", methods=["POST"])
@portal_view()
def halt(channel_id: int):
    """Emergency halt in one click: every client is told "none" from its next poll (a reason is required)."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    try:
        data = load_form(HaltIn(), {"reason": request.form.get("reason", "")})
        set_halt(session(), row, halted=True, reason=data["reason"], actor=actor.name)
    except ValidationProblem as exc:
        session().rollback()
        return channel_page(row, errors=form_errors(exc), status=422)
    return finish(
        f"Channel {row.name} is halted: clients are offered nothing from their next poll.",
        "portal.channel",
        channel_id=row.id,
    )


@bp.route("/channels/<int:channel_id>/resume", methods=["GET", "POST"])
@portal_view()
def resume(channel_id: int):
    """Lift a halt after a confirmation (GET: the confirmation page for browsers without JavaScript)."""
    row = load_owned(Channel, channel_id, "channel")
    actor = require_role("admin")
    if request.method == "GET":
        return render_page(
            "portal/channel_resume.html",
            title=f"Resume channel {row.name}?",
            crumbs=_crumbs(Crumb(f"Channel {row.name}", url_for("portal.channel", channel_id=row.id)), Crumb("Resume")),
            channel=row,
        )
    if row.halted and two_person(session(), row.partner_id):
        try:
            use_approval(session(), row, "resume", resume_digest(row), actor=actor.name)
        except ApprovalRequired as exc:
            return channel_page(row, errors={"approval": [exc.detail]}, status=exc.status)
    set_halt(session(), row, halted=False, reason="", actor=actor.name)
    return finish(
        f"Channel {row.name} resumed: its control file decides again from the next poll.",
        "portal.channel",
        channel_id=row.id,
    )


# ---- the control file as a form ---------------------------------------------------------------


def document_form(document: dict[str, Any]) -> dict[str, str]:
    """The form fields showing a control file (``releases-<n>-<field>`` for each release line)."""
    form = {
        "default_mode": document.get("default_mode", "passive"),
        "minimum_version": document.get("minimum_version") or "",
        "blocked_versions": ", ".join(document.get("blocked_versions") or []),
        "notes": document.get("notes") or "",
    }
    for n, entry in enumerate(document.get("releases") or []):
        form[f"releases-{n}-version"] = entry.get("version", "")
        form[f"releases-{n}-rollout_percent"] = str(entry.get("rollout_percent", ""))
        form[f"releases-{n}-available_from"] = entry.get("available_from") or ""
        form[f"releases-{n}-critical"] = "on" if entry.get("critical") else ""
        form[f"releases-{n}-platforms"] = ", ".join(entry.get("platforms") or [])
    return form


def _number(text: str) -> Any:
    """A rollout percentage as JSON wants it (the gate names the field when it is not a number)."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def form_document(form: dict[str, str], channel_name: str) -> dict[str, Any]:
    """The control file a submitted form describes (empty release lines are left out)."""
    document: dict[str, Any] = {"schema_version": 1, "channel": channel_name, "default_mode": form.get("default_mode")}
    if form.get("minimum_version", "").strip():
        document["minimum_version"] = form["minimum_version"].strip()
    blocked = [v.strip() for v in form.get("blocked_versions", "").split(",") if v.strip()]
    if blocked:
        document["blocked_versions"] = blocked
    if form.get("notes", "").strip():
        document["notes"] = form["notes"].strip()
    entries = []
    for n in range(100):
        version = form.get(f"releases-{n}-version", "").strip()
        if f"releases-{n}-version" not in form:
            break
        if not version:
            continue
        entry: dict[str, Any] = {
            "version": version,
            "rollout_percent": _number(form.get(f"releases-{n}-rollout_percent", "").strip()),
        }
        if form.get(f"releases-{n}-available_from", "").strip():
            entry["available_from"] = form[f"releases-{n}-available_from"].strip()
        if form.get(f"releases-{n}-critical"):
            entry["critical"] = True
        platforms = [p.strip() for p in form.get(f"releases-{n}-platforms", "").split(",") if p.strip()]
        if platforms:
            entry["platforms"] = platforms
        entries.append(entry)
    document["releases"] = entries
    return document


def gate_errors(problems: list[dict[str, str]], document: dict[str, Any], form: dict[str, str]) -> dict[str, list[str]]:
    """The readiness gate's problems by form field (``releases[0].version`` -> ``releases-<line>-version``)."""
    # release lines of the document map back to the form lines they came from (empty lines are skipped)
    lines = [n for n in range(100) if form.get(f"releases-{n}-version", "").strip()]
    errors: dict[str, list[str]] = {}
    for problem in problems:
        path, message = problem.get("path", ""), problem.get("message", "")
        name = path.split("[")[0].split(".")[0]
        if path.startswith("releases[") and "]" in path:
            index = path[len("releases[") : path.index("]")]
            rest = path[path.index("]") + 1 :].lstrip(".").split("[")[0].split(".")[0]
            if index.isdigit() and int(index) < len(lines):
                name = f"releases-{lines[int(index)]}-{rest or 'version'}"
        elif name not in ("default_mode", "minimum_version", "blocked_versions", "notes"):
            name = ""
        errors.setdefault(name, []).append(message)
    if not document.get("releases") and "releases" not in errors:
        errors.setdefault("", [])
    return {k: v for k, v in errors.items() if v}


def _control_page(channel: Channel | None, form, *, errors=None, report=None, status: int = 200, name: str = ""):
    lines = max([int(k.split("-")[1]) + 1 for k in form if k.startswith("releases-")] or [0])
    title = f"Control file of {channel.name}" if channel else "New channel"
    partner_id = channel.partner_id if channel else partner_filter(None)
    crumbs = _crumbs(
        *([Crumb(f"Channel {channel.name}", url_for("portal.channel", channel_id=channel.id))] if channel else []),
        Crumb("Control file" if channel else "New channel"),
    )
    return render_page(
        "portal/control_file.html",
        title=title,
        status=status,
        crumbs=crumbs,
        channel=channel,
        channel_name=name,
        form=form,
        lines=range(lines + RELEASE_ROWS if status == 200 and report is None else max(lines, 1)),
        modes=MODES,
        errors=errors or {},
        report=report,
        releases=_rows(Release, Release.id.desc(), 200),
        two_person=bool(partner_id and two_person(session(), partner_id)),
    )


def _ask_activation(partner_id: int, name: str, raw: bytes, *, actor: str):
    """Under two-person activation the form asks for a second person's approval of exactly these bytes."""
    channel = get_or_create_channel(session(), partner_id, name)  # an approval may precede the first file
    digest = activation_digest(channel, raw)
    keep_document(current_app.extensions["livery.stores"], digest, raw)
    request_approval(session(), channel, "activate", digest, actor=actor)
    return finish(
        "Waiting for approval: another person of the partner approves this control file, then it can be activated.",
        "portal.channel",
        channel_id=channel.id,
    )


def _control(channel: Channel | None):
    actor = require_role("admin")
    if request.method == "GET":
        return _control_page(channel, document_form(_active_document(channel)))
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "action", "channel_name")}
    name = channel.name if channel else request.form.get("channel_name", "").strip()
    if channel is None and not is_channel_name(name):
        errors = {"channel_name": ["Must be a channel name: lower-case letters, digits and hyphens."]}
        return _control_page(None, form, errors=errors, status=422, name=name)
    partner_id = (
        channel.partner_id
        if channel
        else acting_partner(form_id(request.form.get("partner_id", "")) if actor.is_operator else None).id
    )
    document = form_document(form, name)
    raw = json.dumps(document).encode()
    stores = current_app.extensions["livery.stores"]
    report = readiness_report(session(), stores, partner_id, name, raw)
    if not report["ready"] or request.form.get("action") != "activate":
        errors = gate_errors(report["problems"], document, form)
        return _control_page(
            channel, form, errors=errors, report=report, status=200 if report["ready"] else 422, name=name
        )
    if two_person(session(), partner_id):
        return _ask_activation(partner_id, name, raw, actor=actor.name)
    try:
        row = upload_control_file(session(), stores, partner_id, name, raw, actor=actor.name)
    except ControlFileRejected as exc:  # raced with another upload: show what the gate says now
        session().rollback()
        return _control_page(channel, form, errors=gate_errors(exc.errors, document, form), status=422, name=name)
    target = session().get(Channel, row.channel_id)
    return finish(f"Control file serial {row.serial} is active on {name}.", "portal.channel", channel_id=target.id)


@bp.route("/channels/<int:channel_id>/control-file", methods=["GET", "POST"])
@portal_view()
def control_file(channel_id: int):
    """The channel's control file as a form: check it (the readiness gate's dry run), then activate it."""
    return _control(load_owned(Channel, channel_id, "channel"))


@bp.route("/channels/new", methods=["GET", "POST"])
@portal_view()
def new_channel():
    """A first control file creates a channel."""
    return _control(None)
