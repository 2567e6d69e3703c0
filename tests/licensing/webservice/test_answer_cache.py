"""A worker's web-service answer cache: a million users within a worker's memory budget, bounded,
and recently used users kept (issue 12: cached checks at 1 000 000 users, worker RSS < 250 MB)."""

from __future__ import annotations

import tracemalloc

from app.config import Settings
from app.licensing.webservice import WebServiceMethod
from app.licensing.webservice.memory import AnswerCache, Remembered, answer_key
from tests.licensing.webservice.conftest import ask

TEMPLATE = "https://licensing.partner.example/licences/{user_id}"


def test_two_hundred_thousand_users_take_under_ten_megabytes():
    tracemalloc.start()
    try:
        cache = AnswerCache(200_000)
        for n in range(200_000):
            key = answer_key(n % 1000, TEMPLATE, f"user{n:07d}@partner.example")
            cache.remember(key, Remembered(True, "standard", 1_796_040_000, 1_796_040_900))
        size, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cache) == 200_000
    assert size < 10 * 2**20  # a million users in 40 MB (it was 490 MB)
    key = answer_key(7, TEMPLATE, "user0000007@partner.example")
    assert cache.fresh(key, 1_796_040_899) == Remembered(True, "standard", 1_796_040_000, 1_796_040_900)
    assert cache.fresh(key, 1_796_040_900) is None


def test_the_cache_is_bounded_and_keeps_the_users_checked_lately(settings, partner):
    method = WebServiceMethod(Settings(egress_allow_private=True, licensing_cache_entries=8))
    for n in range(4):
        partner.licensed[f"u{n}@example.com"] = "standard"
    ask(method, settings)  # alice: one call, then cached
    for n in range(40):  # new users, alice checked between them
        ask(method, settings, f"u{n}@example.com", at=n)
        assert ask(method, settings, at=n).source["kind"] == "cache"
    assert len(method.cache) <= 8
    calls = len(partner.requests)
    assert ask(method, settings, "u0@example.com", at=50).source["kind"] == "partner"  # long dropped
    assert len(partner.requests) == calls + 1
