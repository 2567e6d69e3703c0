"""Access codes as the client handles them: normalise for the URL, digest for cache names.

The server is the judge of validity (it checks the Luhn mod 32 check symbol); the client only
refuses what cannot possibly be a code, so it never puts stray characters into a URL path.
"""

from __future__ import annotations

import hashlib

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 25
# Crockford base32 reading rules: people type I/L for 1 and O for 0.
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


def normalise_code(raw: str) -> str | None:
    """The canonical 25-symbol form of a typed code, or None when it cannot be one."""
    if not raw or not raw.isascii():
        return None
    canonical = raw.strip().upper().translate(_ALIASES)
    if len(canonical) != CODE_LENGTH or any(ch not in ALPHABET for ch in canonical):
        return None
    return canonical


def code_digest(canonical: str) -> str:
    """sha256 hex of the canonical code (the static-hosting name and the upgrade answer's binding)."""
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def format_code(canonical: str) -> str:
    """The code as people read it: five groups of five joined by hyphens."""
    return "-".join(canonical[i : i + 5] for i in range(0, len(canonical), 5))
