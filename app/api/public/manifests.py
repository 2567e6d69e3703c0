"""GET /v1/upgrade-manifest/{access_code}: a code's signed upgrade manifest, from the API.

The same bytes as the static root's ``upgrade/<digest>/manifest.json`` (docs/client-protocol.md
§ 9): the channel's offer, signed and bound to the code, from which the client decides with its
own install id, version and platform. Nothing in the URI varies per install, so every install of
a build asks the same URI and a cache in front (the nginx micro-cache, a CDN) answers nearly all
of a launch storm; the install id never leaves the machine. The per-install poll
(``/v1/upgrade/{code}?install_id=...``) keeps working for clients that do not use this.
"""

from __future__ import annotations

from flask import Response, current_app

from app.api.conditional import cached_response
from app.api.public.answers import UPGRADE_CACHE_CONTROL, Answer, Refused, code_status, problem_for
from app.api.public.blueprint import bp, counted, public_answers, upgrade_answers
from app.branding.codes import code_digest, normalise_code
from app.formats import strong_etag
from app.problems import StorageUnavailable
from app.publishing.wiring import signed_manifest
from app.storage import StorageError

MEMO_LIMIT = 4096  # signed manifests kept per worker; the whole memo is dropped beyond it


@bp.get("/upgrade-manifest/<path:access_code>")
def upgrade_manifest(access_code: str) -> Response:
    """The code's signed upgrade manifest (ETag / If-None-Match aware); problems as for polls."""
    public = public_answers()
    found = code_status(public, access_code)
    if isinstance(found, Refused):
        raise counted(problem_for(found))
    upgrades = upgrade_answers()
    try:
        state = upgrades.state_of(found)
    except StorageError as exc:
        raise StorageUnavailable.after(exc, "The control file cannot be read; retry later.") from None
    if state is None:  # a live code whose brand was never published: like discovery
        raise counted(problem_for(Refused.UNKNOWN))
    memo: dict[str, tuple[object, str, Answer]] = current_app.extensions.setdefault("livery.manifest_memo", {})
    digest = code_digest(normalise_code(access_code))  # a usable code: its canonical form exists
    ring = upgrades.ring
    held = memo.get(digest)
    # a channel change replaces the state object; a key rotation changes the signing key
    if held is None or held[0] is not state or held[1] != ring.active_id:
        body = signed_manifest(ring, state, digest, current_app.config["LIVERY"].public_base_url)
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        held = memo[digest] = (state, ring.active_id, Answer(body, strong_etag(body)))
    return cached_response(held[2].body, held[2].etag, UPGRADE_CACHE_CONTROL)
