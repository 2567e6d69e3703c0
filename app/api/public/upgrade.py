"""GET /v1/upgrade/{access_code}, GET /v1/keys and GET /v1/installers/{sha256}: upgrade polling.

Every upgrade answer is an Ed25519-signed envelope (see app/upgrades/signing.py) in canonical
JSON, so a client can check it wherever it was served from; the payload carries the control-file
serial, so a client can refuse an answer older than one it has seen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, redirect, request, send_file

from app.api.public import bp
from app.api.public.cache import PublicAnswers
from app.api.public.discovery import NOT_FOUND_DETAIL, cached_response, code_status, problem_for, public_answers
from app.api.public.upgrade_cache import SignedAnswer, UpgradeAnswers
from app.db import session, utcnow
from app.problems import BadRequest, NotFound, Problem
from app.storage import LocalObjectStore, StorageError, check_key
from app.upgrades.channel_state import ChannelState, decide_for, installer_target
from app.upgrades.decision import Decision
from app.upgrades.releases import public_installer
from app.upgrades.versions import PLATFORMS, InvalidVersion, Version, parse_version

UPGRADE_CACHE_CONTROL = "public, max-age=0, s-maxage=1, must-revalidate"
KEYS_CACHE_CONTROL = "public, max-age=300, must-revalidate"
INSTALLER_CACHE_CONTROL = "public, max-age=31536000, immutable"
MAX_INSTALL_ID = 128
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_INSTALL_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
# in the signed payload of a poll without install_id: such a client silently never gets staged releases
INSTALL_ID_MISSING = (
    "install_id_missing: staged releases (rollout_percent below 100) are never offered without install_id",
)


def upgrade_answers() -> UpgradeAnswers:
    """This worker's cached upgrade state."""
    return current_app.extensions["livery.upgrades"]


def parse_query(args: Mapping[str, str]) -> tuple[Version, str, str | None]:
    """Version, platform and install id from the query ``args``; BadRequest says what to fix."""
    raw_version = args.get("version")
    platform = args.get("platform")
    install_id = args.get("install_id") or None
    if not raw_version:
        raise BadRequest("Query parameter 'version' is required, e.g. version=5.2.0.", code="invalid_version")
    try:
        version = parse_version(raw_version)
    except InvalidVersion as exc:
        raise BadRequest(f"Query parameter 'version': {exc}", code="invalid_version") from None
    if not platform or platform not in PLATFORMS:
        raise BadRequest(f"Query parameter 'platform' must be one of: {', '.join(PLATFORMS)}.", code="invalid_platform")
    if install_id is not None and not _INSTALL_ID_RE.fullmatch(install_id):
        raise BadRequest(
            f"Query parameter 'install_id' must be 1 to {MAX_INSTALL_ID} visible ASCII characters.",
            code="invalid_install_id",
        )
    return version, platform, install_id


def _payload(
    state: ChannelState, version: Version, platform: str, decision: Decision, base_url: str, warnings: tuple[str, ...]
) -> dict[str, Any]:
    payload = {
        "action": decision.action,
        "reason": decision.reason,
        "serial": state.serial,
        "channel": state.name,
        "platform": platform,
        "client_version": version.text,
        "target": installer_target(state, decision.target, platform, base_url) if decision.target is not None else None,
    }
    if warnings:
        payload["warnings"] = list(warnings)
    return payload


def upgrade_answer(
    public: PublicAnswers, answers: UpgradeAnswers, raw_code: str, query: tuple[Version, str, str | None], base_url: str
) -> SignedAnswer:
    """The signed answer for an already validated ``query`` on ``raw_code``; raises the problem to answer.

    Both the Flask route and fast.py answer through here. The decision is made for every poll (it
    depends on the time and on the install's rollout buckets); its signed answer is memoised by
    what the payload is made of, so a repeat answer is not serialised or signed again.
    """
    version, platform, install_id = query
    found = code_status(public, raw_code)
    if isinstance(found, int):
        raise problem_for(found)
    try:
        state = answers.state_of(found)
    except StorageError:
        raise Problem(
            503, "storage_unavailable", "Service unavailable", "The control file cannot be read; retry later."
        ) from None
    if state is None:  # a live code whose brand was never published: like discovery
        raise NotFound(NOT_FOUND_DETAIL)
    decision = decide_for(state, version, platform, install_id, utcnow())
    warnings = INSTALL_ID_MISSING if install_id is None else ()
    return answers.decided(
        state,
        version.text,
        platform,
        decision,
        lambda: _payload(state, version, platform, decision, base_url, warnings),
        warnings=warnings,
    )


@bp.get("/upgrade/<path:access_code>")
def upgrade(access_code: str) -> Response:
    """The signed upgrade decision for one installed client (ETag / If-None-Match aware)."""
    query = parse_query(request.args)
    base_url = current_app.config["LIVERY"].public_base_url
    answer = upgrade_answer(public_answers(), upgrade_answers(), access_code, query, base_url)
    return cached_response(answer.body, answer.etag, UPGRADE_CACHE_CONTROL)


@bp.get("/keys")
def keys() -> Response:
    """The public keys that upgrade answers are signed with (the active one and the next)."""
    answer = upgrade_answers().keys_document()
    return cached_response(answer.body, answer.etag, KEYS_CACHE_CONTROL)


@bp.get("/installers/<path:sha256>")
def installer(sha256: str) -> Response:
    """A published installer: a redirect to a short-lived storage URL, or the bytes (Range supported)."""
    release = public_installer(session(), sha256) if _SHA256_RE.fullmatch(sha256) else None
    if release is None:
        raise NotFound("No such installer.")
    store = current_app.extensions["livery.stores"].installers
    if isinstance(store, LocalObjectStore):
        path = os.path.join(store.root, check_key(sha256))
        if not os.path.isfile(path):
            raise NotFound("No such installer.")
        # conditional=True answers Range and If-None-Match itself, so interrupted downloads resume.
        response = send_file(
            path,
            mimetype="application/octet-stream",
            conditional=True,
            etag=sha256,
            download_name=release.file_name or f"{sha256}.bin",
            as_attachment=True,
        )
        response.headers["Cache-Control"] = INSTALLER_CACHE_CONTROL
        return response
    try:
        url = store.presigned_url(sha256, current_app.config["LIVERY"].s3_presign_seconds)
    except StorageError:
        raise Problem(503, "storage_unavailable", "Service unavailable", "Storage is unreachable; retry.") from None
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"  # the presigned URL expires; never cache the redirect
    return response
