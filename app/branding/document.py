"""The discovery document: what an installed client is called and looks like (pure).

Rendering is deterministic: sorted keys, no whitespace, UTF-8, so the same inputs always give
the same bytes and the ETag (a digest of those bytes) changes exactly when the content does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.branding.content import ASSET_ROLES, BRANDING_LEVELS, INSTALL_FOLDER
from app.formats import canonical_json, strong_etag

DOCUMENT_SCHEMA = 1
MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class AssetInfo:
    sha256: str
    media_type: str
    bytes: int
    width: int
    height: int


@dataclass(frozen=True)
class RenderContext:
    """Everything outside the brand's content that the document shows."""

    base_url: str
    standard_viewer_url: str
    upgrade_enabled: bool
    brand_slug: str = ""  # a CI-C brand's viewer page is {base_url}/viewer/{brand_slug}


def branded_viewer_url(base_url: str, brand_slug: str) -> str:
    """Where a CI-C brand's CRM viewer page is served by this service."""
    return f"{base_url.rstrip('/')}/viewer/{brand_slug}"


def discovery_url(base_url: str, code: str) -> str:
    """Where a client launched with ``code`` asks who it is."""
    return f"{base_url.rstrip('/')}/v1/discovery/{code}"


def asset_url(base_url: str, sha256: str) -> str:
    """Where clients download an asset."""
    return f"{base_url.rstrip('/')}/v1/assets/{sha256}"


def _asset(ctx: RenderContext, assets: dict[str, AssetInfo], sha256: str | None) -> dict[str, Any] | None:
    if not sha256 or sha256 not in assets:
        return None
    info = assets[sha256]
    return {
        "url": asset_url(ctx.base_url, sha256),
        "sha256": sha256,
        "media_type": info.media_type,
        "bytes": info.bytes,
        "width": info.width,
        "height": info.height,
    }


def build_discovery_document(
    content: dict[str, Any],
    *,
    revision: int | None,
    channel: str,
    assets: dict[str, AssetInfo],
    ctx: RenderContext,
) -> dict[str, Any]:
    """The discovery document as a mapping. ``revision`` is None for a draft (test codes)."""
    level = content["branding_level"]
    base = ctx.base_url.rstrip("/")
    rendered_assets = {role: _asset(ctx, assets, content.get(role)) for role in ASSET_ROLES if role != "viewer_logo"}
    if rendered_assets["splash"] is not None:
        rendered_assets["splash"]["display_seconds"] = content["splash_seconds"]
    if level == "CI-C":
        viewer = {
            "kind": "branded",
            # the partner's own viewer when it names one, else the branded page of this service
            "url": content.get("viewer_url") or branded_viewer_url(ctx.base_url, ctx.brand_slug),
            "name": content.get("viewer_name") or content["product_name"],
            "logo": _asset(ctx, assets, content.get("viewer_logo")),
            "colors": {"primary": content.get("viewer_primary_color"), "accent": content.get("viewer_accent_color")},
        }
    else:
        viewer = {"kind": "standard", "url": ctx.standard_viewer_url, "name": None, "logo": None, "colors": None}
    return {
        "schema": DOCUMENT_SCHEMA,
        "revision": revision,
        "preview": revision is None,
        "product": {
            "name": content["product_name"],
            "short_name": content["short_name"],
            "publisher": content.get("publisher") or "",
            "install_folder": INSTALL_FOLDER,
            "support_url": content.get("support_url"),
            "eula_url": content.get("eula_url"),
        },
        "branding_level": level,
        "part_number": BRANDING_LEVELS[level],
        "assets": rendered_assets,
        "crm_viewer": viewer,
        "licensing": {"method": content["licensing_method"], "check_url": f"{base}/v1/licenses/check"},
        "upgrade": {
            "enabled": ctx.upgrade_enabled,
            "channel": channel,
            "poll_url": f"{base}/v1/upgrade/{{access_code}}",
        },
    }


def render_discovery_document(
    content: dict[str, Any],
    *,
    revision: int | None,
    channel: str,
    assets: dict[str, AssetInfo],
    ctx: RenderContext,
) -> tuple[bytes, str]:
    """The discovery document's bytes and strong ETag."""
    body = canonical_json(build_discovery_document(content, revision=revision, channel=channel, assets=assets, ctx=ctx))
    return body, strong_etag(body)
