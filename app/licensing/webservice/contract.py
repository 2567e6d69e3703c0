"""The contract a partner's licensing web service implements (pure; docs/licensing-webservice.md).

Livery sends ``GET <url_template with {user_id} percent-encoded>``, signed Standard-Webhooks
style, and expects ``200`` with a JSON object ``{"user_id": <the id sent>, "licensed": bool,
"licence_type": str | null}``. "Not licensed" is that same 200 with ``"licensed": false``;
anything else (404 included: a wrong URL must not deny every user) is a failure, answered from
the last known good answer (``grace``) or as ``unavailable``.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from app.outbound.egress import EgressPolicy, EgressRefused

USER_ID_PLACEHOLDER = "{user_id}"
MAX_LICENCE_TYPE_CHARS = 63
MAX_GRACE_HOURS = 168  # a longer grace would keep a user's last answer too long (and lease a revoked user)
DEFAULTS = {"positive_cache_seconds": 900, "negative_cache_seconds": 60, "grace_hours": 72}


class ContractBroken(ValueError):
    """The partner's answer is not one the contract allows; the message says what is wrong."""


@dataclass(frozen=True)
class PartnerAnswer:
    """What the partner said about one user."""

    licensed: bool
    licence_type: str | None


@dataclass(frozen=True)
class WebServiceSettings:
    """One partner's web-service settings, read from the mapping the check passes."""

    partner_id: int
    url_template: str
    secrets: tuple[str, ...]  # newest first: Livery signs with the first
    positive_cache_seconds: int
    negative_cache_seconds: int
    grace_hours: int

    @classmethod
    def from_mapping(cls, partner_id: int, settings: Mapping[str, Any]) -> WebServiceSettings:
        """Read the agreed keys (``url_template``, ``secrets``, ...; ``web_service_*`` spellings too)."""

        def pick(*names: str, default: Any = None) -> Any:
            return next((settings[n] for n in names if settings.get(n) is not None), default)

        raw_secrets = pick("secrets", "web_service_secrets", default=())
        secrets = tuple(s["secret"] if isinstance(s, Mapping) else str(s) for s in raw_secrets)
        return cls(
            partner_id=partner_id,
            url_template=str(pick("url_template", "web_service_url_template", default="")),
            secrets=secrets,
            positive_cache_seconds=int(pick("positive_cache_seconds", default=DEFAULTS["positive_cache_seconds"])),
            negative_cache_seconds=int(pick("negative_cache_seconds", default=DEFAULTS["negative_cache_seconds"])),
            grace_hours=min(
                int(pick("grace_hours", "grace_max_hours", default=DEFAULTS["grace_hours"])), MAX_GRACE_HOURS
            ),
        )


def template_problem(template: str, policy: EgressPolicy | None = None) -> str | None:
    """Why ``template`` cannot be a web-service URL template, or None.

    Checks the shape, and the URL against ``policy`` (default: any http(s) URL; pass the
    service's policy to insist on https). Addresses are checked when it is called.
    """
    if template.count(USER_ID_PLACEHOLDER) != 1:
        return "The URL template must contain {user_id} exactly once."
    rest = template.replace(USER_ID_PLACEHOLDER, "")
    if "{" in rest or "}" in rest or "#" in rest:
        return "The URL template may contain no other braces than {user_id}, and no fragment."
    marker = "user-id-here"
    try:
        target = (policy or EgressPolicy(allow_private=True)).target(template.replace(USER_ID_PLACEHOLDER, marker))
    except EgressRefused as exc:
        return str(exc)
    if marker in target.host or marker not in target.request_target:
        return "{user_id} must be in the path or the query, not the host."
    return None


def partner_url(template: str, user_id: str) -> str:
    """The URL for one user: the id UTF-8 percent-encoded, every reserved character included."""
    return template.replace(USER_ID_PLACEHOLDER, quote(user_id, safe=""))


def same_user(echoed: str, sent: str) -> bool:
    """Whether the partner's echo names the user sent (its own case and normal form allowed)."""
    return _fold(echoed) == _fold(sent)


def _fold(user_id: str) -> str:
    return unicodedata.normalize("NFC", user_id).strip().casefold()


def parse_answer(status: int, body: bytes, sent_user_id: str) -> PartnerAnswer:
    """The partner's answer to ``sent_user_id``; raise ContractBroken for anything else."""
    if status != 200:
        raise ContractBroken(f"HTTP {status}: the contract answers 200 for licensed and not licensed users.")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ContractBroken("The body is not JSON.") from None
    if not isinstance(document, dict):
        raise ContractBroken("The body is not a JSON object.")
    licensed = document.get("licensed")
    if not isinstance(licensed, bool):
        raise ContractBroken("'licensed' must be true or false.")
    echoed = document.get("user_id")
    if not isinstance(echoed, str) or not same_user(echoed, sent_user_id):
        raise ContractBroken("'user_id' must echo the user id Livery sent (after decoding the URL).")
    licence_type = document.get("licence_type")
    if licensed:
        if not isinstance(licence_type, str) or not licence_type.strip():
            raise ContractBroken("A licensed user needs a non-empty 'licence_type'.")
        if len(licence_type) > MAX_LICENCE_TYPE_CHARS:
            raise ContractBroken(f"'licence_type' is longer than {MAX_LICENCE_TYPE_CHARS} characters.")
        return PartnerAnswer(True, licence_type.strip())
    if licence_type is not None and not isinstance(licence_type, str):
        raise ContractBroken("'licence_type' must be a string or null.")
    return PartnerAnswer(False, None)
