"""A worker's table of access codes: digest -> code entry in ~40 bytes per code.

A dictionary of hex digests held ~400 bytes per code (the 64-character key string, its slot,
the table's spare room): 496 MB per worker at a million codes. Here a code is its 32-byte digest
in one flat ``bytearray`` and a 4-byte row number in an ``array``, both laid out as an
open-addressing hash table (linear probing, at most ~70 % full, built half full), and the row
number picks one of the few distinct :class:`CodeEntry` objects (codes of one brand, kind and
status share one). A lookup is one ``bytes.fromhex``, one hash and usually one 32-byte compare:
as quick as the dictionary, for known and unknown codes alike.

Removal leaves a tombstone (removals are rare: codes are revoked, which is an update, not a
removal); the table is rebuilt, larger when needed, when codes and tombstones fill 70 %.
Readers never lock: the hot path reads while a poll writes, and Python's GIL makes each slot
update atomic; a table that grows is built aside and swapped in whole.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Hashable

DIGEST_BYTES = 32
EMPTY = 0  # row numbers: 0 empty, TOMBSTONE removed, else the entry's index + 1
TOMBSTONE = 0xFFFFFFFF  # its slot's digest is zeroed, so that a lookup needs no tombstone test
ZERO = bytes(32)
MAX_LOAD = 0.7  # codes and tombstones per slot before the table is rebuilt
BUILD_LOAD = 0.5  # codes per slot after a build: an unknown code probes ~2.5 slots on average

E = TypeVar("E", bound="Hashable")
H = TypeVar("H", bound="Hashable")


class _Slots:
    """One fixed-size open-addressing table (swapped whole when it grows)."""

    __slots__ = ("capacity", "digests", "rows", "used")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.digests = bytearray(capacity * DIGEST_BYTES)
        self.rows = array("I", bytes(4 * capacity))
        self.used = 0  # codes and tombstones


def _capacity(codes: int) -> int:
    return max(64, int(codes / BUILD_LOAD) + 1)


class CodeTable(Generic[E]):
    """Hex sha256 digest -> entry, compact; entries are interned (equal entries stored once)."""

    def __init__(self, expected: int = 0) -> None:
        self._slots = _Slots(_capacity(expected))
        self._count = 0
        self._entries: list[E] = []
        self._entry_rows: dict[E, int] = {}

    def __len__(self) -> int:
        return self._count

    def entries(self) -> list[E]:
        """The distinct entries ever stored (a superset of those in use after updates)."""
        return list(self._entries)

    def get(self, digest: str) -> E | None:
        """The entry stored for ``digest`` (64 hex characters), or None (the hot path: _find, inlined)."""
        try:
            key = bytes.fromhex(digest)
        except ValueError:
            return None
        slots = self._slots
        capacity, rows, digests = slots.capacity, slots.rows, slots.digests
        i = hash(key) % capacity
        while row := rows[i]:
            if digests.startswith(key, i * DIGEST_BYTES):  # (a tombstone's digest is zeroed: never a sha256)
                return self._entries[row - 1] if len(key) == DIGEST_BYTES and row != TOMBSTONE else None
            i += 1
            if i == capacity:
                i = 0
        return None

    def set(self, digest: str, entry: E) -> None:
        """Store ``entry`` for ``digest`` (replacing any)."""
        key = bytes.fromhex(digest)
        if len(key) != DIGEST_BYTES or key == ZERO:
            raise ValueError("a code digest is 64 hex characters (a sha256)")
        row = self._entry_rows.get(entry)
        if row is None:
            self._entries.append(entry)
            row = self._entry_rows[entry] = len(self._entries)
        slots = self._slots
        found = _find(slots, key)
        if found >= 0:
            slots.rows[found] = row
            return
        if (slots.used + 1) > MAX_LOAD * slots.capacity:
            self._rebuild(self._count + 1)
            slots = self._slots
        i = _free_slot(slots, key)
        if slots.rows[i] == EMPTY:
            slots.used += 1
        start = i * DIGEST_BYTES
        slots.digests[start : start + DIGEST_BYTES] = key
        slots.rows[i] = row
        self._count += 1

    def load(self, codes: Iterable[tuple[str, H]], make: Callable[[H], E]) -> None:
        """Add codes not held yet (a full load: digests are unique), each given as (hex digest, values).

        ``make(values)`` builds the entry of each distinct ``values`` once (rows of one brand, kind
        and status share it); the loop is ``set`` without its lookups (~3 times quicker per code).
        """
        row_of: dict[H, int] = {}
        slots = self._slots
        capacity, rows, digests = slots.capacity, slots.rows, slots.digests
        for digest, values in codes:
            row = row_of.get(values)
            if row is None:
                entry = make(values)
                row = self._entry_rows.get(entry)
                if row is None:
                    self._entries.append(entry)
                    row = self._entry_rows[entry] = len(self._entries)
                row_of[values] = row
            key = bytes.fromhex(digest)
            if len(key) != DIGEST_BYTES or key == ZERO:
                raise ValueError("a code digest is 64 hex characters (a sha256)")
            if slots.used + 1 > MAX_LOAD * capacity:
                self._rebuild(self._count + 1)
                slots = self._slots
                capacity, rows, digests = slots.capacity, slots.rows, slots.digests
            i = hash(key) % capacity
            while rows[i] != EMPTY:
                i += 1
                if i == capacity:
                    i = 0
            digests[i * DIGEST_BYTES : (i + 1) * DIGEST_BYTES] = key
            rows[i] = row
            slots.used += 1
            self._count += 1

    def pop(self, digest: str) -> None:
        """Forget ``digest`` (nothing when it is not stored)."""
        try:
            key = bytes.fromhex(digest)
        except ValueError:
            return
        slots = self._slots
        found = _find(slots, key)
        if found >= 0:
            slots.rows[found] = TOMBSTONE
            slots.digests[found * DIGEST_BYTES : (found + 1) * DIGEST_BYTES] = ZERO
            self._count -= 1

    def items(self) -> Iterator[tuple[str, E]]:
        """Every (hex digest, entry), in table order (O(capacity): not for requests)."""
        slots, entries = self._slots, self._entries
        for i, row in enumerate(slots.rows):
            if row != EMPTY and row != TOMBSTONE:
                start = i * DIGEST_BYTES
                yield slots.digests[start : start + DIGEST_BYTES].hex(), entries[row - 1]

    def _rebuild(self, codes: int) -> None:
        old, new = self._slots, _Slots(_capacity(codes))
        for i, row in enumerate(old.rows):
            if row != EMPTY and row != TOMBSTONE:
                start = i * DIGEST_BYTES
                key = bytes(old.digests[start : start + DIGEST_BYTES])
                j = _free_slot(new, key)
                new.digests[j * DIGEST_BYTES : (j + 1) * DIGEST_BYTES] = key
                new.rows[j] = row
                new.used += 1
        self._slots = new  # readers see the old table or the new one, whole


def _find(slots: _Slots, key: bytes) -> int:
    """The slot holding ``key``, or -1."""
    if len(key) != DIGEST_BYTES or key == ZERO:
        return -1
    capacity, rows, digests = slots.capacity, slots.rows, slots.digests
    i = hash(key) % capacity
    while rows[i] != EMPTY:
        if digests.startswith(key, i * DIGEST_BYTES):
            return i
        i += 1
        if i == capacity:
            i = 0
    return -1


def _free_slot(slots: _Slots, key: bytes) -> int:
    """The first empty or removed slot on ``key``'s probe path (``key`` known to be absent)."""
    capacity, rows = slots.capacity, slots.rows
    i = hash(key) % capacity
    while rows[i] != EMPTY and rows[i] != TOMBSTONE:
        i += 1
        if i == capacity:
            i = 0
    return i
