"""Launch-time discovery: fetch the branding document, keep assets in step, survive outages.

The rule of the launch path is that an installed client always starts with *some* branding: the
fresh one when the service answers, the last known one (marked stale) when it does not. Only a
revoked code (410) or a wrong one (404) stops it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from livery_client.cache import ClientCache, is_sha256
from livery_client.errors import (
    AssetIntegrityError,
    CodeRevoked,
    NoCachedBranding,
    ProblemError,
    ServiceUnavailable,
    UnknownCode,
)
from livery_client.transport import ACCEPT_JSON, get, raise_for_status

ASSET_ROLES = ("tray_icon", "app_icon_windows", "app_icon_macos", "splash")
VIEWER_LOGO_ROLE = "viewer_logo"
_CHUNK = 64 * 1024


@dataclass
class LaunchResult:
    """What a launch found out: the branding to show and how it relates to the previous one."""

    branding: dict[str, Any]
    status: str  # "fresh" | "not_modified" | "stale"
    changed_fields: list[str] = field(default_factory=list)  # branding only: not schema or revision
    first_launch: bool = False
    stale_reason: str | None = None
    downloaded_assets: list[str] = field(default_factory=list)
    asset_paths: dict[str, Path] = field(default_factory=dict)
    etag: str | None = None
    origin: str | None = None  # who answered a fresh launch: "api" or "static"


def document_assets(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Role → asset entry for every asset the document references (the viewer logo included)."""
    assets = document.get("assets") or {}
    found = {role: assets[role] for role in ASSET_ROLES if isinstance(assets.get(role), dict)}
    viewer = document.get("crm_viewer") or {}
    if isinstance(viewer.get("logo"), dict):
        found[VIEWER_LOGO_ROLE] = viewer["logo"]
    return found


def validate_document(value: Any) -> dict[str, Any]:
    """``value`` if it is usable as a discovery document; ValueError otherwise."""
    if not isinstance(value, dict) or not isinstance(value.get("product"), dict):
        raise ValueError("not a discovery document (no product)")
    if not isinstance(value["product"].get("name"), str) or not isinstance(value.get("assets"), dict):
        raise ValueError("not a discovery document (no product name or assets)")
    for role, asset in document_assets(value).items():
        url = asset.get("url")
        if not is_sha256(asset.get("sha256")) or not isinstance(asset.get("bytes"), int) or asset["bytes"] < 0:
            raise ValueError(f"asset {role} has no valid sha256 or size")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError(f"asset {role} has no http(s) url")
    return value


# Bookkeeping of the document, not branding: every publish moves ``revision``, so reporting it
# would bury the one field a partner changed.
BOOKKEEPING_FIELDS = frozenset({"schema", "revision"})


def branding_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The branding fields (dotted paths) that differ between two documents, bookkeeping left out."""
    return [path for path in changed_fields(old, new) if path.split(".", 1)[0] not in BOOKKEEPING_FIELDS]


def changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ; a value replacing an object (or null) is one leaf."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                paths.append(sub)
            else:
                paths.extend(changed_fields(old[key], new[key], sub))
        return paths
    # type-strict: 1 and 1.0 or 1 and True are different values in the document's JSON
    return [] if (type(old) is type(new) and old == new) else [prefix]


def download_asset(session: requests.Session, url: str, sha256: str, size: int, timeout: float) -> bytes:
    """The asset's bytes, verified against the document's sha256 and size."""
    response = get(session, url, timeout=timeout, stream=True)
    with response:
        raise_for_status(response, about_code=False)
        digest, data = hashlib.sha256(), bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                data.extend(chunk)
                digest.update(chunk)
                if len(data) > size:  # do not let a wrong answer fill memory
                    break
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"asset download from {url} failed: {exc}") from exc
    if len(data) != size or digest.hexdigest() != sha256:
        raise AssetIntegrityError(
            f"asset {url} does not match the document (expected {size} bytes with sha256 {sha256}, "
            f"got {len(data)} bytes with sha256 {digest.hexdigest()})"
        )
    return bytes(data)


def sync_assets(
    session: requests.Session, cache: ClientCache, document: dict[str, Any], timeout: float
) -> tuple[dict[str, Path], list[str]]:
    """Download the assets not yet in the cache; return (role → path, roles downloaded)."""
    paths: dict[str, Path] = {}
    downloaded: list[str] = []
    for role, asset in document_assets(document).items():
        sha, media, size = asset["sha256"], asset.get("media_type"), asset["bytes"]
        if not cache.has_asset(sha, media, size):
            data = download_asset(session, asset["url"], sha, size, timeout)
            cache.store_asset(sha, media, data)
            downloaded.append(role)
        paths[role] = cache.asset_path(sha, media)
    return paths, downloaded


def _present_assets(cache: ClientCache, document: dict[str, Any]) -> dict[str, Path]:
    paths = {}
    for role, asset in document_assets(document).items():
        if cache.has_asset(asset["sha256"], asset.get("media_type"), asset["bytes"]):
            paths[role] = cache.asset_path(asset["sha256"], asset.get("media_type"))
    return paths


def _stale(cache: ClientCache, cached: tuple[str | None, dict[str, Any], float] | None, reason: str) -> LaunchResult:
    if cached is None:
        raise NoCachedBranding(f"no branding cached and the service is unavailable: {reason}")
    etag, document, _ = cached
    return LaunchResult(
        branding=document,
        status="stale",
        stale_reason=reason,
        asset_paths=_present_assets(cache, document),
        etag=etag,
    )


def launch(
    session: requests.Session, cache: ClientCache, url: str, timeout: float, static_url: str | None = None
) -> LaunchResult:
    """Fetch (or revalidate) the discovery document and bring the cache in step.

    With ``static_url`` (this code's file under a static-publish root) that file is asked first;
    anything but a usable 200 or 304 from it falls back to the API at ``url``, which alone can
    tell an unknown code from a revoked one (docs/deployment.md).
    """
    if static_url:
        result = _launch_from_static(session, cache, static_url, timeout)
        if result is not None:
            return result
    cached = cache.load_discovery("api")
    try:
        response = _revalidate(session, url, cached, timeout)
        raise_for_status(response)
    except UnknownCode:
        raise  # the build's code is wrong; the cache may belong to a code that will be fixed
    except CodeRevoked:
        cache.clear()
        raise
    except ProblemError as exc:  # 5xx, 429, network, odd statuses: show the last known branding
        return _stale(cache, cached, str(exc))

    if response.status_code == 304 and cached is not None:
        return _not_modified(session, cache, cached, timeout)
    if response.status_code != 200:
        return _stale(cache, cached, f"unexpected answer {response.status_code} from {url}")
    try:
        document = validate_document(response.json())
    except ValueError as exc:
        return _stale(cache, cached, f"garbled discovery document: {exc}")
    return _fresh(session, cache, cached, document, response.headers.get("ETag"), "api", timeout)


def _launch_from_static(session: requests.Session, cache: ClientCache, url: str, timeout: float) -> LaunchResult | None:
    """The launch as the static root answers it, or None to ask the API instead."""
    cached = cache.load_discovery("static")
    try:
        response = _revalidate(session, url, cached, timeout)
    except ServiceUnavailable:
        return None
    if response.status_code == 304 and cached is not None and cached[0]:
        return _not_modified(session, cache, cached, timeout)
    if response.status_code != 200:
        return None  # 404/403: no file (yet, or any more); 5xx: the static host's trouble
    try:
        document = validate_document(response.json())
    except ValueError:
        return None
    return _fresh(session, cache, cached, document, response.headers.get("ETag"), "static", timeout)


def _revalidate(
    session: requests.Session, url: str, cached: tuple[str | None, dict[str, Any], float] | None, timeout: float
) -> requests.Response:
    """GET ``url``, conditional on the cached document's ETag when it has one for this origin."""
    headers = {"Accept": ACCEPT_JSON}
    if cached is not None and cached[0]:
        headers["If-None-Match"] = cached[0]
    return get(session, url, timeout=timeout, headers=headers)


def _not_modified(
    session: requests.Session, cache: ClientCache, cached: tuple[str | None, dict[str, Any], float], timeout: float
) -> LaunchResult:
    try:
        # normally a no-op; repairs the cache if someone deleted an asset file
        paths, downloaded = sync_assets(session, cache, cached[1], timeout)
    except ServiceUnavailable as exc:
        return _stale(cache, cached, f"asset download failed: {exc}")
    return LaunchResult(cached[1], "not_modified", asset_paths=paths, downloaded_assets=downloaded, etag=cached[0])


def _fresh(
    session: requests.Session,
    cache: ClientCache,
    cached: tuple[str | None, dict[str, Any], float] | None,
    document: dict[str, Any],
    etag: str | None,
    origin: str,
    timeout: float,
) -> LaunchResult:
    try:
        paths, downloaded = sync_assets(session, cache, document, timeout)
    except ServiceUnavailable as exc:
        return _stale(cache, cached, f"asset download failed: {exc}")
    # AssetIntegrityError propagates before anything is stored: the previous state stays whole.
    cache.store_discovery(etag, document, origin)
    cache.prune_assets({asset["sha256"] for asset in document_assets(document).values()})
    previous = cached[1] if cached is not None else None
    return LaunchResult(
        branding=document,
        status="fresh",
        changed_fields=[] if previous is None else branding_changes(previous, document),
        first_launch=previous is None,
        downloaded_assets=downloaded,
        asset_paths=paths,
        etag=etag,
        origin=origin,
    )
