"""The integrations catalogue's rules (pure): fields, validation, sanitised setup steps, placeholder logos."""

from __future__ import annotations

import hashlib
import html
import re
from functools import cache
from typing import Any

from app.formats import https_url_problem, is_sha256, is_slug
from app.upgrades.versions import InvalidVersion, parse_version

CATEGORIES = {
    "crm": "CRM",
    "helpdesk": "Helpdesk",
    "erp_accounting": "ERP and accounting",
    "contacts_email": "Contacts and e-mail",
    "vertical": "Vertical",
}
FEATURES = {
    "contact_lookup": "Contact lookup and caller ID",
    "screen_pop": "Screen pop",
    "click_to_dial": "Click to dial",
    "call_logging": "Call logging",
    "create_contact": "Create contact",
}
SUPPORT = ("yes", "partial", "no")
DEPLOYMENTS = {"cloud": "Cloud", "on_premises_addin": "On-premises add-in", "browser": "Browser"}
PLATFORMS = {"windows": "Windows", "macos": "macOS"}
LIMITS = {"name": 80, "description": 300, "setup_markdown": 20000, "feature_note": 200}
# raw HTML and script-capable links are refused outright (not silently dropped), so an operator
# sees at once that the text will not show as typed
_RAW_HTML = re.compile(r"<\s*[A-Za-z!/?]")
_UNSAFE_LINK = re.compile(r"\]\(\s*<?\s*(javascript|data|vbscript|file):", re.IGNORECASE)
ALLOWED_TAGS = {"p", "ol", "ul", "li", "strong", "em", "code", "pre", "a", "h3", "h4", "blockquote", "br"}
# placeholder logo backgrounds: each keeps white initials above 4.5:1
PLACEHOLDER_COLOURS = ("#1f4e79", "#2e5e2e", "#7a2e2e", "#5b2c6f", "#7a4a00", "#005f5f", "#3d3d8f", "#6b3b1f")


def markdown_problem(text: object) -> str | None:
    """What makes ``text`` unusable as setup steps, or None."""
    if not isinstance(text, str) or len(text) > LIMITS["setup_markdown"]:
        return f"Must be Markdown text of at most {LIMITS['setup_markdown']} characters."
    if _RAW_HTML.search(text):
        return "Must be Markdown without raw HTML (tags are not allowed)."
    if _UNSAFE_LINK.search(text):
        return "Links must be https:// or mailto: (no javascript:, data:, vbscript: or file: links)."
    return None


@cache
def _markdown():
    # built on first use, not at import: workers that never render a page do not pay for it
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str) -> str:
    """Setup steps as safe HTML: Markdown without raw HTML, then sanitised by an allow-list."""
    import nh3

    return nh3.clean(
        _markdown().render(text),
        tags=ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"https", "mailto"},
        link_rel="noopener noreferrer",
    )


def _features_problems(features: object) -> list[str]:
    if not isinstance(features, dict):
        return ["Must be an object naming each feature."]
    messages = [
        f"Unknown feature {name!r}; features are: {', '.join(FEATURES)}." for name in features if name not in FEATURES
    ]
    for name in FEATURES:
        value = features.get(name)
        if not isinstance(value, dict) or value.get("support") not in SUPPORT:
            messages.append(f"{name}: give support as one of {', '.join(SUPPORT)} (and an optional note).")
            continue
        if set(value) - {"support", "note"}:
            messages.append(f"{name}: only support and note are allowed.")
        note = value.get("note", "")
        if not isinstance(note, str) or len(note) > LIMITS["feature_note"]:
            messages.append(f"{name}: the note must be text of at most {LIMITS['feature_note']} characters.")
    return messages


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip() or value != value.strip() or len(value) > limit:
        return f"Must be 1-{limit} characters, without leading or trailing spaces."
    return None


def integration_problems(values: dict[str, Any]) -> dict[str, list[str]]:
    """Every rule an integration's ``values`` break, by field (empty when valid)."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str | None) -> None:
        if message:
            problems.setdefault(field, []).append(message)

    add("slug", None if is_slug(values.get("slug")) else "Must be 2-63 lower-case letters, digits and hyphens.")
    add("name", _text(values.get("name"), LIMITS["name"]))
    add("description", _text(values.get("description"), LIMITS["description"]))
    if values.get("category") not in CATEGORIES:
        add("category", f"Must be one of {', '.join(CATEGORIES)}.")
    if values.get("deployment") not in DEPLOYMENTS:
        add("deployment", f"Must be one of {', '.join(DEPLOYMENTS)}.")
    platforms = values.get("platforms")
    if not isinstance(platforms, list) or not platforms or any(p not in PLATFORMS for p in platforms):
        add("platforms", f"Must be a non-empty list of {', '.join(PLATFORMS)}.")
    elif len(set(platforms)) != len(platforms):
        add("platforms", "Must not repeat a platform.")
    for message in _features_problems(values.get("features")):
        add("features", message)
    logo = values.get("logo_sha256")
    if logo is not None and not is_sha256(logo):
        add("logo_sha256", "Must be the sha256 of an uploaded asset, or null for a generated placeholder.")
    try:
        parse_version(values.get("min_client_version") or "")
    except (InvalidVersion, TypeError):
        add("min_client_version", "Must be a client version like 5.2.0.")
    add("setup_markdown", markdown_problem(values.get("setup_markdown", "")))
    if values.get("docs_url") is not None:
        add("docs_url", https_url_problem(values["docs_url"]))
    if not isinstance(values.get("published"), bool):
        add("published", "Must be true or false.")
    position = values.get("position")
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 100_000:
        add("position", "Must be a whole number from 0 to 100000.")
    return problems


def initials(name: str) -> str:
    """Up to two initials of ``name`` for a placeholder logo."""
    words = [w for w in re.split(r"[\s\-_.]+", name) if w and w[0].isalnum()]
    letters = "".join(w[0] for w in words[:2]) or name[:1]
    return letters.upper()


def placeholder_logo_svg(name: str, slug: str) -> bytes:
    """A generated logo: the initials of ``name`` on a colour picked from ``slug`` (no trademark artwork)."""
    colour = PLACEHOLDER_COLOURS[hashlib.sha256(slug.encode()).digest()[0] % len(PLACEHOLDER_COLOURS)]
    text = html.escape(initials(name))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" '
        f'aria-label="{html.escape(name)}"><rect width="64" height="64" rx="12" fill="{colour}"/>'
        '<text x="32" y="41" font-family="Arial, Helvetica, sans-serif" font-size="24" font-weight="700" '
        f'fill="#ffffff" text-anchor="middle">{text}</text></svg>'
    ).encode()


def matches(row: dict[str, Any], *, q: str = "", category: str = "", feature: str = "", platform: str = "") -> bool:
    """Whether a catalogue entry matches the viewer's search and filters (a feature matches unless 'no')."""
    if q and q.casefold() not in f"{row['name']} {row['description']} {CATEGORIES[row['category']]}".casefold():
        return False
    if category and row["category"] != category:
        return False
    if feature and row["features"].get(feature, {}).get("support", "no") == "no":
        return False
    return not platform or platform in row["platforms"]
