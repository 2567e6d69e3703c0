"""What a client gets from the public API, decided without Flask: the core both paths share.

The Flask routes (discovery.py, upgrade.py, assets.py) and the WSGI fast path (fast.py) answer
through these functions, so that they cannot disagree: code status, the discovery answer, the
problem texts, the upgrade query and answer and the Cache-Control values (digests are checked by
app.formats.is_sha256 on both paths).
This module imports no route module and no Flask; the caches it reads (``PublicAnswers`` in
cache.py, ``UpgradeAnswers`` in upgrade_cache.py) are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from app.branding.codes import public_digest
from app.db import utcnow
from app.formats import MAX_INSTALL_ID, is_install_id
from app.problems import BadRequest, Gone, NotFound, Problem, StorageUnavailable
from app.storage import StorageError
from app.upgrades.channel_state import ChannelState, decide_for, installer_target
from app.upgrades.decision import Decision
from app.upgrades.versions import PLATFORMS, InvalidVersion, Version, parse_version

if TYPE_CHECKING:  # types only: the caches import this module, never the other way round
    from app.api.public.cache import CodeEntry, PublicAnswers
    from app.api.public.upgrade_cache import UpgradeAnswers

UPGRADE_CACHE_CONTROL = "public, max-age=0, s-maxage=1, must-revalidate"
KEYS_CACHE_CONTROL = "public, max-age=300, must-revalidate"
IMMUTABLE = "public, max-age=31536000, immutable"  # assets and installers: content-addressed
NO_STORE = "no-store"  # licence checks and install reports: answers for one caller
NOT_FOUND_DETAIL = "No access code like this is known. Check the code the product was built with."
GONE_DETAIL = "This access code is no longer valid. Ask the software's vendor for an update."
NOT_LIVE_DETAIL = "This product has not gone live yet; its live access codes answer from its go-live date."


@dataclass(frozen=True, slots=True)
class Answer:
    """Response bytes and their strong ETag: a discovery document, a signed upgrade answer, the keys."""

    body: bytes
    etag: str


class Refused(IntEnum):
    """Why an access code gets no answer; the value is the status of the problem it answers."""

    NOT_LIVE = 403  # a live code of a partner still onboarding (test codes answer throughout)
    UNKNOWN = 404  # malformed, unknown, or a live code whose brand was never published
    GONE = 410  # revoked, expired, or its partner suspended


class UpgradeQuery(NamedTuple):
    """An upgrade poll's validated query."""

    version: Version
    platform: str
    install_id: str | None


def discovery_cache_control(max_age: int, shared_max_age: int) -> str:
    """Cache-Control of discovery answers: short caching by CDNs and proxies, always revalidated."""
    return f"public, max-age={max_age}, s-maxage={shared_max_age}, must-revalidate"


def looked_up(answers: PublicAnswers, raw: str) -> tuple[str, CodeEntry | Refused]:
    """The digest of ``raw`` and its usable access code, else why it is refused."""
    digest = public_digest(raw)
    entry = answers.code(digest) if digest else None
    if entry is None:
        return digest, Refused.UNKNOWN
    if not answers.code_valid(entry, answers.wall_clock()):
        return digest, Refused.GONE
    if entry.live and not answers.partner_live(entry):
        return digest, Refused.NOT_LIVE
    return digest, entry


def code_status(answers: PublicAnswers, raw: str) -> CodeEntry | Refused:
    """The usable access code for ``raw``, else why it is refused (unknown, gone or not live yet)."""
    return looked_up(answers, raw)[1]


def problem_for(refused: Refused) -> Problem:
    """The problem a refused code answers; the same for every code, so nothing tells codes apart."""
    if refused == Refused.NOT_LIVE:
        return Problem("partner_not_live", NOT_LIVE_DETAIL)
    return Gone(GONE_DETAIL) if refused == Refused.GONE else NotFound(NOT_FOUND_DETAIL)


def discovery_answer(
    answers: PublicAnswers, raw: str, looked: tuple[str, CodeEntry | Refused] | None = None
) -> Answer | Refused:
    """The discovery answer for ``raw`` (``looked``: its ``looked_up``, if known), else why it is refused."""
    digest, found = looked or looked_up(answers, raw)
    if isinstance(found, Refused):
        return found
    answer = answers.discovery(found)
    if not found.live:  # after the render: tests run every thread on one database connection
        answers.note_test_launch(digest)  # go-live readiness: a test code has launched (a set lookup)
    return Refused.UNKNOWN if answer is None else answer  # a live code of a never-published brand shows nothing


def parse_query(args: Mapping[str, str]) -> UpgradeQuery:
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
    if install_id is not None and not is_install_id(install_id):
        raise BadRequest(
            f"Query parameter 'install_id' must be 1 to {MAX_INSTALL_ID} visible ASCII characters.",
            code="invalid_install_id",
        )
    return UpgradeQuery(version, platform, install_id)


# in the signed payload of a poll without install_id: such a client silently never gets staged releases
INSTALL_ID_MISSING = (
    "install_id_missing: staged releases (rollout_percent below 100) are never offered without install_id",
)


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
    public: PublicAnswers,
    answers: UpgradeAnswers,
    raw_code: str,
    query: UpgradeQuery,
    base_url: str,
    found: CodeEntry | Refused | None = None,
) -> Answer:
    """The signed answer for an already validated ``query`` on ``raw_code``; raises the problem to answer.

    ``found``: the code's ``code_status`` when the caller has it already.

    The decision is made for every poll (it depends on the time and on the install's
    rollout buckets); its signed answer is memoised by what the payload is made of, so a repeat
    answer is not serialised or signed again.
    """
    version, platform, install_id = query
    if found is None:
        found = code_status(public, raw_code)
    if isinstance(found, Refused):
        raise problem_for(found)
    try:
        state = answers.state_of(found)
    except StorageError as exc:
        raise StorageUnavailable.after(exc, "The control file cannot be read; retry later.") from None
    if state is None:  # a live code whose brand was never published: like discovery
        raise problem_for(Refused.UNKNOWN)
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
