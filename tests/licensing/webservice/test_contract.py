"""The web-service contract's pure rules: URL templates, the encoded URL, the partner's answer."""

from __future__ import annotations

import pytest

from app.licensing.webservice.contract import (
    ContractBroken,
    PartnerAnswer,
    WebServiceSettings,
    parse_answer,
    partner_url,
    template_problem,
)
from app.outbound.egress import EgressPolicy


@pytest.mark.parametrize(
    "template",
    [
        "https://licences.acme.example/v1/users/{user_id}",
        "https://licences.acme.example/check?user={user_id}&product=crm",
        "https://licences.acme.example:8443/{user_id}/licence",
    ],
)
def test_good_templates(template):
    assert template_problem(template, EgressPolicy()) is None


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("https://licences.acme.example/users", "exactly once"),
        ("https://licences.acme.example/{user_id}/{user_id}", "exactly once"),
        ("https://licences.acme.example/{user_id}/{other}", "braces"),
        ("https://licences.acme.example/{user_id}#frag", "fragment"),
        ("https://{user_id}.acme.example/x", "host"),
        ("https://user:pw@acme.example/{user_id}", "user name"),
        ("https://acme.example/ {user_id}", "spaces"),
    ],
)
def test_bad_templates(template, words):
    assert words in template_problem(template)


def test_http_is_a_problem_only_for_a_strict_policy():
    template = "http://127.0.0.1:8080/licences/{user_id}"
    assert template_problem(template) is None
    assert "https" in template_problem(template, EgressPolicy())


def test_every_reserved_character_is_percent_encoded():
    url = partner_url("https://l.example/u/{user_id}?x=1", "a/b?c#d@e+f%g h&i=j zoë")
    assert url == "https://l.example/u/a%2Fb%3Fc%23d%40e%2Bf%25g%20h%26i%3Dj%20zo%C3%AB?x=1"


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (b'{"user_id": "alice", "licensed": true, "licence_type": "pro"}', PartnerAnswer(True, "pro")),
        (b'{"user_id": "ALICE", "licensed": true, "licence_type": " pro "}', PartnerAnswer(True, "pro")),
        (b'{"user_id": "alice", "licensed": false}', PartnerAnswer(False, None)),
        (b'{"user_id": "alice", "licensed": false, "licence_type": null, "extra": 1}', PartnerAnswer(False, None)),
    ],
)
def test_contract_answers(body, answer):
    assert parse_answer(200, body, "alice") == answer


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (404, b"{}", "HTTP 404"),
        (200, b"nope", "not JSON"),
        (200, b"\xff\xfe", "not JSON"),
        (200, b"[]", "not a JSON object"),
        (200, b'{"user_id": "alice", "licensed": "yes"}', "'licensed'"),
        (200, b'{"user_id": "bob", "licensed": false}', "'user_id'"),
        (200, b'{"licensed": false}', "'user_id'"),
        (200, b'{"user_id": "alice", "licensed": true}', "licence_type"),
        (200, b'{"user_id": "alice", "licensed": true, "licence_type": ""}', "licence_type"),
        (200, b'{"user_id": "alice", "licensed": true, "licence_type": "' + b"x" * 64 + b'"}', "63"),
        (200, b'{"user_id": "alice", "licensed": false, "licence_type": 5}', "licence_type"),
    ],
)
def test_answers_that_break_the_contract(status, body, words):
    with pytest.raises(ContractBroken) as caught:
        parse_answer(status, body, "alice")
    assert words in str(caught.value)


def test_settings_read_both_spellings_defaults_and_cap_grace():
    agreed = WebServiceSettings.from_mapping(
        1, {"url_template": "https://x/{user_id}", "secrets": [{"id": "a", "secret": "whsec_1"}], "grace_hours": 500}
    )
    core = WebServiceSettings.from_mapping(
        1, {"web_service_url_template": "https://x/{user_id}", "web_service_secrets": ["whsec_1"]}
    )
    assert agreed.secrets == core.secrets == ("whsec_1",)
    assert agreed.grace_hours == 168 and core.grace_hours == 72
    assert (core.positive_cache_seconds, core.negative_cache_seconds) == (900, 60)
