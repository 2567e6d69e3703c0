"""A channel's control file as a form: each release line with its rollout percentage, checked by
the readiness gate (the admin API's dry run) before it is activated; a first file creates a channel.
Under two-person activation the form asks for a second person's approval of exactly those bytes.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request, url_for

from app.api.admin.auth import acting_partner, load_owned, partner_filter, require_role
from app.db import session
from app.formats import is_channel_name
from app.portal.pages import Crumb, render_page
from app.portal.screens import finish, form_id
from app.portal.views.catalogue import active_document, catalogue_crumbs, partner_rows
from app.portal.web import bp, portal_view
from app.upgrades.approvals import AlreadyAsked, activation_digest, keep_document, request_approval, two_person
from app.upgrades.control_file import MODES
from app.upgrades.models import Channel, Release
from app.upgrades.services import ControlFileRejected, get_or_create_channel, readiness_report, upload_control_file

RELEASE_ROWS = 5  # release lines of the control-file form beyond those already in the file


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
    crumbs = catalogue_crumbs(
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
        releases=partner_rows(Release, Release.id.desc(), 200),
        two_person=bool(partner_id and two_person(session(), partner_id)),
    )


def _ask_activation(partner_id: int, name: str, raw: bytes, *, actor: str):
    """Under two-person activation the form asks for a second person's approval of exactly these bytes."""
    channel = get_or_create_channel(session(), partner_id, name)  # an approval may precede the first file
    digest = activation_digest(channel, raw)
    keep_document(current_app.extensions["livery.stores"], digest, raw)
    try:
        request_approval(session(), channel, "activate", digest, actor=actor)
    except AlreadyAsked as exc:  # this very file was asked for already: the channel page shows that request
        session().rollback()
        return finish(exc.detail, "portal.channel", channel_id=channel.id)
    return finish(
        "Waiting for approval: another person of the partner approves this control file, then it can be activated.",
        "portal.channel",
        channel_id=channel.id,
    )


def _control(channel: Channel | None):
    actor = require_role("admin")
    if request.method == "GET":
        return _control_page(channel, document_form(active_document(channel)))
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
