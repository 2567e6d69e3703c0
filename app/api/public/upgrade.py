"""GET /v1/upgrade/{access_code}, GET /v1/keys and GET /v1/installers/{sha256}: upgrade polling.

Every upgrade answer is an Ed25519-signed envelope (see app/upgrades/signing.py) in canonical
JSON, so a client can check it wherever it was served from; the payload carries the control-file
serial, so a client can refuse an answer older than one it has seen. The decision is made in
answers.py, which fast.py shares.
"""

from __future__ import annotations

from flask import Response, current_app, redirect, request, send_file

from app.api.conditional import cached_response
from app.api.public.answers import (
    IMMUTABLE,
    KEYS_CACHE_CONTROL,
    UPGRADE_CACHE_CONTROL,
    parse_query,
    upgrade_answer,
)
from app.api.public.blueprint import bp, public_answers, stores, upgrade_answers
from app.db import session
from app.formats import is_sha256
from app.problems import NotFound, StorageUnavailable
from app.storage import StorageError
from app.upgrades.releases import public_installer


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


def _installer_published(sha256: str) -> bool:
    """Whether ``sha256`` is a published installer: known to the worker (no query, no database needed;
    a yank reaches it as a channel change), else asked of the database."""
    answers = public_answers()
    if answers.known_installer(sha256):
        return True
    release = public_installer(session(), sha256)
    if release is None:
        return False
    answers.remember_installer(sha256, release.file_name)
    return True


@bp.get("/installers/<path:sha256>")
def installer(sha256: str) -> Response:
    """A published installer: a redirect to a short-lived storage URL, or the bytes (Range supported)."""
    if not is_sha256(sha256) or not _installer_published(sha256):
        raise NotFound("No such installer.")
    store = stores().installers
    path = store.local_path(sha256)
    if path is not None:
        # conditional=True answers Range and If-None-Match itself, so interrupted downloads resume.
        response = send_file(
            path,
            mimetype="application/octet-stream",
            conditional=True,
            etag=sha256,
            download_name=public_answers().installer_file_name(sha256) or f"{sha256}.bin",
            as_attachment=True,
        )
        response.headers["Cache-Control"] = IMMUTABLE
        return response
    try:
        url = store.presigned_url(sha256, current_app.config["LIVERY"].s3_presign_seconds)
    except StorageError as exc:
        raise StorageUnavailable.after(exc, "Storage is unreachable; retry.") from None
    if url is None:  # a folder store without the file
        raise NotFound("No such installer.")
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"  # the presigned URL expires; never cache the redirect
    return response
