"""Versions: what is accepted, how they order, and platforms."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.upgrades.versions import PLATFORMS, InvalidVersion, Version, parse_version


@pytest.mark.parametrize(
    "text",
    ["0", "5", "5.3", "5.3.0", "5.3.0.1200", "999999999.0.0.999999999", "5.3.0-beta.2", "5.3.0-rc.1", "1-x-y.0.a1"],
)
def test_accepted(text):
    assert str(parse_version(text)) == text
    assert parse_version(text).text == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("v5.3.0", "'v'"),
        ("5.3.0+build.7", "build metadata"),
        ("5.3.0 ", "spaces"),
        (" 5.3", "spaces"),
        ("5.3.0.1.2", "at most 4"),
        ("05.3", "leading zero"),
        ("5.03", "leading zero"),
        ("1000000000", "largest"),
        ("5..3", "empty number"),
        ("5.3.", "empty number"),
        (".5", "empty number"),
        ("5.x", "not a number"),
        ("5.٣", "not a number"),
        ("5.3.0-", "empty pre-release"),
        ("5.3.0-beta..1", "empty pre-release"),
        ("5.3.0-beta_1", "letters, digits and hyphens"),
        ("5.3.0-beta.01", "leading zero"),
        ("1." * 40 + "1", "longer than 64"),
        ("5.3\n", "spaces"),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_rejected_with_a_clear_message(text, says):
    with pytest.raises(InvalidVersion) as caught:
        parse_version(text)
    assert says in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", [None, 5, 5.3, b"5.3"])
def test_non_strings_are_invalid_versions(value):
    with pytest.raises(InvalidVersion, match="must be a string"):
        parse_version(value)


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("9.9", "10.0"),
        ("5.3.0.999", "5.3.0.1200"),
        ("5.3.0-beta.2", "5.3.0"),
        ("5.3.0-beta.2", "5.3.0-beta.10"),
        ("5.3.0-alpha", "5.3.0-beta"),
        ("5.3.0-alpha", "5.3.0-alpha.1"),  # a shorter identifier list sorts first
        ("5.3.0-alpha.1", "5.3.0-alpha.beta"),  # numeric before alphanumeric
        ("5.3.0-beta.11", "5.3.0-rc.1"),
        ("5.3.0-rc.1", "5.3.0.1"),
        ("5.3", "5.3.0.1"),
        ("5.2.999", "5.3"),
        ("5.3-rc.1", "5.3.0"),
    ],
)
def test_ordering(lower, higher):
    assert parse_version(lower) < parse_version(higher)
    assert parse_version(higher) > parse_version(lower)
    assert parse_version(lower) != parse_version(higher)


@pytest.mark.parametrize(("a", "b"), [("5.3", "5.3.0"), ("5", "5.0.0.0"), ("5.3-rc.1", "5.3.0-rc.1")])
def test_missing_parts_are_zero_for_equality_and_hashing(a, b):
    assert parse_version(a) == parse_version(b)
    assert hash(parse_version(a)) == hash(parse_version(b))
    assert parse_version(a) <= parse_version(b) <= parse_version(a)
    assert len({parse_version(a), parse_version(b)}) == 1
    assert str(parse_version(a)) == a  # the text stays as written


def test_versions_are_frozen_and_compare_only_with_versions():
    version = parse_version("5.3.0")
    with pytest.raises(AttributeError):
        version.text = "6.0"  # type: ignore[misc]
    assert version != "5.3.0"
    with pytest.raises(TypeError):
        _ = version < "6.0"  # type: ignore[operator]
    assert version.release == (5, 3, 0) and not version.is_prerelease
    assert parse_version("5.3.0-beta.2").prerelease == ("beta", 2)


numbers = st.integers(min_value=0, max_value=999_999_999)
identifiers = st.one_of(
    st.integers(min_value=0, max_value=10_000).map(str),
    st.from_regex(r"[A-Za-z-][0-9A-Za-z-]{0,5}", fullmatch=True),
)
version_texts = st.builds(
    lambda nums, pre: ".".join(map(str, nums)) + ("-" + ".".join(pre) if pre else ""),
    st.lists(numbers, min_size=1, max_size=4),
    st.lists(identifiers, max_size=3),
).filter(lambda text: len(text) <= 64)


@settings(max_examples=200)
@given(version_texts, version_texts, version_texts)
def test_total_order(a, b, c):
    x, y, z = Version(a), Version(b), Version(c)
    assert (x < y) + (x == y) + (x > y) == 1
    if x <= y and y <= z:
        assert x <= z
    if x == y:
        assert hash(x) == hash(y)


@settings(max_examples=200)
@given(version_texts)
def test_round_trip(text):
    assert str(parse_version(text)) == text


def test_platforms():
    assert set(PLATFORMS) >= {"windows-x64", "windows-arm64", "macos-arm64", "macos-x64", "macos-universal"}
