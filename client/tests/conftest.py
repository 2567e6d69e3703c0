"""Fixtures: a running scripted service, a code with a published document, clients on tmp caches."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_livery import FakeLivery
from livery_client import LiveryClient
from livery_client.codes import code_digest, normalise_code

CODE = "WGK5R-YEPPV-XFRNG-APKXQ-V3C3B"
CANONICAL = normalise_code(CODE)
ICON = b"\x89PNG\r\n\x1a\n tray icon v1" + bytes(range(256)) * 4
APP_ICON = b"\x00\x00\x01\x00 windows app icon" + bytes(range(256)) * 2
SPLASH = b"\x89PNG\r\n\x1a\n splash screen" + bytes(range(256)) * 8
INSTALLER = bytes(range(256)) * 4096  # 1 MiB: big enough to stream in several chunks


def build_document(service: FakeLivery, *, name: str = "Acme CRM Connect", icon: bytes = ICON) -> dict[str, Any]:
    """A draft-preview (revision null) CI-C discovery document served by ``service``."""
    base = service.base_url
    return {
        "schema": 1,
        "revision": None,
        "preview": True,
        "product": {
            "name": name,
            "short_name": "Acme CRM",
            "publisher": "Acme Telecom",
            "install_folder": "Partner CRM",
            "support_url": "https://acme.example/support",
            "eula_url": "https://acme.example/eula",
        },
        "branding_level": "CI-C",
        "part_number": "BRAND-CIC-MBX0CL",
        "assets": {
            "tray_icon": service.add_asset(icon),
            "app_icon_windows": service.add_asset(APP_ICON, "image/vnd.microsoft.icon"),
            "app_icon_macos": None,
            "splash": service.add_asset(SPLASH, display_seconds=3),
        },
        "crm_viewer": {
            "kind": "branded",
            "url": "https://viewer.example/crm",
            "name": "Acme Viewer",
            "logo": None,
            "colors": {"primary": "#112233", "accent": "#445566"},
        },
        "licensing": {"method": "portal", "check_url": f"{base}/v1/licenses/check"},
        "upgrade": {"enabled": True, "channel": "stable", "poll_url": f"{base}/v1/upgrade/{{access_code}}"},
    }


FILE_NAME = "Acme-CRM-5.3.0.msi"  # the partner's name for the installer: what clients save
VENDOR_FILE = "VendorSetup-5.3.0.msi"  # the name it has where it is hosted: never used on disk


def upgrade_payload(
    query: dict[str, str], *, serial: int = 5, action: str = "passive", data: bytes = INSTALLER, url: str = ""
) -> dict[str, Any]:
    """A payload answering ``query`` with an offer of ``data`` (or ``none``)."""
    target = None
    if action != "none":
        target = {
            "version": "5.3.0",
            "platform": query["platform"],
            "installer_url": url,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "release_notes_url": "https://acme.example/notes/5.3.0",
            "file_name": FILE_NAME,
        }
    return {
        "action": action,
        "reason": "offered" if action != "none" else "up_to_date",
        "serial": serial,
        "channel": "stable",
        "platform": query["platform"],
        "client_version": query["version"],
        "target": target,
        "access_code_digest": code_digest(CANONICAL),
    }


@pytest.fixture
def livery() -> Iterator[FakeLivery]:
    service = FakeLivery().start()
    service.documents[CANONICAL] = build_document(service)
    service.installers[VENDOR_FILE] = INSTALLER
    url = f"{service.base_url}/redirect/{VENDOR_FILE}"
    service.upgrade[CANONICAL] = lambda query: upgrade_payload(query, url=url)
    yield service
    service.stop()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def make_client(livery: FakeLivery, cache_dir: Path) -> Callable[..., LiveryClient]:
    def make(**overrides: Any) -> LiveryClient:
        options: dict[str, Any] = {"public_keys": {livery.key_id: livery.public_key}, "timeout": 5}
        options.update(overrides)
        return LiveryClient(livery.base_url, CODE, cache_dir, **options)

    return make
