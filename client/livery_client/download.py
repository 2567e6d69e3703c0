"""Installer downloads: stream to ``.part``, resume with Range, verify, then rename into place.

Nothing is trusted until the end: the finished file's sha256 and size must match the *signed*
upgrade answer, whatever the transport (redirects, CDNs, resumed pieces) did along the way.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

import requests

from livery_client.errors import InstallerIntegrityError, NoUpgradeAvailable, ServiceUnavailable
from livery_client.transport import get, raise_for_status
from livery_client.upgrade import UpgradeDecision, UpgradeTarget

Progress = Callable[[int, int], None]
_CHUNK = 64 * 1024
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
# the server's rule for a release's file_name, checked again: the name comes over the network
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,118}\.[A-Za-z0-9]{1,8}")
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def installer_name(target: UpgradeTarget) -> str:
    """The partner's file name for the release (a safe base name); else ``livery-<version>-<platform>``.

    Never the installer URL's last segment: that is whoever hosts the file's name for it (a vendor's,
    a CDN's), not the product the partner ships.
    """
    name = target.file_name
    if name and _FILE_NAME_RE.fullmatch(name) and not name.lower().endswith(".part"):
        return name
    return _SAFE_NAME_RE.sub("_", f"livery-{target.version}-{target.platform}")


def _hash_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest


def _matches(path: Path, target: UpgradeTarget) -> bool:
    return path.stat().st_size == target.bytes and _hash_file(path).hexdigest() == target.sha256


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _resume_offset(response: requests.Response, offset: int) -> int | None:
    """Where the body starts in the file: ``offset`` for a matching 206, 0 for a 200, None if unusable."""
    if response.status_code == 200:
        return 0
    if response.status_code == 206:
        match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            return offset
    return None


def _stream(response: requests.Response, part: Path, start: int, target: UpgradeTarget, progress: Progress | None):
    digest = _hash_file(part) if start else hashlib.sha256()
    done = start
    with part.open("ab" if start else "wb") as handle:
        try:
            for chunk in response.iter_content(_CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, target.bytes)
                if done > target.bytes:  # a wrong answer must not fill the disk
                    break
        except requests.RequestException as exc:
            # the .part stays: the next attempt resumes from here
            raise ServiceUnavailable(f"installer download interrupted at {done} bytes: {exc}") from exc
        finally:
            handle.flush()
            os.fsync(handle.fileno())
    return digest, done


def _fetch_into_part(
    session: requests.Session,
    target: UpgradeTarget,
    part: Path,
    validator: Path,
    offset: int,
    timeout: float,
    progress: Progress | None,
) -> tuple[hashlib._Hash, int, int]:
    """Complete ``part`` from ``offset``; return (digest, bytes in the file, where this download started)."""
    while offset < target.bytes:
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            # If-Range: the server sends the whole (new) file instead of a piece of another one
            if validator.is_file():
                headers["If-Range"] = validator.read_text("ascii").strip()
        response = get(session, target.installer_url, timeout=timeout, headers=headers, stream=True)
        with response:
            if response.status_code == 416 and offset:
                _discard(part, validator)  # our piece does not fit what the server has now
                offset = 0
                continue
            raise_for_status(response, about_code=False)
            start = _resume_offset(response, offset)
            if start is None:
                raise ServiceUnavailable(f"unusable answer {response.status_code} to a range request")
            etag = response.headers.get("ETag")
            if etag and not etag.startswith("W/"):  # If-Range needs a strong validator
                validator.write_text(etag, "ascii")
            else:
                _discard(validator)
            digest, done = _stream(response, part, start, target, progress)
        return digest, done, start
    if not part.is_file():  # an empty installer: nothing to fetch
        part.touch()
    return _hash_file(part), offset, offset


def download_installer(
    session: requests.Session,
    decision: UpgradeDecision,
    dest_dir: Path | str,
    *,
    timeout: float,
    progress: Progress | None = None,
) -> Path:
    """Download the decision's installer into ``dest_dir``; return the verified file's path."""
    target = decision.target
    if target is None:
        raise NoUpgradeAvailable(f"nothing to download: action {decision.action!r} ({decision.reason})")
    dest = Path(dest_dir).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    name = installer_name(target)
    final, part, validator = dest / name, dest / f"{name}.part", dest / f"{name}.part.etag"
    if final.is_file() and _matches(final, target):
        return final  # already downloaded and verified earlier
    offset = part.stat().st_size if part.is_file() else 0
    if offset > target.bytes:
        _discard(part, validator)
        offset = 0

    while True:
        digest, done, start = _fetch_into_part(session, target, part, validator, offset, timeout, progress)
        if done < target.bytes:  # the connection ended early without an error: keep the piece
            raise ServiceUnavailable(f"installer download ended at {done} of {target.bytes} bytes; run again to resume")
        if done == target.bytes and digest.hexdigest() == target.sha256:
            break
        _discard(part, validator)
        if start == 0:
            raise InstallerIntegrityError(
                f"installer {target.installer_url} does not match the signed answer (expected {target.bytes} bytes "
                f"with sha256 {target.sha256}, got {done} bytes with sha256 {digest.hexdigest()})"
            )
        offset = 0  # the kept piece may be what was wrong: one complete, fresh download decides
    os.replace(part, final)
    _discard(validator)
    return final
