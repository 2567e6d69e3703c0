"""Brand content: its fields, defaults and the rules a draft must keep (pure).

Content is a flat mapping so that a PATCH, a diff and a publish are all plain dictionary work.
Assets are referenced by sha256 under their role name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from app.formats import CHANNEL_NAME_HINT, https_url_problem, is_channel_name, is_sha256

INSTALL_FOLDER = "Partner CRM"
BRANDING_LEVELS = {"CI-B": "BRAND-CIB-MBX0BL", "CI-C": "BRAND-CIC-MBX0CL"}
LICENSING_METHODS = ("portal", "web_service", "proprietary")
ASSET_ROLES = ("tray_icon", "app_icon_windows", "app_icon_macos", "splash", "viewer_logo")
VIEWER_FIELDS = ("viewer_name", "viewer_logo", "viewer_url", "viewer_primary_color", "viewer_accent_color")
URL_FIELDS = ("support_url", "eula_url", "viewer_url")
TEXT_LIMITS = {"product_name": 80, "short_name": 32, "publisher": 120, "viewer_name": 80, "upgrade_channel": 63}
SPLASH_SECONDS = (1, 15)
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

DEFAULT_CONTENT: dict[str, Any] = {
    "product_name": "CRM Integrator",
    "short_name": "CRM",
    "publisher": "",
    "support_url": None,
    "eula_url": None,
    "branding_level": "CI-B",
    "licensing_method": "portal",
    "upgrade_channel": "stable",
    "tray_icon": None,
    "app_icon_windows": None,
    "app_icon_macos": None,
    "splash": None,
    "splash_seconds": 3,
    "viewer_name": None,
    "viewer_logo": None,
    "viewer_url": None,
    "viewer_primary_color": None,
    "viewer_accent_color": None,
}
CONTENT_FIELDS = tuple(DEFAULT_CONTENT)


def _text_problem(value: Any, limit: int, *, required: bool) -> str | None:
    if value is None or value == "":
        return "Must not be empty." if required else None
    if not isinstance(value, str):
        return "Must be a string."
    if value != value.strip():
        return "Must not start or end with spaces."
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in value):
        return "Must not contain control or invisible formatting characters."
    if len(value) > limit:
        return f"Must be at most {limit} characters."
    return None


def content_problems(content: dict[str, Any]) -> dict[str, list[str]]:
    """Every rule ``content`` breaks, by field name (empty when the content is valid)."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str | None) -> None:
        if message:
            problems.setdefault(field, []).append(message)

    unknown = set(content) - set(CONTENT_FIELDS)
    for field in sorted(unknown):
        if field == "install_folder":
            add(field, f'The installation folder is always "{INSTALL_FOLDER}" and cannot be branded.')
        else:
            add(field, "Unknown field.")
    for field, limit in TEXT_LIMITS.items():
        add(
            field,
            _text_problem(
                content.get(field), limit, required=field in {"product_name", "short_name", "upgrade_channel"}
            ),
        )
    if isinstance(content.get("upgrade_channel"), str) and not is_channel_name(content["upgrade_channel"]):
        add("upgrade_channel", f"Must be a channel name: {CHANNEL_NAME_HINT}.")
    for field in URL_FIELDS:
        if content.get(field) is not None:
            add(field, https_url_problem(content[field]))
    if content.get("branding_level") not in BRANDING_LEVELS:
        add("branding_level", f"Must be one of {', '.join(BRANDING_LEVELS)}.")
    if content.get("licensing_method") not in LICENSING_METHODS:
        add("licensing_method", f"Must be one of {', '.join(LICENSING_METHODS)}.")
    for role in ASSET_ROLES:
        value = content.get(role)
        if value is not None and not is_sha256(value):
            add(role, "Must be the sha256 of an uploaded asset, or null.")
    seconds = content.get("splash_seconds")
    low, high = SPLASH_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not low <= seconds <= high:
        add("splash_seconds", f"Must be a whole number of seconds from {low} to {high}.")
    for field in ("viewer_primary_color", "viewer_accent_color"):
        value = content.get(field)
        if value is not None and (not isinstance(value, str) or not _COLOR_RE.match(value)):
            add(field, "Must be a colour like #1a2b3c.")
    if content.get("branding_level") == "CI-B":
        for field in VIEWER_FIELDS:
            if content.get(field) is not None:
                add(field, "Branded CRM viewer settings need branding level CI-C; CI-B brands use the standard viewer.")
    return problems


def apply_patch(content: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A new content mapping with ``changes`` applied (validation is separate)."""
    merged = dict(content)
    merged.update(changes)
    return merged


def new_content(**fields: Any) -> dict[str, Any]:
    """Default content with ``fields`` set."""
    return apply_patch(DEFAULT_CONTENT, fields)


def content_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields whose values differ, each as ``{"from": old, "to": new}``."""
    old = old or {}
    return {
        field: {"from": old.get(field), "to": new.get(field)}
        for field in CONTENT_FIELDS
        if old.get(field) != new.get(field)
    }


def referenced_assets(content: dict[str, Any]) -> list[str]:
    """The sha256 of every asset the content uses."""
    return [content[role] for role in ASSET_ROLES if content.get(role)]
