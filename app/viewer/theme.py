"""A branded viewer's look (pure): validated brand colours and a text colour readable on them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_HEX = re.compile(r"#[0-9a-fA-F]{6}")
STANDARD_PRIMARY = "#24466b"
STANDARD_ACCENT = "#b3541e"
DARK_TEXT, LIGHT_TEXT = "#000000", "#ffffff"  # one of the two always reaches 4.58:1
MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(background: str) -> str:
    """The text colour (black or white) with the higher contrast on ``background`` (always >= 4.5:1)."""
    return DARK_TEXT if contrast(DARK_TEXT, background) >= contrast(LIGHT_TEXT, background) else LIGHT_TEXT


@dataclass(frozen=True)
class Theme:
    """What a viewer page shows of a brand (the standard viewer has ``branded`` False)."""

    branded: bool
    title: str
    primary: str
    accent: str
    on_primary: str
    on_accent: str
    logo_sha256: str | None = None
    support_url: str | None = None
    eula_url: str | None = None


def _colour(value: Any, fallback: str) -> str:
    return value.lower() if isinstance(value, str) and _HEX.fullmatch(value) else fallback


def standard_theme(title: str = "CRM integrations") -> Theme:
    """The standard viewer's look."""
    return Theme(
        False,
        title,
        STANDARD_PRIMARY,
        STANDARD_ACCENT,
        text_colour_on(STANDARD_PRIMARY),
        text_colour_on(STANDARD_ACCENT),
    )


def brand_theme(content: dict[str, Any]) -> Theme:
    """A CI-C brand's viewer look from its content; colours that are not ``#rrggbb`` fall back to the standard."""
    primary = _colour(content.get("viewer_primary_color"), STANDARD_PRIMARY)
    accent = _colour(content.get("viewer_accent_color"), STANDARD_ACCENT)
    return Theme(
        branded=True,
        title=content.get("viewer_name") or content["product_name"],
        primary=primary,
        accent=accent,
        on_primary=text_colour_on(primary),
        on_accent=text_colour_on(accent),
        logo_sha256=content.get("viewer_logo"),
        support_url=content.get("support_url"),
        eula_url=content.get("eula_url"),
    )
