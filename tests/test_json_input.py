"""app/json_input.py: the one JSON parser for input, with depth and number-length caps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.json_input import MAX_DEPTH, MAX_NUMBER_CHARS, JSONInputError, load_json


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_the_caps_are_exact():
    assert load_json(_nested(MAX_DEPTH)) is not None
    assert load_json('{"a": ' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1))
    assert load_json("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    assert load_json("1." + "5" * (MAX_NUMBER_CHARS - 2), parse_float=Decimal) == Decimal("1." + "5" * 62)
    for refused in (_nested(MAX_DEPTH + 1), "9" * (MAX_NUMBER_CHARS + 1), "-" + "9" * MAX_NUMBER_CHARS):
        with pytest.raises(JSONInputError):
            load_json(refused)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_nested(100_000), "nested more than 64 levels"),
        ('{"a": ' + "7" * 5000 + "}", "longer than 64 characters"),
        ("1e" + "9" * 100, "longer than 64 characters"),
        ('{"a": 1,}', "Malformed JSON at line 1, column 9"),
        (b"\xff\xfe{", "Malformed JSON"),
        ("", "Malformed JSON at line 1, column 1"),
    ],
)
def test_hostile_documents_are_refused_with_a_reason(raw, message):
    with pytest.raises(JSONInputError, match=message):
        load_json(raw)


def test_hooks_refusing_a_value_are_reported_not_raised():
    def no_constant(name: str):
        raise ValueError(f"{name} is not a JSON number")

    with pytest.raises(JSONInputError, match="NaN is not a JSON number"):
        load_json("[NaN]", parse_constant=no_constant)
