"""What a worker remembers of partners' answers and health (pure; times are Unix seconds passed in).

- :class:`AnswerCache`: fresh answers (positive for ``positive_cache_seconds``, negative for
  ``negative_cache_seconds``) and the last known good (positive) answer per user, compact and
  of bounded size. The last good answer serves ``grace`` for up to ``grace_hours`` while the
  partner fails; a "not licensed" answer forgets it.
- :class:`Breaker`: one per partner. Closed until N consecutive failures, or one that waited a
  timeout's length, then open (no calls) for a cool-down, then half-open: exactly one trial
  call; its success closes, its failure reopens.

Both live in the worker's memory; last good answers are also shared through the database
(last_good.py) so that a worker that never saw a user can still answer ``grace``.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A dict that keeps at most ``size`` entries, dropping the least recently used."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Remembered:
    """A partner's answer as remembered: when it was given and until when it is fresh."""

    licensed: bool
    licence_type: str | None
    answered_at: float
    fresh_until: float


def answer_key(partner_id: int, url_template: str, user_id: str) -> int:
    """The 64-bit cache key of a user's answer from one partner's service (blake2b: a false match
    needs a 2**-64 coincidence, and cannot be aimed at)."""
    named = f"{partner_id}\x00{url_template}\x00{user_id}".encode()
    return int.from_bytes(hashlib.blake2b(named, digest_size=8).digest(), "big")


# an answer in 64 bits: when it was given (Unix seconds, until the year 3058), how long it stays
# fresh (seconds; the settings allow at most a day), its licence type (an index; 0: not licensed)
_TTL_BITS, _TYPE_BITS = 17, 12
_TTL_MAX, _TYPE_MASK = (1 << _TTL_BITS) - 1, (1 << _TYPE_BITS) - 1
MAX_LOAD = 0.7  # users per slot of a generation's table


class _Table:
    """One generation: 64-bit key -> 64-bit answer, open addressing (linear probing) in two arrays.

    16 bytes a slot, allocated whole when the generation starts; key 0 marks an empty slot (a key
    that is 0 is stored as 1: a second false match in 2**64). Entries are overwritten, never removed.
    """

    __slots__ = ("count", "keys", "mask", "values")

    def __init__(self, capacity: int) -> None:
        self.keys = array("Q", bytes(8 * capacity))
        self.values = array("Q", bytes(8 * capacity))
        self.mask = capacity - 1
        self.count = 0

    def get(self, key: int) -> int | None:
        keys, mask = self.keys, self.mask
        i = key & mask
        while found := keys[i]:
            if found == key:
                return self.values[i]
            i = (i + 1) & mask
        return None

    def put(self, key: int, value: int) -> None:
        keys, mask = self.keys, self.mask
        i = key & mask
        while (found := keys[i]) and found != key:
            i = (i + 1) & mask
        if not found:
            keys[i] = key
            self.count += 1
        self.values[i] = value


class AnswerCache:
    """Fresh answers and last good ones, ~32 bytes a user, keyed by :func:`answer_key`.

    One entry per user holds the partner's last answer, fresh until its time to live is over;
    a licensed one is also the last good answer, and a "not licensed" one, replacing it, forgets
    it. An entry is 64 bits (``_Table``; times in whole seconds, rounded down: an answer expires
    up to a second early, never late), so a million users take 32 MB; with tuple keys and an
    LRU of objects they took 490 MB (bench/licensing.py, ``cache_megabytes``).

    At most ``size`` users, in two generations: answers given or used go into the young one;
    when it holds ``size / 2`` it becomes the old one, and the previous old one is dropped whole.
    So a user answered or checked within the last ``size / 2`` new users stays cached — LRU
    without the per-entry links an exact one costs. Writes take a lock (gthread workers);
    reads do not: a read racing a write finds the entry or misses it (the partner is asked).
    """

    def __init__(self, size: int) -> None:
        self._half = max(1, size // 2)
        self._capacity = 1 << max(4, (int(self._half / MAX_LOAD) + 1).bit_length())
        self._young: _Table | None = None  # allocated on the first answer: most workers never need one
        self._old: _Table | None = None
        self._types: list[str | None] = [None]
        self._type_index: dict[str | None, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(table.count for table in (self._young, self._old) if table is not None)

    def fresh(self, key: int, now: float) -> Remembered | None:
        """The answer still fresh at ``now``, or None."""
        entry = self._get(key)
        return entry if entry is not None and now < entry.fresh_until else None

    def last_good(self, key: int, now: float, grace_seconds: float) -> Remembered | None:
        """The last positive answer if given within ``grace_seconds`` before ``now``, or None."""
        entry = self._get(key)
        return entry if entry is not None and entry.licensed and now - entry.answered_at <= grace_seconds else None

    def remember_good(self, key: int, entry: Remembered) -> None:
        """Keep a last good answer learnt elsewhere (another worker, through the database); never fresh."""
        self._put(key, Remembered(True, entry.licence_type, entry.answered_at, entry.answered_at))

    def remember(self, key: int, entry: Remembered) -> None:
        """Keep a new answer; a negative one also forgets the last good one."""
        self._put(key, entry)

    def _get(self, key: int) -> Remembered | None:
        key = key or 1
        packed = self._young.get(key) if self._young is not None else None
        if packed is None:
            packed = self._old.get(key) if self._old is not None else None
            if packed is None:
                return None
            with self._lock:
                self._store(key, packed)  # used: it moves to the young generation
        answered = packed >> (_TTL_BITS + _TYPE_BITS)
        index = packed & _TYPE_MASK
        ttl = (packed >> _TYPE_BITS) & _TTL_MAX
        return Remembered(index > 0, self._types[index], answered, answered + ttl)

    def _put(self, key: int, entry: Remembered) -> None:
        with self._lock:
            index = self._type(entry.licence_type) if entry.licensed else 0
            answered = int(entry.answered_at)
            ttl = min(max(0, int(entry.fresh_until) - answered), _TTL_MAX)
            self._store(key or 1, (answered << (_TTL_BITS + _TYPE_BITS)) | (ttl << _TYPE_BITS) | index)

    def _store(self, key: int, packed: int) -> None:
        young = self._young
        if young is None or (young.count >= self._half and young.get(key) is None):
            self._old, self._young = young, _Table(self._capacity)
        self._young.put(key, packed)

    def _type(self, licence_type: str | None) -> int:
        index = self._type_index.get(licence_type)
        if index is None:
            if len(self._types) > _TYPE_MASK:  # a partner inventing types without end: start over
                self._young, self._old, self._types, self._type_index = None, None, [None], {}
            index = self._type_index[licence_type] = len(self._types)
            self._types.append(licence_type)
        return index


class Breaker:
    """A per-partner circuit breaker: closed, open, half-open (one trial)."""

    def __init__(self, failures_to_open: int, cooldown: float) -> None:
        self._threshold = failures_to_open
        self._cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    def state(self, now: float) -> str:
        """``closed``, ``open`` or ``half_open`` (cool-down over, or the trial running)."""
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._trial or now - self._opened_at >= self._cooldown else "open"

    def allow(self, now: float) -> bool:
        """Whether a call may go out now; after the cool-down, True once (the trial)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial or now - self._opened_at < self._cooldown:
                return False
            self._trial = True
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def failed(self, now: float, *, hung: bool = False) -> None:
        """Count a failure; ``hung`` (a call that waited a timeout's length) opens the breaker at once.

        A refused or failing call costs a worker milliseconds, so a few are worth a retry; a hung
        one costs it seconds, and waiting for N of them would hold each sync worker N x that long,
        away from discovery (bench/licensing_outage.py: 5 waits were a third of a 30 s hang).
        """
        with self._lock:
            self._failures += 1
            if hung or self._trial or self._failures >= self._threshold:
                self._opened_at, self._trial = now, False
