"""The web-service method against a real HTTP partner on loopback, with an injected clock."""

from __future__ import annotations

import time

import pytest

from tests.licensing.webservice.conftest import ask
from tests.licensing.webservice.fake_partner import FakePartner, free_port


def test_licensed_user_is_valid_with_the_partners_licence_type(method, settings, partner):
    verdict = ask(method, settings)
    assert (verdict.status, verdict.licence_type, verdict.licensed) == ("valid", "standard", True)
    assert verdict.source["kind"] == "partner" and verdict.source["http_status"] == 200
    assert len(partner.requests) == 1


def test_unknown_user_is_not_licensed(method, settings):
    verdict = ask(method, settings, "nobody@example.com")
    assert (verdict.status, verdict.licence_type, verdict.licensed) == ("not_licensed", None, False)


@pytest.mark.parametrize("user_id", ["a@b.example", "a+b", "100%", "x/y", "../etc", "a?b#c", "zoë 名前", "é\u0301"])
def test_user_id_is_percent_encoded_and_round_trips(method, settings, partner, user_id):
    partner.licensed[user_id] = "pro"
    verdict = ask(method, settings, user_id)
    assert (verdict.status, verdict.licence_type) == ("valid", "pro")
    path = partner.requests[-1]["path"]
    encoded = path.removeprefix("/licences/")
    assert "/" not in encoded and "?" not in encoded and "@" not in encoded and "+" not in encoded
    assert encoded.isascii()


def test_positive_answers_are_cached_fifteen_minutes(method, settings, partner):
    assert ask(method, settings).source["kind"] == "partner"
    cached = ask(method, settings, at=899)
    assert (cached.status, cached.source) == ("valid", {"kind": "cache", "age_seconds": 899})
    assert len(partner.requests) == 1
    assert ask(method, settings, at=900).source["kind"] == "partner"
    assert len(partner.requests) == 2


def test_negative_answers_are_cached_sixty_seconds_and_follow_settings(method, settings, partner):
    ask(method, settings, "bob")
    assert ask(method, settings, "bob", at=59).source["kind"] == "cache"
    partner.licensed["bob"] = "standard"
    assert ask(method, settings, "bob", at=60).status == "valid"
    short = settings | {"positive_cache_seconds": 10}
    ask(method, short, "carol")  # not licensed, 60 s
    partner.licensed["carol"] = "x"
    assert ask(method, short, "carol", at=61).status == "valid"
    assert ask(method, short, "carol", at=70).source["kind"] == "cache"
    assert ask(method, short, "carol", at=72).source["kind"] == "partner"


def test_partner_failure_answers_grace_from_last_good_for_72_hours(method, settings, partner):
    ask(method, settings)
    partner.mode = "error"
    verdict = ask(method, settings, at=3600)
    assert (verdict.status, verdict.licence_type, verdict.licensed) == ("grace", "standard", True)
    assert verdict.source["kind"] == "grace" and verdict.source["age_seconds"] == 3600
    assert verdict.source["reason"] == "http_500"
    assert ask(method, settings, at=72 * 3600).status == "grace"
    late = ask(method, settings, at=72 * 3600 + 1)
    assert (late.status, late.licensed) == ("unavailable", False)


def test_failure_without_a_last_good_answer_is_unavailable(method, settings, partner):
    partner.mode = "garbage"
    verdict = ask(method, settings)
    assert (verdict.status, verdict.source["reason"]) == ("unavailable", "contract")


def test_a_not_licensed_answer_forgets_the_last_good_one(method, settings, partner):
    ask(method, settings)
    del partner.licensed["alice@example.com"]
    assert ask(method, settings, at=900).status == "not_licensed"
    partner.mode = "error"
    assert ask(method, settings, at=1000).status == "unavailable"


def test_5xx_is_retried_once_and_4xx_never(method, settings, partner):
    partner.mode = "error"
    ask(method, settings)
    assert len(partner.requests) == 2
    partner.mode = "not_found"
    verdict = ask(method, settings, "someone")
    assert len(partner.requests) == 3
    assert verdict.source["reason"] == "http_404"


def test_connect_errors_are_retried_once_and_answer_fast(method, settings):
    down = settings | {"url_template": f"http://127.0.0.1:{free_port()}/licences/{{user_id}}"}
    started = time.monotonic()
    verdict = ask(method, down)
    assert time.monotonic() - started < 0.5
    assert (verdict.status, verdict.source["reason"]) == ("unavailable", "connect")


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_a_hung_or_dripping_partner_costs_at_most_the_total_timeout(method, settings, partner, mode):
    ask(method, settings)
    partner.mode = mode
    started = time.monotonic()
    verdict = ask(method, settings, at=1000)
    elapsed = time.monotonic() - started
    assert 1.9 < elapsed < 2.5, elapsed  # 2 s total; a timeout is not retried
    assert (verdict.status, verdict.source["reason"]) == ("grace", "timeout")
    assert len(partner.requests) == 2


def test_one_hung_call_opens_the_breaker_so_a_worker_waits_once(method, settings, partner):
    ask(method, settings)  # a last good answer
    partner.mode = "hang"
    assert ask(method, settings, at=1000).source["reason"] == "timeout"
    assert method.breaker(7).state(1000) == "open"  # not after 3 (the configured threshold)
    started = time.monotonic()
    verdicts = [ask(method, settings, at=1001 + n) for n in range(5)]
    assert time.monotonic() - started < 0.25
    assert {(v.status, v.source["reason"]) for v in verdicts} == {("grace", "breaker_open")}
    assert len(partner.requests) == 2


def test_the_trial_after_the_cooldown_never_holds_the_check_that_triggers_it(method, settings, partner):
    ask(method, settings)  # a last good answer
    partner.mode = "hang"
    ask(method, settings, at=1000)  # waits the timeout once: the breaker opens
    started = time.monotonic()
    verdict = ask(method, settings, at=1031)  # the cool-down is over: the trial goes out, in the background
    assert time.monotonic() - started < 0.25
    assert (verdict.status, verdict.source["reason"], verdict.source["breaker"]) == (
        "grace",
        "breaker_open",
        "half_open",
    )
    assert ask(method, settings, at=1032).source["breaker"] == "half_open"  # one trial at a time
    deadline = time.monotonic() + 10
    while method.breaker(7).state(1033) != "open" and time.monotonic() < deadline:
        time.sleep(0.05)  # the trial waits out the partner's timeout
    assert method.breaker(7).state(1033) == "open"  # it hung: open again, for another cool-down
    assert len(partner.requests) == 3


def test_a_slow_but_timely_partner_is_answered(method, settings, partner):
    partner.mode, partner.delay = "slow", 0.5
    assert ask(method, settings).status == "valid"


def test_a_huge_body_is_refused(method, settings, partner):
    partner.mode = "huge"
    verdict = ask(method, settings)
    assert (verdict.status, verdict.source["reason"]) == ("unavailable", "too_large")


def test_a_redirect_is_never_followed(method, settings, partner):
    target = FakePartner({"alice@example.com": "standard"}).start()
    try:
        partner.mode = "redirect"
        partner.redirect_to = target.base_url + "/licences/alice%40example.com"
        verdict = ask(method, settings)
        assert (verdict.status, verdict.source["reason"]) == ("unavailable", "http_302")
        assert target.requests == [] and len(partner.requests) == 1
    finally:
        target.stop()


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cooldown(method, settings, partner):
    ask(method, settings)  # a last good answer
    partner.mode = "error"
    for at in (1000, 1001, 1002):  # 3 failures (the configured threshold), 2 requests each
        assert ask(method, settings, at=at).status == "grace"
    assert len(partner.requests) == 7
    assert method.breaker(7).state(1003) == "open"
    started = time.monotonic()
    verdict = ask(method, settings, at=1003)
    assert time.monotonic() - started < 0.05
    assert (verdict.status, verdict.source["reason"]) == ("grace", "breaker_open")
    assert len(partner.requests) == 7  # no call while open
    # after the cool-down (30 s): one trial (run inline here; off the request thread in service);
    # the check that triggers it answers from grace; the trial fails -> open again
    method.run_trial = lambda work: work()
    assert ask(method, settings, at=1032).source == {
        "kind": "grace", "age_seconds": 1032, "reason": "breaker_open", "breaker": "half_open",
    }  # fmt: skip
    assert len(partner.requests) == 9
    assert method.breaker(7).state(1033) == "open"
    assert ask(method, settings, at=1033).source["reason"] == "breaker_open"
    # next trial succeeds -> closed, and its answer is cached for the next check
    partner.mode = "ok"
    assert ask(method, settings, at=1062).status == "grace"
    assert method.breaker(7).state(1062) == "closed"
    assert ask(method, settings, at=1063).source["kind"] == "cache"


def test_breaker_is_per_partner(method, settings, partner):
    partner.mode = "error"
    for at in range(3):
        ask(method, settings, at=at)
    assert method.breaker(7).state(3) == "open"
    assert method.breaker(8).state(3) == "closed"


def test_bad_settings_answer_unavailable_without_raising(method, secret):
    assert ask(method, {}).status == "unavailable"
    assert ask(method, {"url_template": "http://127.0.0.1:1/{user_id}", "secrets": []}).status == "unavailable"
    assert ask(method, {"url_template": "x", "secrets": [{"id": "1", "secret": "nope"}]}).status == "unavailable"


def test_without_private_egress_loopback_is_refused(settings, partner):
    from app.config import Settings
    from app.licensing.webservice import WebServiceMethod

    strict = WebServiceMethod(Settings())
    verdict = ask(strict, settings)
    assert (verdict.status, verdict.source["reason"]) == ("unavailable", "refused")
    assert partner.requests == []


def documented_recipe():
    """The verification snippet of docs/licensing-webservice.md, executed as a partner would."""
    import re

    from app.config import REPO_ROOT

    text = (REPO_ROOT / "docs" / "licensing-webservice.md").read_text()
    code = next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "verify_livery_request" in block)
    namespace: dict = {}
    exec(compile(code, "licensing-webservice.md", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace["verify_livery_request"]


def test_requests_verify_with_the_documented_recipe_and_either_secret_during_rotation(method, partner):
    from app.outbound.signing import new_secret

    verify = documented_recipe()
    old, new = new_secret(), new_secret()
    settings = {"url_template": partner.url_template, "secrets": [new, old]}  # newest first
    ask(method, settings)  # the check's clock is T0; the signature carries the wall clock
    headers = {k.lower(): v for k, v in partner.requests[-1]["headers"].items()}
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    assert verify(headers, b"", [new])
    assert verify(headers, b"", [old, new])
    assert not verify(headers, b"", [old])
    assert not verify(headers, b"", [new], now=time.time() + 301)
