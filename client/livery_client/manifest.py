"""Deciding an upgrade from a static upgrade manifest, exactly as the API would (protocol §9).

A static host serves one signed manifest per access code: the channel's offer (releases with
their rollout shares, availability, criticality and installers per platform; minimum and blocked
versions; default mode; halt switch). ``decide_from_manifest`` applies the rules of
docs/client-protocol.md to it and returns the payload the API would have signed for this poll,
so the rest of the client treats both the same.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from livery_client.versions import version_key

MANIFEST_KIND = "upgrade_manifest"
BUCKETS = 10_000
FULL_ROLLOUT_BP = 10_000
# what the API adds to the payload of a poll without install_id (protocol §4)
INSTALL_ID_MISSING = (
    "install_id_missing: staged releases (rollout_percent below 100) are never offered without install_id"
)


def rollout_bucket(install_id: str, version: str) -> int:
    """The install's stable bucket (0..9999) for one release: sha256 of "<install id>\\n<version>"."""
    digest = hashlib.sha256(f"{install_id}\n{version}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def _eligible(release: dict[str, Any], client: tuple, platform: str, install_id: str | None, now: datetime) -> bool:
    available_from = release["available_from"]
    if available_from is not None and datetime.fromisoformat(available_from.replace("Z", "+00:00")) > now:
        return False
    if version_key(release["version"]) <= client or platform not in release["targets"]:
        return False
    if release["rollout_bp"] >= FULL_ROLLOUT_BP:
        return True
    return install_id is not None and rollout_bucket(install_id, release["version"]) < release["rollout_bp"]


def decide_from_manifest(
    manifest: dict[str, Any], *, version: str, platform: str, install_id: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """The upgrade payload for this client under ``manifest`` (KeyError/ValueError when malformed)."""
    if manifest.get("kind") != MANIFEST_KIND:
        raise ValueError("not an upgrade manifest")
    now = now or datetime.now(UTC)
    client = version_key(version)
    answer: dict[str, Any] = {
        "serial": manifest["serial"],
        "channel": manifest["channel"],
        "platform": platform,
        "client_version": version,
        "target": None,
    }
    if not install_id:
        answer["warnings"] = [INSTALL_ID_MISSING]
    if manifest["halted"]:
        return {**answer, "action": "none", "reason": "halted"}
    if not manifest["configured"]:
        return {**answer, "action": "none", "reason": "not_configured"}
    releases = sorted(manifest["releases"], key=lambda r: version_key(r["version"]), reverse=True)
    target = next((r for r in releases if _eligible(r, client, platform, install_id or None, now)), None)
    if target is None:
        # held back = would be offered but for the rollout share (or a missing install id)
        held_back = any(_eligible({**r, "rollout_bp": FULL_ROLLOUT_BP}, client, platform, None, now) for r in releases)
        return {**answer, "action": "none", "reason": "not_in_rollout" if held_back else "up_to_date"}
    minimum = manifest["minimum_version"]
    below_minimum = minimum is not None and client < version_key(minimum)
    blocked = any(version_key(v) == client for v in manifest["blocked_versions"])
    dynamic = below_minimum or blocked or target["critical"]
    action = "dynamic" if dynamic else manifest["default_mode"]
    return {**answer, "action": action, "reason": "offered", "target": target["targets"][platform]}
