"""The client's on-disk state: last discovery document, content-addressed assets, upgrade state.

Every write goes to a temporary file in the same folder and is then renamed over the target, so a
crash or a power cut leaves either the old or the new file, never half of one. Layout::

    discovery.json          {"etag", "document", "stored_at"}; one file, so they never disagree
    assets/<sha256>.<ext>   asset bytes, named by their digest (verified before they get there)
    install_id              a uuid4 created once; staged rollouts bucket by it
    upgrade/state.json      {"highest_serial": {channel: serial}} for anti-replay
    upgrade/answers/*.json  {"etag", "envelope"} per (platform, version) for If-None-Match
    upgrade/manifest.json   {"etag", "envelope"}: the static root's last verified manifest, for If-None-Match
    trusted_keys.json       keys stored by --fetch-keys (trust on first use)
    licence/<digest>.json   {"envelope", "renew_at"?}: the last licensed answer per user (its lease), for
                            offline use, and when a launch scheduled its renewal (epoch seconds)
    reports/outbox.json     install reports not yet taken by the service (sent again later)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MEDIA_EXTENSIONS = {
    "image/png": ".png",
    "image/x-png": ".png",
    "image/vnd.microsoft.icon": ".ico",
    "image/x-icon": ".ico",
    "image/ico": ".ico",
    "image/icns": ".icns",
    "image/x-icns": ".icns",
    "image/jpeg": ".jpg",
}
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
# Only these entries are ours: clear() must never delete files a user keeps beside them.
OWNED_ENTRIES = ("discovery.json", "assets", "install_id", "upgrade", "trusted_keys.json", "licence", "reports")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_json(path: Path) -> Any:
    # A garbled cache file is treated as absent: the next good answer rewrites it.
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    write_atomically(path, json.dumps(value, sort_keys=True, indent=1).encode("utf-8"))


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a lowercase hex sha256 (safe to use as a file name)."""
    return isinstance(value, str) and bool(_SHA256_RE.match(value))


class ClientCache:
    """One client's cache folder (one access code)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()

    # discovery

    def load_discovery(self, origin: str = "api") -> tuple[str | None, dict[str, Any], float] | None:
        """The stored (etag, document, stored_at), or None; the ETag only if ``origin`` served it.

        An ETag is meaningful only to the origin that made it (the API hashes the body, nginx uses
        mtime and size, S3 an MD5), and only for the document stored with it.
        """
        entry = _read_json(self.root / "discovery.json")
        if not isinstance(entry, dict) or not isinstance(entry.get("document"), dict):
            return None
        etag = entry.get("etag") if isinstance(entry.get("etag"), str) else None
        if (entry.get("origin") or "api") != origin:
            etag = None
        return etag, entry["document"], float(entry.get("stored_at") or 0)

    def store_discovery(self, etag: str | None, document: dict[str, Any], origin: str = "api") -> None:
        """Store the document with the ETag it was served with and which origin served it."""
        entry = {"etag": etag, "origin": origin, "document": document, "stored_at": time.time()}
        _write_json(self.root / "discovery.json", entry)

    # assets

    def asset_path(self, sha256: str, media_type: str | None) -> Path:
        """Where the asset with ``sha256`` lives (extension from its media type, for OS icon loaders)."""
        return self.root / "assets" / (sha256 + MEDIA_EXTENSIONS.get(media_type or "", ""))

    def has_asset(self, sha256: str, media_type: str | None, size: int) -> bool:
        """Whether a verified copy is present (files only get there after verification)."""
        path = self.asset_path(sha256, media_type)
        return path.is_file() and path.stat().st_size == size

    def store_asset(self, sha256: str, media_type: str | None, data: bytes) -> Path:
        """Store verified asset bytes under their digest."""
        path = self.asset_path(sha256, media_type)
        write_atomically(path, data)
        return path

    def prune_assets(self, keep: set[str]) -> None:
        """Delete assets no longer referenced, so the cache does not grow with every rebrand."""
        folder = self.root / "assets"
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.is_file() and path.name.split(".", 1)[0] not in keep:
                path.unlink(missing_ok=True)

    # upgrades

    def install_id(self) -> str:
        """This installation's stable id, created on first use."""
        path = self.root / "install_id"
        with contextlib.suppress(OSError, ValueError):
            return str(uuid.UUID(path.read_text("ascii").strip()))
        value = str(uuid.uuid4())
        write_atomically(path, value.encode("ascii"))
        return value

    def highest_serial(self, channel: str) -> int:
        """The highest control-file serial accepted so far on ``channel`` (0 when none)."""
        state = _read_json(self.root / "upgrade" / "state.json")
        serials = state.get("highest_serial") if isinstance(state, dict) else None
        value = serials.get(channel) if isinstance(serials, dict) else None
        return value if isinstance(value, int) else 0

    def record_serial(self, channel: str, serial: int) -> None:
        """Remember ``serial`` for ``channel`` if it is higher than any seen."""
        path = self.root / "upgrade" / "state.json"
        state = _read_json(path)
        serials = state.get("highest_serial") if isinstance(state, dict) else None
        serials = dict(serials) if isinstance(serials, dict) else {}
        if serial > (serials.get(channel) or 0):
            serials[channel] = serial
            _write_json(path, {"highest_serial": serials})

    def _answer_path(self, platform: str, version: str) -> Path:
        name = _UNSAFE_NAME_RE.sub("_", f"{platform}__{version}")
        return self.root / "upgrade" / "answers" / f"{name}.json"

    def load_upgrade_answer(self, platform: str, version: str) -> tuple[str | None, dict[str, Any]] | None:
        """The last verified (etag, envelope) for this question, or None."""
        entry = _read_json(self._answer_path(platform, version))
        if not isinstance(entry, dict) or not isinstance(entry.get("envelope"), dict):
            return None
        return (entry.get("etag") if isinstance(entry.get("etag"), str) else None), entry["envelope"]

    def store_upgrade_answer(self, platform: str, version: str, etag: str | None, envelope: dict[str, Any]) -> None:
        """Keep a verified envelope so a 304 can be answered from the cache."""
        _write_json(self._answer_path(platform, version), {"etag": etag, "envelope": envelope})

    def load_manifest(self) -> tuple[str | None, dict[str, Any]] | None:
        """The static root's last verified (etag, manifest envelope), or None."""
        entry = _read_json(self.root / "upgrade" / "manifest.json")
        if not isinstance(entry, dict) or not isinstance(entry.get("envelope"), dict):
            return None
        return (entry.get("etag") if isinstance(entry.get("etag"), str) else None), entry["envelope"]

    def store_manifest(self, etag: str | None, envelope: dict[str, Any]) -> None:
        """Keep a verified manifest so the static root's 304 can be answered from the cache."""
        _write_json(self.root / "upgrade" / "manifest.json", {"etag": etag, "envelope": envelope})

    # licence leases

    def _lease_path(self, user_key: str) -> Path:
        # named by a digest: user ids never appear in file names
        return self.root / "licence" / (hashlib.sha256(user_key.encode("utf-8")).hexdigest()[:32] + ".json")

    def load_lease(self, user_key: str) -> dict[str, Any] | None:
        """The stored envelope of the user's last licensed answer (to verify again before use), or None."""
        entry = _read_json(self._lease_path(user_key))
        return entry["envelope"] if isinstance(entry, dict) and isinstance(entry.get("envelope"), dict) else None

    def store_lease(self, user_key: str, envelope: dict[str, Any]) -> None:
        """Keep a verified licensed answer: the lease the client may run on offline (no renewal due)."""
        _write_json(self._lease_path(user_key), {"envelope": envelope})

    def load_lease_renewal(self, user_key: str) -> float | None:
        """When a launch scheduled the renewal of the user's stored lease (epoch seconds), or None."""
        entry = _read_json(self._lease_path(user_key))
        value = entry.get("renew_at") if isinstance(entry, dict) else None
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    def store_lease_renewal(self, user_key: str, renew_at: float) -> None:
        """Record when the stored lease is to be renewed (kept until a new lease replaces it)."""
        entry = _read_json(self._lease_path(user_key))
        if isinstance(entry, dict) and isinstance(entry.get("envelope"), dict):
            _write_json(self._lease_path(user_key), {"envelope": entry["envelope"], "renew_at": renew_at})

    def drop_lease(self, user_key: str) -> None:
        """Forget the user's lease (the service said the user is not licensed)."""
        self._lease_path(user_key).unlink(missing_ok=True)

    # install reports

    def load_reports(self) -> list[dict[str, Any]]:
        """The install reports waiting to be sent, oldest first."""
        reports = _read_json(self.root / "reports" / "outbox.json")
        return [r for r in reports if isinstance(r, dict)] if isinstance(reports, list) else []

    def store_reports(self, reports: list[dict[str, Any]]) -> None:
        """Replace the outbox."""
        _write_json(self.root / "reports" / "outbox.json", reports)

    # keys

    def load_trusted_keys(self) -> dict[str, str] | None:
        """Keys stored by trust-on-first-use, or None."""
        keys = _read_json(self.root / "trusted_keys.json")
        if isinstance(keys, dict) and keys and all(isinstance(v, str) for v in keys.values()):
            return keys
        return None

    def store_trusted_keys(self, keys: dict[str, str]) -> None:
        """Pin keys fetched on first use."""
        _write_json(self.root / "trusted_keys.json", keys)

    def clear(self) -> None:
        """Forget everything this client stored (the code is gone: its branding must not linger)."""
        for name in OWNED_ENTRIES:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if self.root.is_dir():
            for leftover in self.root.glob(".*.tmp"):  # temporaries of an interrupted write
                leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()  # only when nothing else is left in it
