"""What the CLI prints: readable text for people, JSON for scripts, a progress bar on stderr."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from livery_client.branding import LaunchResult
from livery_client.codes import format_code
from livery_client.licence import Licence
from livery_client.upgrade import UpgradeDecision


def dump_json(value: Any) -> str:
    """JSON text with paths as strings (stable key order for diffing)."""
    return json.dumps(value, indent=2, sort_keys=True, default=lambda o: str(o) if isinstance(o, Path) else repr(o))


def launch_json(result: LaunchResult) -> dict[str, Any]:
    """The launch result as plain JSON-able data."""
    data = asdict(result)
    data["asset_paths"] = {role: str(path) for role, path in result.asset_paths.items()}
    return data


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render_licence(licence: Licence) -> str:
    """A readable summary of a licence answer."""
    verdict = "LICENSED" if licence.licensed else "NOT LICENSED"
    source = " (stored lease, offline)" if licence.offline else " (stored lease)" if licence.reused else ""
    lines = [
        f"{verdict}: {licence.status}{source}",
        f"  user          {licence.user_id}",
        f"  licence type  {licence.licence_type or '-'}",
        f"  method        {licence.method}",
        f"  issued at     {licence.issued_at}",
        f"  lease until   {licence.lease_until}",
        f"  signed by     {licence.key_id}",
    ]
    if licence.renew_at is not None:
        lines.append(f"  renew at      {rfc3339(licence.renew_at)}")
    return "\n".join(lines)


def rfc3339(epoch: float | None) -> str:
    """An epoch time as RFC 3339 UTC, whole seconds."""
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_launch(result: LaunchResult, code: str) -> str:
    """A readable summary of a launch."""
    doc = result.branding
    product = doc.get("product") or {}
    viewer = doc.get("crm_viewer") or {}
    upgrade = doc.get("upgrade") or {}
    revision = "draft preview" if doc.get("revision") is None else f"revision {doc.get('revision')}"
    lines = [
        f"{product.get('name')} ({product.get('short_name')}) by {product.get('publisher') or '-'}",
        f"  access code   {format_code(code)}  [{revision}]",
        f"  level         {doc.get('branding_level')} (part number {doc.get('part_number')})",
        f"  install to    {product.get('install_folder')}",
        f"  support       {product.get('support_url') or '-'}   EULA {product.get('eula_url') or '-'}",
        f"  CRM viewer    {viewer.get('kind')}"
        + (f' "{viewer.get("name")}"' if viewer.get("name") else "")
        + f" {viewer.get('url') or ''}",
        f"  licensing     {(doc.get('licensing') or {}).get('method')}",
        f"  upgrades      {'enabled' if upgrade.get('enabled') else 'disabled'}, channel {upgrade.get('channel')}",
        "  assets",
    ]
    for role, asset in sorted((doc.get("assets") or {}).items()):
        if asset is None:
            lines.append(f"    {role:<17} -")
            continue
        where = result.asset_paths.get(role, "(not downloaded)")
        fresh = "  (downloaded now)" if role in result.downloaded_assets else ""
        lines.append(
            f"    {role:<17} {where}  {asset.get('width')}x{asset.get('height')} {_size(asset['bytes'])}{fresh}"
        )
    if "viewer_logo" in result.asset_paths:
        lines.append(f"    {'viewer_logo':<17} {result.asset_paths['viewer_logo']}")
    fresh_from = "the static root" if result.origin == "static" else "the service"
    status = {"fresh": f"fresh from {fresh_from}", "not_modified": "unchanged (304)", "stale": "STALE (cached)"}
    lines.append(f"  status        {status.get(result.status, result.status)}")
    if result.first_launch:
        lines.append("  changes       first launch")
    elif result.changed_fields:
        lines.append("  changes       " + ", ".join(result.changed_fields))
    return "\n".join(lines)


def render_decision(decision: UpgradeDecision) -> str:
    """A readable summary of an upgrade decision."""
    where = f"channel {decision.channel}, serial {decision.serial}, signed by {decision.key_id}"
    if decision.origin == "static":
        where += ", decided here from the static manifest"
    if decision.target is None or decision.action == "none":
        return f"No upgrade: {decision.reason} ({decision.client_version} on {decision.platform}; {where})"
    target = decision.target
    how = "upgrade now (dynamic)" if decision.action == "dynamic" else "offered (passive: the user chooses when)"
    lines = [
        f"Upgrade {decision.client_version} -> {target.version} on {target.platform}: {how}",
        f"  installer     {target.installer_url} ({_size(target.bytes)})",
        f"  sha256        {target.sha256}",
        f"  release notes {target.release_notes_url or '-'}",
        f"  reason        {decision.reason}; {where}",
    ]
    return "\n".join(lines)


class ProgressBar:
    """A one-line download bar on a terminal stream; redraws only when the shown value changes."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` bytes."""
        per_mille = 1000 if total <= 0 else min(1000, done * 1000 // total)
        shown = (per_mille, done // (1024 * 1024))
        if shown == self._last:
            return
        self._last = shown
        filled = per_mille * self.width // 1000
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {per_mille / 10:5.1f}%  {_size(done)} / {_size(total)}")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self._last is not None:
            self.stream.write("\n")
            self.stream.flush()
