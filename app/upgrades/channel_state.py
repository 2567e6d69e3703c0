"""What an upgrade answer of one channel depends on, loaded once, and the decisions made from it.

``load_channel_state`` reads the channel's active control file (checked against the digest
recorded at activation), its halt switch and the partner's published installers: everything the
public endpoint caches per worker and the admin ``explain`` evaluates fresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.problems import Problem
from app.storage import StorageError, Stores
from app.upgrades.control_file import ControlFile, ReleaseEntry, parse_control_file
from app.upgrades.decision import Decision, decide_upgrade
from app.upgrades.models import ControlFile as ControlFileRow
from app.upgrades.models import Release
from app.upgrades.services import find_channel, read_control_file
from app.upgrades.versions import Version

MANIFEST_KIND = "upgrade_manifest"


@dataclass(frozen=True)
class Installer:
    """Where a client downloads one release (version x platform) and how to check it."""

    source: str  # stored | external
    sha256: str
    size: int
    external_url: str | None
    release_notes_url: str | None
    file_name: str | None = None


@dataclass(frozen=True)
class ChannelState:
    """Everything an upgrade answer of one channel depends on (cached per worker)."""

    partner_id: int
    name: str
    serial: int  # 0 when no control file is active
    control: ControlFile | None
    halted: bool
    halt_reason: str
    installers: Mapping[tuple[str, str], Installer] = field(default_factory=dict)


def load_channel_state(session: Session, stores: Stores, partner_id: int, name: str) -> ChannelState:
    """The channel's active control file, halt switch and installers, ready for decisions."""
    channel = find_channel(session, partner_id, name)
    if channel is None or channel.active_serial is None:
        halted = bool(channel and channel.halted)
        return ChannelState(partner_id, name, 0, None, halted, channel.halt_reason if channel else "")
    row = session.scalar(
        select(ControlFileRow).where(
            ControlFileRow.channel_id == channel.id, ControlFileRow.serial == channel.active_serial
        )
    )
    try:
        control = parse_control_file(read_control_file(stores, row))
    except (StorageError, Problem):
        if not channel.halted:
            raise
        # a halt answers "halted" whatever the object store holds: nothing of the file is offered
        return ChannelState(partner_id, name, row.serial, None, True, channel.halt_reason)
    installers: dict[tuple[str, str], Installer] = {}
    for release in session.scalars(
        select(Release).where(Release.partner_id == partner_id, Release.status == "published")
    ):
        installers[(release.version, release.platform)] = Installer(
            release.source,
            release.sha256,
            release.bytes,
            release.external_url,
            release.release_notes_url,
            release.file_name,
        )
    # A release yanked after activation must stop being offered at once: drop it from its entry.
    entries = tuple(
        replace(e, platforms=frozenset(p for p in e.platforms if (e.version.text, p) in installers))
        for e in control.releases
    )
    control = replace(control, releases=entries)
    return ChannelState(partner_id, name, row.serial, control, channel.halted, channel.halt_reason, installers)


def installer_target(state: ChannelState, entry: ReleaseEntry, platform: str, base_url: str) -> dict[str, Any]:
    """What a client downloads for ``entry`` on ``platform``: URL (Livery's or the partner's), digest, size."""
    # The control file and the installers come from one snapshot, in which every offered
    # (version, platform) has a published installer (see load_channel_state).
    installer = state.installers[(entry.version.text, platform)]
    if installer.source == "external":
        url = installer.external_url
    else:
        url = f"{base_url.rstrip('/')}/v1/installers/{installer.sha256}"
    return {
        "version": entry.version.text,
        "platform": platform,
        "installer_url": url,
        "sha256": installer.sha256,
        "bytes": installer.size,
        "release_notes_url": installer.release_notes_url,
        # what the client saves it as: the partner's name for it, never the URL's (a vendor's) name
        "file_name": installer.file_name,
    }


def upgrade_manifest(state: ChannelState, code_digest: str, base_url: str) -> dict[str, Any]:
    """The channel's offer as one document for static hosting: the inputs of the decision, bound to a code.

    A static host cannot decide per poll, so the client does, by the rules of
    docs/client-protocol.md: every field it needs is here, and nothing that changes per poll.
    """
    control = None if state.halted else state.control
    releases = sorted(control.releases, key=lambda e: e.version, reverse=True) if control else []
    return {
        "kind": MANIFEST_KIND,
        "access_code_digest": code_digest,
        "channel": state.name,
        "serial": state.serial,
        "halted": state.halted,
        "configured": state.control is not None,
        "default_mode": control.default_mode if control else None,
        "minimum_version": control.minimum_version.text if control and control.minimum_version else None,
        "blocked_versions": sorted(v.text for v in control.blocked_versions) if control else [],
        "releases": [
            {
                "version": entry.version.text,
                "rollout_bp": entry.rollout_bp,
                "available_from": entry.available_from.isoformat().replace("+00:00", "Z")
                if entry.available_from
                else None,
                "critical": entry.critical,
                "targets": {p: installer_target(state, entry, p, base_url) for p in sorted(entry.platforms)},
            }
            for entry in releases
        ],
    }


def decide_for(state: ChannelState, version: Version, platform: str, install_id: str, now: datetime) -> Decision:
    """The upgrade decision for one client under ``state``."""
    return decide_upgrade(
        state.control,
        client_version=version,
        platform=platform,
        install_id=install_id,
        now=now,
        halted=state.halted,
        halt_reason=state.halt_reason or None,
    )


def explain(state: ChannelState, version: Version, platform: str, install_id: str, now: datetime) -> dict[str, Any]:
    """The decision for one client and every reason behind it (for partners' support desks)."""
    decision = decide_for(state, version, platform, install_id, now)
    target = decision.target
    if_resumed = None
    if state.halted:
        # What the client gets once the halt is lifted: buckets and rollout matter to the support desk now.
        resumed = decide_for(replace(state, halted=False), version, platform, install_id, now)
        if_resumed = {
            "action": resumed.action,
            "reason": resumed.reason,
            "target": resumed.target.version.text if resumed.target else None,
            "details": resumed.details,
        }
    return {
        "channel": state.name,
        "serial": state.serial,
        "client": {"version": version.text, "platform": platform, "install_id": install_id},
        "action": decision.action,
        "reason": decision.reason,
        "target": target.version.text if target else None,
        "halted": state.halted,
        "halt_reason": state.halt_reason or None,
        "default_mode": state.control.default_mode if state.control else None,
        "blocked_versions": sorted(v.text for v in state.control.blocked_versions) if state.control else [],
        "details": decision.details,
        "if_resumed": if_resumed,
        "evaluated_at": now.isoformat(),
    }
