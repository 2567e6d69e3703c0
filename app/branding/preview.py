"""How the client will show a brand's content (pure): text that fits, truncation, splash, viewer colours.

The desktop client's limits, as the preview shows them:

- tray tooltip: Windows keeps 127 characters (``NOTIFYICONDATA.szTip`` holds 128 with the NUL);
  the client's tooltip is "product name (publisher)" and is cut there with an ellipsis;
- window title bar: the main window opens 480 px wide, which shows about 42 characters of the
  product name in Segoe UI 9 pt next to the icon and the window buttons;
- About box: the product name line is 260 px wide, about 30 characters in bold;
- splash: shown at its own size (its real aspect ratio) for ``splash_seconds``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from app.viewer.theme import MIN_CONTRAST, brand_theme, contrast

TOOLTIP_LIMIT = 127
TITLE_FITS = 42
ABOUT_FITS = 30
ELLIPSIS = "…"


class Fitted(NamedTuple):
    """A text as the client shows it: ``shown`` (maybe cut) and whether it was cut."""

    full: str
    shown: str
    truncated: bool


def fit(text: str, limit: int) -> Fitted:
    """``text`` cut to ``limit`` characters (the last one an ellipsis) when longer."""
    text = text or ""
    if len(text) <= limit:
        return Fitted(text, text, False)
    return Fitted(text, text[: limit - 1] + ELLIPSIS, True)


def tooltip_text(content: dict[str, Any]) -> str:
    """The tray icon's tooltip before any cut."""
    name, publisher = content.get("product_name") or "", content.get("publisher") or ""
    return f"{name} ({publisher})" if publisher else name


def contrast_warnings(primary: str, accent: str, on_primary: str) -> list[str]:
    """What in the branded viewer's colours reads below WCAG AA (4.5:1)."""
    warnings = []
    pairs = (
        ("accent buttons on the primary colour", accent, primary),
        ("primary-coloured links on the white page", primary, "#ffffff"),
        ("text on the primary colour", on_primary, primary),
    )
    for what, fore, back in pairs:
        ratio = contrast(fore, back)
        if ratio < MIN_CONTRAST:
            warnings.append(f"Contrast of {what} is {ratio:.2f}:1, below {MIN_CONTRAST}:1.")
    return warnings


def client_preview(content: dict[str, Any]) -> dict[str, Any]:
    """Everything the preview pane shows of ``content`` besides the images themselves."""
    name = content.get("product_name") or ""
    preview: dict[str, Any] = {
        "title": fit(name, TITLE_FITS),
        "tooltip": fit(tooltip_text(content), TOOLTIP_LIMIT),
        "about": fit(name, ABOUT_FITS),
        "splash_seconds": content.get("splash_seconds"),
        "branded_viewer": content.get("branding_level") == "CI-C",
    }
    if preview["branded_viewer"]:
        theme = brand_theme(content)
        preview["theme"] = theme
        preview["contrast_warnings"] = contrast_warnings(theme.primary, theme.accent, theme.on_primary)
    return preview
