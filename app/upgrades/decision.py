"""The upgrade decision: what one installed client should do now (pure).

``decide_upgrade`` reads an activated control file (platforms already resolved, see
``readiness.resolve_platforms``) and the client's facts, and answers ``none``, ``passive`` or
``dynamic`` with a target release and an explanation. It depends on nothing else, so the same
inputs always give the same answer, wherever and whenever it is computed.

Staged rollout: each (install id, release version) pair falls in a stable bucket 0..9999; an
install is in a release's rollout when its bucket is below the release's share in basis points.
Raising a share therefore only ever adds installs, and because each version has its own buckets
the same installs are not always the first to receive every release.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.upgrades.control_file import FULL_ROLLOUT_BP, ControlFile, ReleaseEntry
from app.upgrades.versions import Version

ACTIONS = ("none", "passive", "dynamic")
BUCKETS = 10_000


@dataclass(frozen=True)
class Decision:
    """The answer for one client; ``details`` explains it and is JSON-ready (no floats)."""

    action: str  # "none" | "passive" | "dynamic"
    target: ReleaseEntry | None
    reason: str  # "offered" | "halted" | "not_configured" | "up_to_date" | "not_in_rollout"
    details: dict[str, Any] = field(default_factory=dict)


def rollout_bucket(install_id: str, version_text: str) -> int:
    """The stable rollout bucket (0..9999) of an install for one release version."""
    digest = hashlib.sha256(f"{install_id}\n{version_text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def _percent_text(bp: int) -> str:
    # A string, not a float: details may be signed, and signing refuses floats.
    whole, cents = divmod(bp, 100)
    return f"{whole}" if not cents else f"{whole}.{cents:02d}".rstrip("0")


def _candidate(entry: ReleaseEntry, client: Version, platform: str, install_id: str | None, now: datetime):
    bucket = rollout_bucket(install_id, entry.version.text) if install_id else None
    newer = entry.version > client
    available = entry.available_from is None or entry.available_from <= now
    platform_ok = platform in entry.platforms
    # Without an install id there is no bucket: only a full rollout includes such a client.
    in_rollout = entry.rollout_bp >= FULL_ROLLOUT_BP or (bucket is not None and bucket < entry.rollout_bp)
    if not newer:
        excluded = "not_newer"
    elif not available:
        excluded = "not_available_yet"
    elif not platform_ok:
        excluded = "platform_not_included"
    elif not in_rollout:
        excluded = "no_install_id" if bucket is None else "not_in_rollout"
    else:
        excluded = None
    return {
        "version": entry.version.text,
        "rollout_percent": _percent_text(entry.rollout_bp),
        "rollout_bp": entry.rollout_bp,
        "bucket": bucket,
        "in_rollout": in_rollout,
        "available": available,
        "platform_ok": platform_ok,
        "newer": newer,
        "critical": entry.critical,
        "excluded_because": excluded,
    }


def _details(control: ControlFile | None, halted: bool, halt_reason: str | None) -> dict[str, Any]:
    return {
        "serial": control.serial if control else None,
        "channel": control.channel if control else None,
        "halted": halted,
        "halt_reason": halt_reason,
        "bucket": None,
        "candidates": [],
        "minimum_version": control.minimum_version.text if control and control.minimum_version else None,
        "below_minimum": False,
        "blocked": False,
        "critical": False,
        "mode_reason": None,
    }


def decide_upgrade(
    control: ControlFile | None,
    *,
    client_version: Version,
    platform: str,
    install_id: str | None,
    now: datetime,
    halted: bool = False,
    halt_reason: str | None = None,
) -> Decision:
    """What the client at ``client_version`` on ``platform`` should do under ``control`` at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    details = _details(control, halted, halt_reason)
    if halted:
        return Decision("none", None, "halted", details)
    if control is None:
        return Decision("none", None, "not_configured", details)

    below_minimum = control.minimum_version is not None and client_version < control.minimum_version
    blocked = client_version in control.blocked_versions
    details.update(below_minimum=below_minimum, blocked=blocked)
    entries = sorted(control.releases, key=lambda e: e.version, reverse=True)
    candidates = [_candidate(entry, client_version, platform, install_id or None, now) for entry in entries]
    details["candidates"] = candidates
    eligible = [i for i, c in enumerate(candidates) if c["excluded_because"] is None]
    if not eligible:
        held_back = [c for c in candidates if c["excluded_because"] in {"not_in_rollout", "no_install_id"}]
        if held_back:
            # Only partial rollouts are held back here: a full one would have been eligible.
            details["bucket"] = held_back[0]["bucket"]
            return Decision("none", None, "not_in_rollout", details)
        return Decision("none", None, "up_to_date", details)

    target = entries[eligible[0]]  # entries are sorted highest first
    details["bucket"] = candidates[eligible[0]]["bucket"]
    details["critical"] = target.critical
    if below_minimum:
        mode_reason = "below_minimum"
    elif blocked:
        mode_reason = "blocked_version"
    elif target.critical:
        mode_reason = "critical"
    else:
        mode_reason = "default_mode"
    details["mode_reason"] = mode_reason
    action = control.default_mode if mode_reason == "default_mode" else "dynamic"
    return Decision(action, target, "offered", details)
