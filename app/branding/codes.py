"""Access codes: generation, normalisation and digests (pure).

A code is 24 Crockford base32 symbols (120 random bits) plus one Luhn mod 32 check symbol,
shown in five groups of five: ``7K3QM-XP2RD-9VB4T-HN6WY-C0FJA``. Reading is forgiving: case,
hyphens and spaces do not matter, and I/L read as 1, O as 0. Only the sha256 of the canonical
form is ever stored, so the public path can be computed by a client for static hosting too.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})
DATA_SYMBOLS = 24
CODE_LENGTH = DATA_SYMBOLS + 1
MAX_INPUT_LENGTH = 64
PREFIX_LENGTH = 5
# the public paths normalise and digest the code of every request; clients repeat their code
CACHED_CODES = 65_536


def check_symbol(data: str) -> str:
    """The Luhn mod 32 check symbol for ``data`` (canonical symbols only)."""
    factor, total = 2, 0
    for ch in reversed(data):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def generate_code() -> str:
    """A new random canonical code (25 symbols, no hyphens)."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_SYMBOLS))
    return data + check_symbol(data)


@functools.lru_cache(maxsize=CACHED_CODES)
def normalise_code(raw: str) -> str | None:
    """The canonical form of a typed or pasted code, or None when it cannot be a valid code."""
    if not raw or len(raw) > MAX_INPUT_LENGTH or not raw.isascii():
        return None
    canonical = raw.upper().translate(_ALIASES)
    if len(canonical) != CODE_LENGTH or any(ch not in _VALUE for ch in canonical):
        return None
    if check_symbol(canonical[:-1]) != canonical[-1]:
        return None
    return canonical


@functools.lru_cache(maxsize=CACHED_CODES)
def code_digest(canonical: str) -> str:
    """The stored and published identifier of a code: sha256 of its canonical form, hex."""
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@functools.lru_cache(maxsize=CACHED_CODES)
def public_digest(raw: str) -> str:
    """The digest of a typed code, "" when it cannot be a valid code: the public paths' one cached call.

    One cache keyed by what clients send, not one per step: at a million codes each cache holds
    ~20 MB per worker when full.
    """
    canonical = normalise_code.__wrapped__(raw)
    return code_digest.__wrapped__(canonical) if canonical else ""


def format_code(canonical: str) -> str:
    """The code as shown to people: groups of five joined by hyphens."""
    return "-".join(canonical[i : i + 5] for i in range(0, len(canonical), 5))


def code_prefix(canonical: str) -> str:
    """The first symbols of a code, safe to list beside its label."""
    return canonical[:PREFIX_LENGTH]
