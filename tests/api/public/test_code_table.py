"""The compact per-worker code table (app/api/public/code_table.py) behaves as a dictionary would."""

from __future__ import annotations

import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.api.public.code_table import CodeTable


def _digest(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_get_set_pop_and_items_agree_with_a_dictionary():
    table: CodeTable[tuple] = CodeTable()
    model: dict[str, tuple] = {}
    rng = random.Random(3)
    for step in range(20_000):
        digest = _digest(rng.randrange(3_000))
        if rng.random() < 0.2:
            table.pop(digest)
            model.pop(digest, None)
        else:
            entry = ("brand", rng.randrange(5))
            table.set(digest, entry)
            model[digest] = entry
        if step % 997 == 0:
            assert dict(table.items()) == model and len(table) == len(model)
    for n in range(3_500):  # known, removed and never-seen digests alike
        assert table.get(_digest(n)) == model.get(_digest(n))
    assert dict(table.items()) == model and len(table) == len(model)


def test_equal_entries_are_stored_once_and_odd_digests_are_unknown():
    table: CodeTable[tuple] = CodeTable(expected=100)
    for n in range(100):
        table.set(_digest(n), ("brand", n % 2))
    assert sorted(table.entries()) == [("brand", 0), ("brand", 1)]
    table.pop(_digest(3))  # a tombstone (zeroed digest) on some probe path
    for odd in ("", "zz", "ab" * 31, "AB" * 32 + "00", _digest(1)[:-1] + "g", "00" * 32, _digest(3)):
        assert table.get(odd) is None
        table.pop(odd)
    assert table.get(_digest(7).upper()) == ("brand", 1)  # hex is case-blind, as the bytes are


def test_a_table_grows_past_its_expected_size():
    table: CodeTable[int] = CodeTable(expected=10)
    for n in range(5_000):
        table.set(_digest(n), n % 7)
    assert len(table) == 5_000 and all(table.get(_digest(n)) == n % 7 for n in range(5_000))
    assert table.get(_digest(5_001)) is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40), st.integers(0, 3)), max_size=300))
def test_any_sequence_of_changes_matches_a_dictionary(changes):
    table: CodeTable[int] = CodeTable()
    model: dict[str, int] = {}
    for remove, n, entry in changes:
        if remove:
            table.pop(_digest(n))
            model.pop(_digest(n), None)
        else:
            table.set(_digest(n), entry)
            model[_digest(n)] = entry
    assert dict(table.items()) == model
    assert all(table.get(_digest(n)) == model.get(_digest(n)) for n in range(45))


def test_a_full_load_builds_each_distinct_entry_once_and_grows_as_needed():
    table: CodeTable[tuple] = CodeTable(expected=10)  # fewer expected than come: the table grows
    made = []

    def make(values):
        made.append(values)
        return ("entry", *values)

    table.load(((_digest(n), (n % 3, "live")) for n in range(2_000)), make)
    assert sorted(made) == [(0, "live"), (1, "live"), (2, "live")]
    assert len(table) == 2_000 and all(table.get(_digest(n)) == ("entry", n % 3, "live") for n in range(2_000))
    table.set(_digest(5), ("entry", 9, "test"))  # updates after a load work as before
    assert table.get(_digest(5)) == ("entry", 9, "test") and len(table) == 2_000
