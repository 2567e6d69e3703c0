"""Access codes: entropy, the check symbol, forgiving normalisation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.branding import codes


def test_generated_codes_have_at_least_100_bits_and_validate():
    code = codes.generate_code()
    assert len(code) == codes.CODE_LENGTH
    assert codes.DATA_SYMBOLS * math.log2(len(codes.ALPHABET)) >= 100
    assert codes.normalise_code(code) == code
    assert len({codes.generate_code() for _ in range(1000)}) == 1000


def test_format_groups_of_five():
    code = codes.generate_code()
    shown = codes.format_code(code)
    assert [len(g) for g in shown.split("-")] == [5, 5, 5, 5, 5]
    assert codes.normalise_code(shown) == code


def test_reading_is_case_hyphen_space_and_lookalike_insensitive():
    code = codes.generate_code()
    shown = codes.format_code(code)
    assert codes.normalise_code(shown.lower()) == code
    assert codes.normalise_code(" ".join(shown.split("-"))) == code
    with_lookalikes = code.replace("1", "l").replace("0", "O")
    assert codes.normalise_code(with_lookalikes) == code


@given(st.integers(min_value=0, max_value=codes.CODE_LENGTH - 1), st.sampled_from(codes.ALPHABET))
def test_every_single_symbol_typo_is_caught(position, replacement):
    code = "7K3QMXP2RD9VB4THN6WYC0FJ"
    code += codes.check_symbol(code)
    typo = code[:position] + replacement + code[position + 1 :]
    if typo != code:
        assert codes.normalise_code(typo) is None


def test_adjacent_transpositions_are_caught():
    code = codes.generate_code()
    caught = total = 0
    for i in range(codes.CODE_LENGTH - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code:
            total += 1
            caught += codes.normalise_code(swapped) is None
    assert caught >= total - 1  # Luhn mod N misses only one rare symbol pair


@pytest.mark.parametrize("raw", ["", "A" * 65, "ÄBCDE", "ABCDE-FGHJK-MNPQR-STVWX-YZ01U", "../../x", None])
def test_garbage_is_rejected(raw):
    assert codes.normalise_code(raw or "") is None


def test_digest_is_sha256_of_canonical_form():
    code = codes.generate_code()
    assert codes.code_digest(code) == codes.code_digest(codes.normalise_code(codes.format_code(code).lower()))
    assert len(codes.code_digest(code)) == 64


@given(st.text(max_size=70) | st.builds(codes.format_code, st.builds(lambda _: codes.generate_code(), st.none())))
def test_the_public_digest_is_normalise_then_digest(raw):
    canonical = codes.normalise_code(raw)
    assert codes.public_digest(raw) == (codes.code_digest(canonical) if canonical else "")
