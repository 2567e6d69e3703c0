"""The adapter interface: built-ins, plug-ins from entry points, settings validated by each schema."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata

import marshmallow as ma
import pytest

from app.config import Settings
from app.licensing.methods import CheckRequest
from app.licensing.proprietary import ProprietaryMethod, adapters
from app.licensing.proprietary.adapters import ENTRY_POINT_GROUP, adapter_classes, validate_adapter_settings
from tests.licensing.proprietary.test_jwt_assertion import AUDIENCE, ISSUER, KEYS, pem, pem_settings, token

REQUEST = CheckRequest(partner_id=1, user_id="alice@example.com", proof=None, now=datetime(2026, 11, 30, tzinfo=UTC))


@pytest.fixture
def plugin(monkeypatch):
    entry = metadata.EntryPoint(
        name="everyone", value="tests.licensing.proprietary.sample_adapter:EveryoneAdapter", group=ENTRY_POINT_GROUP
    )
    hijack = metadata.EntryPoint(name="jwt_assertion", value="os:system", group=ENTRY_POINT_GROUP)
    real = metadata.entry_points
    monkeypatch.setattr(
        adapters.metadata,
        "entry_points",
        lambda group=None, **kw: (entry, hijack) if group == ENTRY_POINT_GROUP else real(group=group, **kw),
    )


def test_the_built_in_adapter_is_available_without_installation():
    assert "jwt_assertion" in adapter_classes()


def test_a_plug_in_adapter_is_loaded_from_its_entry_point_and_cannot_take_a_built_in_name(plugin):
    assert adapter_classes()["jwt_assertion"] == adapters.BUILT_IN["jwt_assertion"]
    verdict = ProprietaryMethod().check(REQUEST, {"adapter": "everyone", "adapter_settings": {"licence_type": "gold"}})
    assert (verdict.status, verdict.licence_type) == ("valid", "gold")


def test_unknown_adapters_and_bad_settings_answer_unavailable():
    method = ProprietaryMethod()
    assert method.check(REQUEST, {"adapter": "nope"}).source["reason"] == "unknown_adapter"
    assert method.check(REQUEST, {}).source["reason"] == "unknown_adapter"
    bad = {"adapter": "jwt_assertion", "adapter_settings": {"issuer": ISSUER}}
    assert method.check(REQUEST, bad).source["reason"] == "bad_settings"


def test_the_core_spelling_of_the_settings_keys_is_read_too():
    method = ProprietaryMethod(Settings())
    request = CheckRequest(1, "alice@example.com", token(), datetime(2026, 11, 30, 12, tzinfo=UTC))
    verdict = method.check(request, {"proprietary_adapter": "jwt_assertion", "proprietary_settings": pem_settings()})
    assert verdict.status == "valid"


def test_a_pem_key_of_another_type_than_the_algorithm_is_refused():
    request = CheckRequest(1, "alice@example.com", token("ES256"), datetime(2026, 11, 30, 12, tzinfo=UTC))
    verdict = ProprietaryMethod().check(request, {"adapter": "jwt_assertion", "adapter_settings": pem_settings()})
    assert (verdict.status, verdict.source["reason"]) == ("not_licensed", "invalid")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"issuer": ISSUER, "audience": AUDIENCE}, "public_key_pem"),
        (
            {"issuer": ISSUER, "audience": AUDIENCE, "public_key_pem": pem(KEYS["RS256"]), "jwks_url": "https://x/"},
            "public_key_pem",
        ),
        (
            {"issuer": ISSUER, "audience": AUDIENCE, "public_key_pem": "-----BEGIN PUBLIC KEY-----\nnope"},
            "public_key_pem",
        ),
        ({"issuer": ISSUER, "audience": AUDIENCE, "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "jwks"),
        ({"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "ftp://idp.example/jwks"}, "jwks_url"),
        (pem_settings(algorithms=["HS256"]), "algorithms"),
        (pem_settings(algorithms=["none"]), "algorithms"),
        (pem_settings(leeway_seconds=3600), "leeway_seconds"),
        ({"audience": AUDIENCE, "public_key_pem": pem(KEYS["RS256"])}, "issuer"),
        (pem_settings(issuer="https://idp.example/\x00"), "issuer"),  # unstorable text: the admin String
        (pem_settings(audience="livery-\ud800"), "audience"),
        (pem_settings(licence_type_claim="type\x00"), "licence_type_claim"),
    ],
)
def test_settings_are_validated_by_the_adapters_schema(settings, field):
    with pytest.raises(ma.ValidationError) as caught:
        validate_adapter_settings("jwt_assertion", settings)
    assert field in caught.value.messages


def test_validating_settings_of_an_unknown_adapter_names_the_adapter_field():
    with pytest.raises(ma.ValidationError) as caught:
        validate_adapter_settings("nope", {})
    assert "adapter" in caught.value.messages
    assert validate_adapter_settings("jwt_assertion", pem_settings())["leeway_seconds"] == 30
