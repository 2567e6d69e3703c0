"""``jwt_assertion``: the partner's desktop client proves the licence with a JWT the partner signed.

The client passes the token as ``proof``. Livery verifies, with PyJWT: the signature (RS256,
ES256 or EdDSA only: ``none`` and every HS* are refused, so a public key can never be used as an
HMAC secret), ``iss``, ``aud``, ``exp`` and ``nbf`` (against the check's clock, with a small
leeway), that ``sub`` is the user being checked, and reads the licence type from a claim.
Keys: one PEM public key, an inline JWKS, or a JWKS URL fetched through the egress policy (same
timeouts, 64 KiB cap) and cached; an unknown ``kid`` refetches at most once a minute.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import jwt
import marshmallow as ma
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.api.admin import fields  # the admin API's input types: adapter settings are admin input
from app.config import Settings
from app.licensing.methods import CheckRequest, Verdict
from app.licensing.webservice.contract import same_user
from app.outbound.egress import EgressPolicy, EgressRefused
from app.outbound.http import FetchError, fetch

ALGORITHMS = ("RS256", "ES256", "EdDSA")
MAX_PROOF_CHARS = 16 * 1024
REFETCH_UNKNOWN_KID_SECONDS = 60


def _public_key(pem: str) -> None:
    try:
        load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ma.ValidationError("Not a PEM public key (-----BEGIN PUBLIC KEY-----).") from None


def _jwks(value: dict) -> None:
    try:
        keys = jwt.PyJWKSet.from_dict(value).keys
    except jwt.PyJWTError as exc:
        raise ma.ValidationError(f"Not a usable JWKS: {exc}") from None
    if any(key.algorithm_name.startswith("HS") or key.key_type == "oct" for key in keys):
        raise ma.ValidationError("Symmetric (oct/HS*) keys are not accepted.")


class JwtAssertionSettings(ma.Schema):
    """The adapter's settings; strings on the admin API's storable String (no NUL, no lone surrogate)."""

    issuer = fields.String(required=True, validate=ma.validate.Length(1, 2000))
    audience = fields.String(required=True, validate=ma.validate.Length(1, 2000))
    licence_type_claim = fields.String(load_default="licence_type", validate=ma.validate.Length(1, 100))
    algorithms = ma.fields.List(
        fields.String(validate=ma.validate.OneOf(ALGORITHMS)),
        load_default=list(ALGORITHMS),
        validate=ma.validate.Length(min=1),
    )
    public_key_pem = fields.String(validate=[ma.validate.Length(max=20_000), _public_key])
    jwks = ma.fields.Dict(validate=_jwks)
    jwks_url = fields.String(validate=ma.validate.Length(max=2000))
    jwks_cache_seconds = ma.fields.Integer(load_default=3600, validate=ma.validate.Range(60, 86_400))
    leeway_seconds = ma.fields.Integer(load_default=30, validate=ma.validate.Range(0, 300))

    @ma.validates_schema
    def _one_key_source(self, data: dict, **_kw) -> None:
        given = [name for name in ("public_key_pem", "jwks", "jwks_url") if data.get(name)]
        if len(given) != 1:
            raise ma.ValidationError("Give exactly one of public_key_pem, jwks, jwks_url.", "public_key_pem")
        if data.get("jwks_url"):
            try:  # the shape only: https and public addresses are enforced when it is fetched
                EgressPolicy(allow_private=True).target(data["jwks_url"])
            except EgressRefused as exc:
                raise ma.ValidationError(str(exc), "jwks_url") from None


class Refused(Exception):
    """The proof does not prove a licence; the message is the reason code."""


class KeysUnavailable(Exception):
    """The JWKS could not be fetched and none is cached."""


class JwtAssertionAdapter:
    """Verifies partner-signed assertions (docs/licensing-webservice.md, "Proprietary adapters")."""

    name = "jwt_assertion"
    settings_schema = JwtAssertionSettings

    def __init__(self, config: Settings | None = None) -> None:
        config = config or Settings()
        self._policy = EgressPolicy(allow_private=config.egress_allow_private)
        self._connect_timeout = config.licensing_connect_timeout
        self._timeout = config.licensing_timeout
        self._jwks_cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._lock = threading.Lock()

    def check(self, request: CheckRequest, settings: Mapping[str, Any]) -> Verdict:
        """Valid with the asserted licence type, or not_licensed with the reason in ``source``."""
        now = request.now.timestamp()
        try:
            claims = self._verified_claims(request.proof, settings, now)
            if not same_user(str(claims.get("sub", "")), request.user_id):
                raise Refused("sub_mismatch")
            licence_type = claims.get(settings["licence_type_claim"])
            if not isinstance(licence_type, str) or not licence_type.strip():
                raise Refused("no_licence_type")
        except Refused as refused:
            return Verdict("not_licensed", source={"kind": "adapter", "adapter": self.name, "reason": str(refused)})
        except KeysUnavailable:
            return Verdict(
                "unavailable", source={"kind": "adapter", "adapter": self.name, "reason": "jwks_unavailable"}
            )
        return Verdict("valid", licence_type.strip(), {"kind": "adapter", "adapter": self.name})

    def _verified_claims(self, proof: str | None, settings: Mapping[str, Any], now: float) -> dict[str, Any]:
        if not proof or len(proof) > MAX_PROOF_CHARS:
            raise Refused("no_proof" if not proof else "proof_too_long")
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError:
            raise Refused("malformed") from None
        if header.get("alg") not in settings["algorithms"]:
            raise Refused("algorithm_not_allowed")
        key = self._key(settings, header, now)
        try:
            claims = jwt.decode(
                proof,
                key,
                algorithms=[header["alg"]],
                audience=settings["audience"],
                issuer=settings["issuer"],
                # expiry is checked below against the check's clock, not the process's
                options={"require": ["exp", "iss", "aud", "sub"], "verify_exp": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError:
            raise Refused("bad_signature") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError, jwt.MissingRequiredClaimError) as exc:
            raise Refused(type(exc).__name__.removesuffix("Error").lower()) from None
        except (jwt.PyJWTError, TypeError, ValueError):  # TypeError: a key of another type than the alg
            raise Refused("invalid") from None
        leeway = settings["leeway_seconds"]
        expires, not_before = claims.get("exp"), claims.get("nbf", now)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            raise Refused("invalid")
        if now > expires + leeway:
            raise Refused("expired")
        if now < not_before - leeway:
            raise Refused("not_yet_valid")
        return claims

    def _key(self, settings: Mapping[str, Any], header: dict, now: float) -> Any:
        if settings.get("public_key_pem"):
            return load_pem_public_key(settings["public_key_pem"].encode())
        keys = jwt.PyJWKSet.from_dict(settings["jwks"]) if settings.get("jwks") else None
        if keys is None:
            keys = self._fetched_keys(settings["jwks_url"], settings["jwks_cache_seconds"], now, header.get("kid"))
        candidates = [k for k in keys.keys if header.get("kid") in (None, k.key_id)]
        if len(candidates) != 1 or candidates[0].key_type == "oct":
            raise Refused("unknown_key")
        if candidates[0].algorithm_name != header["alg"]:
            raise Refused("key_algorithm_mismatch")
        return candidates[0].key

    def _fetched_keys(self, url: str, max_age: int, now: float, kid: str | None) -> jwt.PyJWKSet:
        with self._lock:
            cached = self._jwks_cache.get(url)
        if cached is not None:
            fetched_at, keys = cached
            known = kid is None or any(k.key_id == kid for k in keys.keys)
            if now - fetched_at < max_age and (known or now - fetched_at < REFETCH_UNKNOWN_KID_SECONDS):
                return keys
        try:
            answer = fetch(
                self._policy, url, headers={"Accept": "application/json"},
                connect_timeout=self._connect_timeout, timeout=self._timeout,
            )  # fmt: skip
            if answer.status != 200:
                raise FetchError("protocol", f"HTTP {answer.status}")
            keys = jwt.PyJWKSet.from_dict(json.loads(answer.body))
        except (FetchError, ValueError, jwt.PyJWTError):
            if cached is not None:
                return cached[1]  # a stale key set beats none while the partner's endpoint is down
            raise KeysUnavailable from None
        with self._lock:
            self._jwks_cache[url] = (now, keys)
        return keys
