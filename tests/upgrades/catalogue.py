"""Building a partner's upgrade catalogue through the admin API, as a partner's release script would."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.api.admin.conftest import Caller


def installer_bytes(version: str, platform: str, size: int = 4096) -> bytes:
    """Distinct, deterministic installer bytes for a version and platform."""
    seed = f"{version}/{platform}".encode()
    return (hashlib.sha256(seed).digest() * (size // 32 + 1))[:size]


def add_release(
    caller: Caller,
    version: str,
    platform: str = "windows-x64",
    *,
    publish: bool = True,
    data: bytes | None = None,
    **fields: Any,
) -> dict:
    """Create a release, upload its installer (unless external) and publish it; returns the release."""
    body = {"version": version, "platform": platform, "release_notes_url": f"https://notes.example/{version}", **fields}
    response = caller.post("/releases", body)
    assert response.status_code == 201, response.json
    release = response.json
    if release["source"] == "stored":
        data = installer_bytes(version, platform) if data is None else data
        response = caller.put(
            f"/releases/{release['id']}/installer",
            data=data,
            etag=release["etag"],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200, response.json
        release = response.json
    if publish:
        response = caller.patch(f"/releases/{release['id']}", {"status": "published"}, etag=release["etag"])
        assert response.status_code == 200, response.json
        release = response.json
    return release


def control_file(*releases: tuple[str, float], channel: str = "stable", **fields: Any) -> dict:
    """A schema-1 control file offering ``(version, rollout_percent)`` pairs."""
    return {
        "schema_version": 1,
        "channel": channel,
        "default_mode": "passive",
        "releases": [{"version": v, "rollout_percent": p} for v, p in releases],
        **fields,
    }


def upload_control_file(caller: Caller, document: dict | bytes | str, channel: str = "stable"):
    """POST a control file (a mapping is sent as JSON; bytes and text as they are)."""
    raw = json.dumps(document) if isinstance(document, dict) else document
    return caller.post(f"/channels/{channel}/control-files", data=raw, headers={"Content-Type": "application/json"})
