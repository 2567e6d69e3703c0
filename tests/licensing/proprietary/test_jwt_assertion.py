"""The jwt_assertion adapter through the proprietary method: accept and refuse cases, key sources."""

from __future__ import annotations

import base64
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from app.config import Settings
from app.licensing.methods import CheckRequest
from app.licensing.proprietary import ProprietaryMethod

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ISSUER, AUDIENCE = "https://idp.acme.example", "livery:acme"


def _keys():
    return {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }


KEYS = _keys()


def pem(private) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwk(alg: str, kid: str) -> dict:
    algorithm = jwt.get_algorithm_by_name(alg)
    return json.loads(algorithm.to_jwk(KEYS[alg].public_key())) | {"kid": kid, "use": "sig"}


def token(alg: str = "RS256", *, key=None, headers: dict | None = None, **claims) -> str:
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice@example.com",
        "licence_type": "pro",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 300,
    }
    payload = {k: v for k, v in (base | claims).items() if v is not None}
    return jwt.encode(payload, key or KEYS[alg], algorithm=alg, headers=headers)


def check(proof, settings: dict, *, user_id="alice@example.com", at: float = 0, method=None):
    method = method or ProprietaryMethod(Settings(egress_allow_private=True))
    request = CheckRequest(partner_id=3, user_id=user_id, proof=proof, now=NOW + timedelta(seconds=at))
    return method.check(request, {"adapter": "jwt_assertion", "adapter_settings": settings})


def pem_settings(alg: str = "RS256", **extra) -> dict:
    return {"issuer": ISSUER, "audience": AUDIENCE, "public_key_pem": pem(KEYS[alg])} | extra


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_valid_assertion_is_valid_with_its_licence_type(alg):
    verdict = check(token(alg), pem_settings(alg))
    assert (verdict.status, verdict.licence_type) == ("valid", "pro")
    assert verdict.source == {"kind": "adapter", "adapter": "jwt_assertion"}


def test_the_subject_matches_the_normalised_user_id_case_insensitively():
    assert check(token(sub="Alice@Example.COM"), pem_settings()).status == "valid"
    refused = check(token(sub="bob@example.com"), pem_settings())
    assert (refused.status, refused.source["reason"]) == ("not_licensed", "sub_mismatch")


@pytest.mark.parametrize(
    ("at", "claims", "reason"),
    [
        (300 + 31, {}, "expired"),  # beyond the 30 s leeway
        (0, {"nbf": int(NOW.timestamp()) + 120}, "not_yet_valid"),
        (0, {"iss": "https://evil.example"}, "invalidissuer"),
        (0, {"aud": "livery:other"}, "invalidaudience"),
        (0, {"exp": None}, "missingrequiredclaim"),
        (0, {"licence_type": None}, "no_licence_type"),
        (0, {"licence_type": " "}, "no_licence_type"),
    ],
)
def test_refused_claims(at, claims, reason):
    verdict = check(token(**claims), pem_settings(), at=at)
    assert (verdict.status, verdict.licensed, verdict.source["reason"]) == ("not_licensed", False, reason)


def test_expiry_within_the_leeway_is_accepted():
    assert check(token(), pem_settings(), at=300 + 29).status == "valid"
    assert check(token(), pem_settings(leeway_seconds=0), at=301).source["reason"] == "expired"


def test_a_signature_by_another_key_is_refused():
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert check(token(key=other), pem_settings()).source["reason"] == "bad_signature"


def test_alg_none_is_refused():
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@example.com", "exp": 2**40}, None, "none")
    assert check(unsigned, pem_settings()).source["reason"] == "algorithm_not_allowed"


def test_hs256_signed_with_the_public_key_as_secret_is_refused():
    # the classic confusion attack: HMAC keyed with the (public) PEM the verifier holds
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@example.com", "licence_type": "pro", "exp": 2**40}
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=")
    mac = hmac.new(pem(KEYS["RS256"]).encode(), header + b"." + payload, sha256).digest()
    forged = b".".join([header, payload, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    assert check(forged, pem_settings()).source["reason"] == "algorithm_not_allowed"


def test_an_algorithm_not_in_the_settings_is_refused():
    settings = pem_settings("ES256", algorithms=["ES256"])
    assert check(token("ES256"), settings).status == "valid"
    assert check(token("RS256"), settings).source["reason"] == "algorithm_not_allowed"


@pytest.mark.parametrize("proof", [None, "", "not.a.jwt", "x" * 20_000])
def test_missing_or_malformed_proof_is_not_licensed(proof):
    verdict = check(proof, pem_settings())
    assert verdict.status == "not_licensed"


def test_an_inline_jwks_picks_the_key_by_kid():
    settings = {"issuer": ISSUER, "audience": AUDIENCE, "jwks": {"keys": [jwk("RS256", "r1"), jwk("ES256", "e1")]}}
    assert check(token("ES256", headers={"kid": "e1"}), settings).status == "valid"
    assert check(token("RS256", headers={"kid": "r1"}), settings).status == "valid"
    assert check(token("RS256", headers={"kid": "e1"}), settings).source["reason"] == "key_algorithm_mismatch"
    assert check(token("RS256", headers={"kid": "zz"}), settings).source["reason"] == "unknown_key"


class JwksServer:
    def __init__(self, document: dict) -> None:
        self.document, self.hits = document, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                server.hits += 1
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/.well-known/jwks.json"

    def stop(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def jwks_server():
    server = JwksServer({"keys": [jwk("EdDSA", "k1")]})
    yield server
    server.stop()


def test_a_jwks_url_is_fetched_once_cached_and_refetched_for_a_new_kid(jwks_server):
    method = ProprietaryMethod(Settings(egress_allow_private=True))
    settings = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": jwks_server.url}
    assert check(token("EdDSA", headers={"kid": "k1"}), settings, method=method).status == "valid"
    assert check(token("EdDSA", headers={"kid": "k1"}), settings, method=method, at=10).status == "valid"
    assert jwks_server.hits == 1
    jwks_server.document = {"keys": [jwk("EdDSA", "k1"), jwk("ES256", "k2")]}  # the partner rotates in k2
    assert check(token("ES256", headers={"kid": "k2"}), settings, method=method, at=30).status == "not_licensed"
    assert jwks_server.hits == 1  # an unknown kid refetches at most once a minute
    assert check(token("ES256", headers={"kid": "k2"}), settings, method=method, at=61).status == "valid"
    assert jwks_server.hits == 2


def test_an_unreachable_jwks_url_is_unavailable_and_a_stale_set_is_kept(jwks_server):
    method = ProprietaryMethod(Settings(egress_allow_private=True))
    settings = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": jwks_server.url, "jwks_cache_seconds": 60}
    proof = token("EdDSA", headers={"kid": "k1"}, exp=int(NOW.timestamp()) + 3600)
    assert check(proof, settings, method=method).status == "valid"
    jwks_server.stop()
    assert check(proof, settings, method=method, at=120).status == "valid"  # stale keys while it is down
    fresh = ProprietaryMethod(Settings(egress_allow_private=True))
    verdict = check(proof, settings, method=fresh)
    assert (verdict.status, verdict.source["reason"]) == ("unavailable", "jwks_unavailable")


def test_a_jwks_url_on_loopback_is_refused_without_private_egress(jwks_server):
    strict = ProprietaryMethod(Settings())
    settings = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": jwks_server.url}
    assert check(token("EdDSA", headers={"kid": "k1"}), settings, method=strict).status == "unavailable"
    assert jwks_server.hits == 0
