"""Upgrade services: channels, control files (upload → gate → store → activate), halt and explain.

No commits: the caller owns the unit of work. Control-file bytes are written to the control_files
store under ``<partner_id>/<channel>/<serial>.json`` before the database commit, so a crash leaves
at most an unreferenced object; the database row names the object and its sha256.

``channel_ready`` (the discovery document's ``upgrade.enabled``) is True as soon as a channel has
an active control file, *also while it is halted*: "enabled" means the client should poll, and a
halted channel answers every poll with ``none``/``halted`` until it is resumed.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.db import utcnow
from app.formats import canonical_json, is_channel_name, sha256_hex
from app.problems import NotFound, Problem, ValidationProblem
from app.storage import ObjectStore, Stores
from app.upgrades.control_file import ControlFile, ControlFileInvalid, control_file_to_json, parse_control_file
from app.upgrades.models import Channel, Release
from app.upgrades.models import ControlFile as ControlFileRow
from app.upgrades.readiness import ReleaseFacts, check_against_catalogue, resolve_platforms
from app.webhooks.services import queue_event


class ControlFileRejected(Problem):
    """422 listing every problem of a control file (``errors``: [{"path", "message"}])."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        detail = "The control file was not activated: " + "; ".join(
            f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems
        )
        super().__init__("control_file_invalid", detail, errors=problems)


def find_channel(session: Session, partner_id: int, name: str) -> Channel | None:
    """The channel ``name`` of ``partner_id``, or None."""
    return session.scalar(select(Channel).where(Channel.partner_id == partner_id, Channel.name == name))


def channel_or_404(session: Session, partner_id: int, name: str) -> Channel:
    """The channel ``name`` of ``partner_id``; NotFound (as for any unknown resource) otherwise."""
    channel = find_channel(session, partner_id, name) if is_channel_name(name) else None
    if channel is None:
        raise NotFound(f"No channel {name!r}; upload a control file to create it.")
    return channel


def get_or_create_channel(session: Session, partner_id: int, name: str) -> Channel:
    """The channel ``name`` of ``partner_id``, created (inactive, not halted) on first use."""
    channel = find_channel(session, partner_id, name)
    if channel is None:
        channel = Channel(partner_id=partner_id, name=name)
        session.add(channel)
        session.flush()
    return channel


def channel_ready(session: Session, partner_id: int, channel: str) -> bool:
    """Whether ``channel`` of ``partner_id`` has an active, valid control file (upgrades enabled)."""
    row = find_channel(session, partner_id, channel)
    return row is not None and row.active_serial is not None


def build_catalogue(
    session: Session, installers: ObjectStore, partner_id: int, versions: set[str]
) -> dict[tuple[str, str], ReleaseFacts]:
    """The partner's releases as ReleaseFacts; installer objects are checked for ``versions`` only."""
    catalogue = {}
    for release in session.scalars(select(Release).where(Release.partner_id == partner_id)):
        present = sha_ok = size_ok = True
        if release.source == "stored" and release.version in versions:
            stat = installers.stat(release.sha256) if release.sha256 else None
            present = stat is not None
            sha_ok = present and stat.sha256 == release.sha256
            size_ok = present and stat.size == release.bytes
        catalogue[(release.version, release.platform)] = ReleaseFacts(
            release.version, release.platform, release.status, present, sha_ok, size_ok
        )
    return catalogue


def _current_serial(session: Session, channel: Channel | None) -> int:
    if channel is None or channel.id is None:
        return 0
    current = session.scalar(select(func.max(ControlFileRow.serial)).where(ControlFileRow.channel_id == channel.id))
    return current or 0


def _gate(
    session: Session, stores: Stores, partner_id: int, channel_name: str, raw: bytes, current: int, *, rollback: bool
) -> ControlFile:
    """``raw`` parsed, checked against the partner's catalogue and resolved; ControlFileRejected otherwise."""
    try:
        cf = parse_control_file(raw)
    except ControlFileInvalid as exc:
        raise ControlFileRejected(exc.problems) from None
    if rollback:
        cf = replace(cf, serial=None)  # a rollback is the old content under the next serial
    versions = {entry.version.text for entry in cf.releases}
    catalogue = build_catalogue(session, stores.installers, partner_id, versions)
    problems = check_against_catalogue(cf, catalogue, current_serial=current, expected_channel=channel_name)
    if problems:
        raise ControlFileRejected(problems)
    return resolve_platforms(replace(cf, serial=cf.serial or current + 1), catalogue)


def readiness_report(session: Session, stores: Stores, partner_id: int, channel_name: str, raw: bytes) -> dict:
    """What uploading ``raw`` would do (the readiness gate's verdict), storing and activating nothing."""
    channel = find_channel(session, partner_id, channel_name)
    active = channel.active_serial if channel is not None else None
    try:
        cf = _gate(session, stores, partner_id, channel_name, raw, _current_serial(session, channel), rollback=False)
    except ControlFileRejected as exc:
        return {"ready": False, "serial": None, "active_serial": active, "problems": exc.errors}
    return {
        "ready": True,
        "serial": cf.serial,
        "active_serial": active,
        "problems": [],
        "control_file": control_file_to_json(cf),
    }


def _activate(
    session: Session,
    stores: Stores,
    channel: Channel,
    raw: bytes,
    *,
    actor: str,
    rollback_of: int | None = None,
) -> ControlFileRow:
    # Write the channel row first: a concurrent activation of the same channel now waits for this
    # one and then fails its version check (412), so it can never pick the same serial and
    # overwrite this serial's object in storage before losing at commit.
    channel.updated_at = utcnow()
    session.flush()
    current = _current_serial(session, channel)
    cf = _gate(session, stores, channel.partner_id, channel.name, raw, current, rollback=rollback_of is not None)
    data = canonical_json(control_file_to_json(cf))
    key = f"{channel.partner_id}/{channel.name}/{cf.serial}.json"
    stores.control_files.put_bytes(key, data, content_type="application/json")
    row = ControlFileRow(
        channel_id=channel.id,
        partner_id=channel.partner_id,
        serial=cf.serial,
        schema_version=cf.schema_version,
        object_key=key,
        sha256=sha256_hex(data),
        bytes=len(data),
        rollback_of=rollback_of,
        created_by=actor,
    )
    session.add(row)
    with audited(
        session, actor, "channel.rollback" if rollback_of is not None else "channel.activate", channel
    ) as change:
        channel.active_serial = cf.serial
        channel.updated_at = utcnow()
        change.extra = {"sha256": row.sha256, "rollback_of": rollback_of}
    queue_event(
        session,
        channel.partner_id,
        "control_file.activated",
        {"channel": channel.name, "serial": cf.serial, "sha256": row.sha256, "rollback_of": rollback_of, "by": actor},
    )
    return row


def upload_control_file(
    session: Session, stores: Stores, partner_id: int, channel_name: str, raw: bytes, *, actor: str
) -> ControlFileRow:
    """Validate ``raw`` (schema, then the readiness gate), store it and make it the channel's active file."""
    channel = get_or_create_channel(session, partner_id, channel_name)
    return _activate(session, stores, channel, raw, actor=actor)


def rollback_control_file(session: Session, stores: Stores, channel: Channel, serial: int, *, actor: str):
    """Activate the content of an earlier control file as a new serial (after the same gate)."""
    source = session.scalar(
        select(ControlFileRow).where(ControlFileRow.channel_id == channel.id, ControlFileRow.serial == serial)
    )
    if source is None:
        raise NotFound(f"Channel {channel.name} has no control file with serial {serial}.")
    return _activate(session, stores, channel, read_control_file(stores, source), actor=actor, rollback_of=serial)


def read_control_file(stores: Stores, row: ControlFileRow) -> bytes:
    """The stored bytes of a control file, checked against the digest recorded at activation."""
    data = stores.control_files.read(row.object_key)
    if sha256_hex(data) != row.sha256:
        raise Problem("control_file_corrupt", f"{row.object_key} changed in storage; re-activate a file.")
    return data


def control_file_history(session: Session, channel: Channel) -> list[ControlFileRow]:
    """Every control file of ``channel``, newest first."""
    return list(
        session.scalars(
            select(ControlFileRow).where(ControlFileRow.channel_id == channel.id).order_by(ControlFileRow.serial.desc())
        )
    )


def set_guard(session: Session, channel: Channel, changes: dict, *, actor: str) -> Channel:
    """Change the channel's automatic halt guard (audited)."""
    with audited(session, actor, "channel.guard", channel):
        for name in ("guard_enabled", "guard_failure_bp", "guard_min_reports", "guard_window_minutes"):
            if name in changes:
                setattr(channel, name, changes[name])
    return channel


def set_halt(session: Session, channel: Channel, *, halted: bool, reason: str, actor: str) -> Channel:
    """Halt (every answer becomes none/halted on the next poll) or resume ``channel``; audited."""
    if halted and not reason.strip():
        raise ValidationProblem({"reason": ["Say why the channel is halted (it is shown in explain and audit)."]})
    with audited(session, actor, "channel.halt" if halted else "channel.resume", channel) as change:
        channel.halted = halted
        channel.halt_reason = reason.strip() if halted else ""
        channel.halted_at = utcnow() if halted else None
        channel.halted_by = actor if halted else ""
        if not halted:  # the guard counts afresh: the failures that halted the channel were seen already
            channel.guard_since = utcnow()
        change.extra = {"reason": reason}
    event = "channel.halted" if halted else "channel.resumed"
    queue_event(
        session, channel.partner_id, event, {"channel": channel.name, "reason": channel.halt_reason, "by": actor}
    )
    return channel
