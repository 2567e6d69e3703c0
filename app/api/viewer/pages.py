"""Routes of the CRM viewer: the standard and branded pages, their theme, logos and the JSON twin."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from app.api.conditional import cached_response
from app.branding.document import asset_url
from app.db import session
from app.formats import canonical_json, strong_etag
from app.partners.models import Partner
from app.partners.services import SETTING_STANDARD_VIEWER_URL, get_setting
from app.problems import NotFound
from app.viewer.catalogue import (
    CATEGORIES,
    DEPLOYMENTS,
    FEATURES,
    PLATFORMS,
    matches,
    placeholder_logo_svg,
    render_markdown,
)
from app.viewer.services import published_catalogue, viewer_brand
from app.viewer.theme import Theme, brand_theme, standard_theme

bp = Blueprint(
    "viewer", __name__, template_folder="templates", static_folder="static", static_url_path="/viewer/static"
)

PAGE_CACHE_CONTROL = "public, max-age=60, must-revalidate"
PREVIEW_CACHE_CONTROL = "private, no-store"  # a draft, shown to whoever holds a test code
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FILTERS = ("q", "category", "feature", "platform")


@bp.after_request
def _csp(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    return response


def _filters() -> dict[str, str]:
    args = {name: (request.args.get(name) or "").strip()[:100] for name in FILTERS}
    # unknown filter values are ignored (a stale bookmark still shows the catalogue)
    for name, allowed in (("category", CATEGORIES), ("feature", FEATURES), ("platform", PLATFORMS)):
        if args[name] not in allowed:
            args[name] = ""
    return args


def _page(template: str, theme: Theme, preview: bool, **context: Any) -> Response:
    body = render_template(
        template,
        theme=theme,
        preview=preview,
        categories=CATEGORIES,
        features=FEATURES,
        platforms=PLATFORMS,
        deployments=DEPLOYMENTS,
        **context,
    ).encode()
    cache_control = PREVIEW_CACHE_CONTROL if preview else PAGE_CACHE_CONTROL
    return cached_response(body, strong_etag(body), cache_control, "text/html; charset=utf-8")


def _branded(brand_slug: str) -> tuple[Theme, bool, str | None]:
    """The theme of a CI-C brand's page; a CI-B brand's slug redirects (raised as a response)."""
    code = request.args.get("code") or None
    found = viewer_brand(session(), brand_slug, code)
    partner = session().get(Partner, found.brand.partner_id)
    if partner is None or partner.status == "suspended":
        raise NotFound(f"No branded viewer at {brand_slug!r}.")
    if found.content.get("branding_level") != "CI-C":
        raise _StandardInstead()
    return brand_theme(found.content), found.preview, code


class _StandardInstead(Exception):
    """A CI-B brand has no branded viewer: its slug redirects to the standard viewer."""


@bp.errorhandler(_StandardInstead)
def _to_standard(_exc: _StandardInstead):
    default = current_app.config["LIVERY"].default_viewer_url
    return redirect(get_setting(session(), SETTING_STANDARD_VIEWER_URL, default), code=302)


def _listing(theme: Theme, preview: bool, brand_slug: str | None, code: str | None) -> Response:
    args = _filters()
    rows = [row for row in published_catalogue(session()) if matches(row, **args)]
    return _page("viewer/list.html", theme, preview, rows=rows, args=args, brand_slug=brand_slug, code=code)


def _detail(theme: Theme, preview: bool, slug: str, brand_slug: str | None, code: str | None) -> Response:
    row = next((r for r in published_catalogue(session()) if r["slug"] == slug), None)
    if row is None:
        raise NotFound(f"No integration {slug!r} in the catalogue.")
    setup = render_markdown(row["setup_markdown"])
    return _page("viewer/detail.html", theme, preview, row=row, setup_html=setup, brand_slug=brand_slug, code=code)


@bp.get("/viewer")
def standard():
    """The standard CRM viewer: the integrations catalogue, searchable and filterable."""
    return _listing(standard_theme(), False, None, None)


@bp.get("/viewer/integrations/<slug>")
def standard_detail(slug: str):
    """One integration on the standard viewer."""
    return _detail(standard_theme(), False, slug, None, None)


@bp.get("/viewer/logos/<slug>.svg")
def logo(slug: str):
    """An integration's logo: its uploaded asset, or a generated placeholder (initials on a colour)."""
    row = next((r for r in published_catalogue(session()) if r["slug"] == slug), None)
    if row is None:
        raise NotFound(f"No integration {slug!r} in the catalogue.")
    if row["logo_sha256"]:
        return redirect(asset_url("", row["logo_sha256"]), code=302)
    body = placeholder_logo_svg(row["name"], slug)
    return cached_response(body, strong_etag(body), PAGE_CACHE_CONTROL, "image/svg+xml")


@bp.get("/viewer/<brand_slug>")
def branded(brand_slug: str):
    """A CI-C brand's CRM viewer: the catalogue under the brand's viewer name, logo and colours."""
    theme, preview, code = _branded(brand_slug)
    return _listing(theme, preview, brand_slug, code)


@bp.get("/viewer/<brand_slug>/integrations/<slug>")
def branded_detail(brand_slug: str, slug: str):
    """One integration on a brand's viewer."""
    theme, preview, code = _branded(brand_slug)
    return _detail(theme, preview, slug, brand_slug, code)


@bp.get("/viewer/<brand_slug>/theme.css")
def theme_css(brand_slug: str):
    """The brand's colours as CSS custom properties (validated colours only; text chosen for contrast)."""
    theme, preview, _code = _branded(brand_slug)
    body = render_template("viewer/theme.css", theme=theme).encode()
    cache_control = PREVIEW_CACHE_CONTROL if preview else PAGE_CACHE_CONTROL
    return cached_response(body, strong_etag(body), cache_control, "text/css; charset=utf-8")


# -- the JSON twin for the client ----------------------------------------------------------


def _twin(theme: Theme, preview: bool, brand_slug: str | None) -> Response:
    base = current_app.config["LIVERY"].public_base_url.rstrip("/")
    prefix = f"{base}/viewer/{brand_slug}" if brand_slug else f"{base}/viewer"
    document = {
        "viewer": {
            "kind": "branded" if theme.branded else "standard",
            "name": theme.title,
            "preview": preview,
            "colors": {"primary": theme.primary, "accent": theme.accent, "on_primary": theme.on_primary},
            "logo_url": asset_url(base, theme.logo_sha256) if theme.logo_sha256 else None,
            "support_url": theme.support_url,
            "page_url": prefix,
        },
        "integrations": [
            {
                **{k: v for k, v in row.items() if k not in ("setup_markdown", "published", "position")},
                "setup_html": render_markdown(row["setup_markdown"]),
                "logo_url": f"{base}/viewer/logos/{row['slug']}.svg",
                "page_url": f"{prefix}/integrations/{row['slug']}",
            }
            for row in published_catalogue(session())
        ],
    }
    body = canonical_json(document)
    return cached_response(body, strong_etag(body), PREVIEW_CACHE_CONTROL if preview else PAGE_CACHE_CONTROL)


@bp.get("/v1/viewer")
def standard_json():
    """The standard viewer's catalogue as JSON (ETag / If-None-Match aware)."""
    return _twin(standard_theme(), False, None)


@bp.get("/v1/viewer/<brand_slug>")
def branded_json(brand_slug: str):
    """A CI-C brand's viewer as JSON; ``?code=`` with a test code previews its draft."""
    theme, preview, _code = _branded(brand_slug)
    return _twin(theme, preview, brand_slug)


def page_url(brand_slug: str | None, endpoint_slug: str | None = None, code: str | None = None) -> str:
    """Links inside the pages keep the brand (and a preview's code)."""
    if brand_slug is None:
        return url_for("viewer.standard_detail", slug=endpoint_slug) if endpoint_slug else url_for("viewer.standard")
    if endpoint_slug:
        return url_for("viewer.branded_detail", brand_slug=brand_slug, slug=endpoint_slug, code=code)
    return url_for("viewer.branded", brand_slug=brand_slug, code=code)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"page_url": page_url}
