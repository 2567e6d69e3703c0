"""Client versions and platforms: parsing and ordering (pure).

A version is 1 to 4 dotted numbers (``5``, ``5.3``, ``5.3.0``, ``5.3.0.1200``), optionally followed
by ``-`` and a pre-release made of dot-separated identifiers (``5.3.0-beta.2``). Numbers compare
numerically with missing parts read as 0, so ``5.3`` and ``5.3.0`` are *equal* (same sort key, same
hash); a pre-release sorts before its release; pre-release identifiers compare as in SemVer 2.0
§11. Nothing else is accepted: no ``v`` prefix, no ``+build`` metadata, no spaces, at most 64
characters, so a version read from a request can be stored and compared without surprises.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

MAX_LENGTH = 64
MAX_PARTS = 4
MAX_PART = 999_999_999
PLATFORMS = ("windows-x64", "windows-arm64", "macos-arm64", "macos-x64", "macos-universal")

# [0-9] rather than \d: \d also matches non-ASCII digits such as "٣".
_NUMBER_RE = re.compile(r"0|[1-9][0-9]{0,8}")
_IDENTIFIER_RE = re.compile(r"[0-9A-Za-z-]+")


class InvalidVersion(ValueError):
    """A version string that does not follow the accepted format; the message says why."""


def _number(part: str, text: str) -> int:
    if not part:
        raise InvalidVersion(f"Version {text!r} has an empty number; write numbers separated by single dots.")
    if not part.isascii() or not part.isdigit():
        raise InvalidVersion(f"Version {text!r}: {part!r} is not a number; write e.g. 5.3.0 or 5.3.0-beta.2.")
    if not _NUMBER_RE.fullmatch(part):
        if len(part) > 1 and part.startswith("0"):
            raise InvalidVersion(f"Version {text!r}: {part!r} has a leading zero; write {int(part)}.")
        raise InvalidVersion(f"Version {text!r}: {part!r} is above the largest allowed number {MAX_PART}.")
    return int(part)


def _identifier(ident: str, text: str) -> int | str:
    if not ident:
        raise InvalidVersion(f"Version {text!r} has an empty pre-release identifier; e.g. write 5.3.0-beta.2.")
    if not ident.isascii() or not _IDENTIFIER_RE.fullmatch(ident):
        raise InvalidVersion(
            f"Version {text!r}: pre-release identifier {ident!r} may only use letters, digits and hyphens."
        )
    if ident.isdigit():
        # SemVer forbids leading zeros here too: "beta.01" and "beta.1" would otherwise compare equal.
        if len(ident) > 1 and ident.startswith("0"):
            raise InvalidVersion(f"Version {text!r}: pre-release number {ident!r} has a leading zero.")
        return int(ident)
    return ident


def _parse(text: Any) -> tuple[tuple[int, ...], tuple[int | str, ...]]:
    if not isinstance(text, str):
        raise InvalidVersion(f"A version must be a string like '5.3.0', not {type(text).__name__}.")
    if not text:
        raise InvalidVersion("A version must not be empty; write e.g. 5.3.0.")
    if len(text) > MAX_LENGTH:
        raise InvalidVersion(f"Version {text[:20]!r}... is longer than {MAX_LENGTH} characters.")
    if any(ch.isspace() for ch in text):
        raise InvalidVersion(f"Version {text!r} must not contain spaces.")
    if text[0] in "vV":
        raise InvalidVersion(f"Version {text!r} must not start with 'v'; write {text[1:]!r}.")
    if "+" in text:
        raise InvalidVersion(f"Version {text!r} must not carry '+' build metadata; write {text.split('+')[0]!r}.")
    release_text, dash, pre_text = text.partition("-")
    parts = release_text.split(".")
    if len(parts) > MAX_PARTS:
        raise InvalidVersion(f"Version {text!r} has {len(parts)} numbers; at most {MAX_PARTS} are allowed.")
    release = tuple(_number(part, text) for part in parts)
    prerelease = tuple(_identifier(ident, text) for ident in pre_text.split(".")) if dash else ()
    return release, prerelease


def _sort_key(release: tuple[int, ...], prerelease: tuple[int | str, ...]) -> tuple[Any, ...]:
    numbers = list(release)
    while numbers and numbers[-1] == 0:  # 5.3 == 5.3.0: missing parts are 0
        numbers.pop()
    # (0, ...) sorts before (1,): a pre-release precedes its release. Numeric identifiers are
    # (0, n) and alphanumeric ones (1, s), so numbers sort first; tuples make a shorter
    # identifier list sort first when it is a prefix of the other (SemVer 2.0 §11.4).
    if prerelease:
        tail: tuple[Any, ...] = (0, tuple((0, i) if isinstance(i, int) else (1, i) for i in prerelease))
    else:
        tail = (1,)
    return (tuple(numbers), tail)


@dataclass(frozen=True, eq=False)
class Version:
    """A parsed version; equality, hashing and ordering follow the sort key, ``str`` gives ``text``."""

    text: str
    release: tuple[int, ...] = field(init=False)
    prerelease: tuple[int | str, ...] = field(init=False)
    _key: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        release, prerelease = _parse(self.text)
        object.__setattr__(self, "release", release)
        object.__setattr__(self, "prerelease", prerelease)
        object.__setattr__(self, "_key", _sort_key(release, prerelease))

    @property
    def is_prerelease(self) -> bool:
        """Whether this is a pre-release (has a ``-...`` part)."""
        return bool(self.prerelease)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return self._key == other._key if isinstance(other, Version) else NotImplemented

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key if isinstance(other, Version) else NotImplemented

    def __le__(self, other: Version) -> bool:
        return self._key <= other._key if isinstance(other, Version) else NotImplemented

    def __gt__(self, other: Version) -> bool:
        return self._key > other._key if isinstance(other, Version) else NotImplemented

    def __ge__(self, other: Version) -> bool:
        return self._key >= other._key if isinstance(other, Version) else NotImplemented


def parse_version(text: str) -> Version:
    """The Version written as ``text``; raises InvalidVersion with what to fix."""
    return _parsed(text) if isinstance(text, str) else Version(text)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Version:
    # clients send few distinct versions, each with every poll and install report: parse each once
    # (a Version is immutable; invalid ones raise and are not cached; a non-string cannot be a key)
    return Version(text)
