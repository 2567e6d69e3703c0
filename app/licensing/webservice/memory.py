"""What a worker remembers of partners' answers and health (pure; times are Unix seconds passed in).

- :class:`AnswerCache`: fresh answers (positive for ``positive_cache_seconds``, negative for
  ``negative_cache_seconds``) and the last known good (positive) answer per user, each an LRU of
  bounded size. The last good answer serves ``grace`` for up to ``grace_hours`` while the
  partner fails; a "not licensed" answer forgets it.
- :class:`Breaker`: one per partner. Closed until N consecutive failures, then open (no calls)
  for a cool-down, then half-open: exactly one trial call; its success closes, its failure reopens.

Both live in the worker's memory; last good answers are also shared through the database
(last_good.py) so that a worker that never saw a user can still answer ``grace``.
"""

from __future__ import annotations

import threading
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


class AnswerCache:
    """Fresh answers and last good ones, keyed by (partner, URL template, user id)."""

    def __init__(self, size: int) -> None:
        self._fresh: Lru[tuple, Remembered] = Lru(size)
        self._good: Lru[tuple, Remembered] = Lru(size)

    def fresh(self, key: tuple, now: float) -> Remembered | None:
        """The answer still fresh at ``now``, or None."""
        entry = self._fresh.get(key)
        return entry if entry is not None and now < entry.fresh_until else None

    def last_good(self, key: tuple, now: float, grace_seconds: float) -> Remembered | None:
        """The last positive answer if given within ``grace_seconds`` before ``now``, or None."""
        entry = self._good.get(key)
        return entry if entry is not None and now - entry.answered_at <= grace_seconds else None

    def remember_good(self, key: tuple, entry: Remembered) -> None:
        """Keep a last good answer learnt elsewhere (another worker, through the database)."""
        self._good.put(key, entry)

    def remember(self, key: tuple, entry: Remembered) -> None:
        """Keep a new answer; a negative one also forgets the last good one."""
        self._fresh.put(key, entry)
        if entry.licensed:
            self._good.put(key, entry)
        else:
            self._good.pop(key)


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

    def failed(self, now: float) -> None:
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self._threshold:
                self._opened_at, self._trial = now, False
