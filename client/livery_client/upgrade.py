"""Upgrade polling: ask, verify the signed answer, refuse replays, remember what was accepted.

Order matters: nothing from an answer is stored or acted on until its signature verified, it
answers the question that was asked, and its control-file serial is not older than one already
accepted on that channel (an attacker replaying an old, validly signed "none" would otherwise
freeze a fleet on a vulnerable version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import requests

from livery_client.cache import ClientCache, is_sha256
from livery_client.codes import code_digest
from livery_client.errors import (
    AnswerMismatchError,
    CodeRevoked,
    ReplayError,
    ServiceUnavailable,
    SignatureError,
    VerificationError,
)
from livery_client.manifest import decide_from_manifest
from livery_client.signing import verify_envelope
from livery_client.transport import ACCEPT_JSON, get, raise_for_status

ACTIONS = ("none", "passive", "dynamic")


@dataclass(frozen=True)
class UpgradeTarget:
    """The installer an answer offers."""

    version: str
    platform: str
    installer_url: str
    sha256: str
    bytes: int
    release_notes_url: str | None = None
    file_name: str | None = None  # what to save the installer as (the partner's name for it)


@dataclass(frozen=True)
class UpgradeDecision:
    """A verified upgrade answer: the signed payload's fields plus the key that signed it."""

    action: str  # "none" | "passive" (offer; the user chooses when) | "dynamic" (upgrade now)
    reason: str
    serial: int
    channel: str
    platform: str
    client_version: str
    target: UpgradeTarget | None
    key_id: str
    access_code_digest: str | None = None
    from_cache: bool = False  # True when a 304 confirmed the previously verified answer
    origin: str = "api"  # "static" / "manifest": decided here from the static root's / the API's signed manifest

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)


def decision_from_payload(payload: dict[str, Any], key_id: str, from_cache: bool = False) -> UpgradeDecision:
    """Build the decision from a verified payload; VerificationError when its shape is wrong."""
    try:
        target = payload.get("target")
        if target is not None:
            if not is_sha256(target["sha256"]) or not isinstance(target["bytes"], int) or target["bytes"] < 0:
                raise ValueError("target has no valid sha256 or size")
            if not str(target["installer_url"]).startswith(("https://", "http://")):
                raise ValueError("target has no http(s) installer_url")
            target = UpgradeTarget(
                version=str(target["version"]),
                platform=str(target["platform"]),
                installer_url=str(target["installer_url"]),
                sha256=target["sha256"],
                bytes=target["bytes"],
                release_notes_url=target.get("release_notes_url"),
                file_name=target["file_name"] if isinstance(target.get("file_name"), str) else None,
            )
        if payload["action"] not in ACTIONS or (payload["action"] != "none" and target is None):
            raise ValueError(f"action {payload['action']!r} without a usable target")
        if not isinstance(payload["serial"], int) or isinstance(payload["serial"], bool):
            raise ValueError("serial is not an integer")
        return UpgradeDecision(
            action=payload["action"],
            reason=str(payload["reason"]),
            serial=payload["serial"],
            channel=str(payload["channel"]),
            platform=str(payload["platform"]),
            client_version=str(payload["client_version"]),
            target=target,
            key_id=key_id,
            access_code_digest=payload.get("access_code_digest"),
            from_cache=from_cache,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VerificationError(f"signed upgrade answer is malformed: {exc}") from exc


def check_answer(decision: UpgradeDecision, *, version: str, platform: str, canonical_code: str) -> None:
    """Refuse a signed answer to a different question (another version, platform or code)."""
    if decision.client_version != version or decision.platform != platform:
        raise AnswerMismatchError(
            f"answer is for {decision.client_version} on {decision.platform}, asked {version} on {platform}"
        )
    if decision.target is not None and decision.target.platform != platform:
        raise AnswerMismatchError(f"answer offers an installer for {decision.target.platform}, not {platform}")
    # Older servers may not send the digest; when present it binds the answer to this code.
    if decision.access_code_digest is not None and decision.access_code_digest != code_digest(canonical_code):
        raise AnswerMismatchError("answer was issued for another access code")


def _fetch(
    session: requests.Session, url: str, params: dict[str, str], etag: str | None, timeout: float
) -> requests.Response:
    headers = {"Accept": ACCEPT_JSON}
    if etag:
        headers["If-None-Match"] = etag
    response = get(session, url, timeout=timeout, headers=headers, params=params)
    raise_for_status(response)
    return response


def check_upgrade(
    session: requests.Session,
    cache: ClientCache,
    url: str,
    *,
    version: str,
    platform: str,
    canonical_code: str,
    public_keys: Mapping[str, str] | None,
    timeout: float,
    manifest_url: str | None = None,
    manifest_origin: str = "static",
) -> UpgradeDecision:
    """Ask ``url`` whether this installation should upgrade; return the verified decision.

    With ``manifest_url`` (this code's manifest under a static-publish root, or the API's
    ``/v1/upgrade-manifest/{code}``) the decision is made here from that signed manifest when it
    passes every check an answer must pass (``manifest_origin`` marks such decisions); otherwise,
    and whatever went wrong with it, the API at ``url`` is asked (the per-install poll).
    """
    if manifest_url and (manifest := _signed_manifest(session, cache, manifest_url, public_keys, timeout)):
        verified, revalidated = manifest[:2], manifest[2]
        decision = _decide_from(verified, cache, version=version, platform=platform, canonical_code=canonical_code)
        if decision is not None:
            return replace(decision, origin=manifest_origin, from_cache=revalidated)
    params = {"platform": platform, "version": version, "install_id": cache.install_id()}
    cached = cache.load_upgrade_answer(platform, version)
    try:
        response = _fetch(session, url, params, cached[0] if cached else None, timeout)
        envelope, from_cache = None, False
        if response.status_code == 304 and cached is not None:
            try:
                verify_envelope(cached[1], public_keys)
                envelope, from_cache = cached[1], True
            except SignatureError:  # e.g. its key was unpinned since: ask again for a fresh answer
                response = _fetch(session, url, params, None, timeout)
        if envelope is None:
            if response.status_code != 200:
                raise ServiceUnavailable(f"unexpected answer {response.status_code} from {url}")
            try:
                envelope = response.json()
            except ValueError as exc:
                raise ServiceUnavailable(f"garbled upgrade answer from {url}") from exc
    except CodeRevoked:
        cache.clear()
        raise

    payload, key_id = verify_envelope(envelope, public_keys)
    decision = decision_from_payload(payload, key_id, from_cache=from_cache)
    check_answer(decision, version=version, platform=platform, canonical_code=canonical_code)
    highest = cache.highest_serial(decision.channel)
    if decision.serial < highest:
        raise ReplayError(
            f"answer has control-file serial {decision.serial} on channel {decision.channel!r}, "
            f"but serial {highest} was already accepted"
        )
    cache.record_serial(decision.channel, decision.serial)
    if not from_cache:
        cache.store_upgrade_answer(platform, version, response.headers.get("ETag"), envelope)
    return decision


def _signed_manifest(
    session: requests.Session, cache: ClientCache, url: str, public_keys: Mapping[str, str] | None, timeout: float
) -> tuple[dict[str, Any], str, bool] | None:
    """The manifest's verified (payload, key id, whether a 304 confirmed the cached copy), or None
    when it is missing or unverifiable.

    The last verified manifest is revalidated with its ETag (a 304 costs the host no body); the
    cached copy is verified again before use, like a 304'd upgrade answer.
    Falling back is always safe: the API's answer is verified on its own, so a static host can
    make the client ask the API, never accept anything unverified or older than it has seen.
    """
    cached = cache.load_manifest()
    headers = {"Accept": ACCEPT_JSON}
    if cached and cached[0]:
        headers["If-None-Match"] = cached[0]
    try:
        response = get(session, url, timeout=timeout, headers=headers)
        if response.status_code == 304 and cached:
            return (*verify_envelope(cached[1], public_keys), True)
        if response.status_code != 200:
            return None
        envelope = response.json()
        verified = verify_envelope(envelope, public_keys)
    except (ServiceUnavailable, VerificationError, ValueError):
        return None
    cache.store_manifest(response.headers.get("ETag"), envelope)
    return (*verified, False)


def _decide_from(
    manifest: tuple[dict[str, Any], str], cache: ClientCache, *, version: str, platform: str, canonical_code: str
) -> UpgradeDecision | None:
    """The decision under a verified manifest, or None unless it is this code's and not older than seen."""
    payload, key_id = manifest
    try:
        if payload.get("access_code_digest") != code_digest(canonical_code):
            return None
        answer = decide_from_manifest(payload, version=version, platform=platform, install_id=cache.install_id())
        decision = decision_from_payload({**answer, "access_code_digest": payload["access_code_digest"]}, key_id)
    except (VerificationError, KeyError, TypeError, ValueError, AttributeError):
        return None
    if decision.serial < cache.highest_serial(decision.channel):
        return None  # an old manifest (a lagging cache, or a replay): the API decides
    cache.record_serial(decision.channel, decision.serial)
    return replace(decision, origin="static")
