"""The shared value rules (app/formats.py), each tested here once; every caller uses these."""

from __future__ import annotations

import pytest

from app.formats import canonical_json, https_url_problem, is_channel_name, is_sha256, strong_etag

SHA = "0123456789abcdef" * 4


def test_sha256_is_exactly_64_lower_case_hex_digits():
    assert is_sha256(SHA)
    for bad in (SHA + "\n", SHA.upper(), SHA[:-1], SHA + "0", " " + SHA, None, 42, ""):
        assert not is_sha256(bad), repr(bad)


def test_channel_names():
    for good in ("stable", "beta-2", "0", "a" * 63):
        assert is_channel_name(good), good
    for bad in ("", "-beta", "Beta", "a" * 64, "beta\n", "be_ta", "béta", None):
        assert not is_channel_name(bad), repr(bad)


@pytest.mark.parametrize("url", ["https://example.com", "https://example.com/a?b=c#d", "https://[::1]:8443/x"])
def test_https_urls_that_pass(url):
    assert https_url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://",
        "https:///path",
        "https://a b",  # once accepted by the release rules
        "https://example.com/\tx",
        "https://example.com/\x00",
        "https://example.com/\u200bx",  # invisible formatting
        "https://user:secret@example.com/",
        "https://user@example.com/",
        "https://[::1",
        "ftp://example.com",
        "https://example.com/" + "a" * 2000,
        None,
        42,
    ],
)
def test_https_urls_that_are_refused(url):
    assert https_url_problem(url)


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": [1, None], "a": "é"}) == '{"a":"é","b":[1,null]}'.encode()
    assert canonical_json({"b": 1, "a": 2}, sort_keys=False) == b'{"b":1,"a":2}'


def test_strong_etag_is_quoted_128_bits_of_the_digest():
    assert strong_etag(b"x") == '"2d711642b726b04401627ca9fbac32f5"'
    assert strong_etag(b"x") != strong_etag(b"y")


def test_install_ids_are_1_to_128_visible_ascii_characters():
    from app.formats import is_install_id

    assert is_install_id("a") and is_install_id("~" * 128)
    for bad in ("", "a" * 129, "a b", "é", "a\n", None):
        assert not is_install_id(bad), repr(bad)
