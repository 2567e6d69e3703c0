"""Version ordering as Livery defines it (docs/client-protocol.md §5), for deciding from a manifest.

1 to 4 dot-separated numbers, optionally ``-`` and dot-separated pre-release identifiers. Missing
numbers are 0 (``5.3`` equals ``5.3.0``); a pre-release sorts before its release; identifiers
compare as in SemVer 2.0 §11 (numbers before words, numbers numerically, words in ASCII order,
a shorter list first when it is a prefix of the longer).
"""

from __future__ import annotations

import re
from typing import Any

_VERSION_RE = re.compile(r"(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8})){0,3}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?")


def version_key(text: str) -> tuple[Any, ...]:
    """A sort key for ``text``: equal keys for equal versions; ValueError for what Livery refuses."""
    if not isinstance(text, str) or len(text) > 64 or not _VERSION_RE.fullmatch(text):
        raise ValueError(f"not a version Livery accepts: {text!r}")
    release_text, dash, pre_text = text.partition("-")
    numbers = [int(part) for part in release_text.split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    if not dash:
        return (tuple(numbers), (1,))
    identifiers = []
    for ident in pre_text.split("."):
        if ident.isdigit() and len(ident) > 1 and ident.startswith("0"):
            raise ValueError(f"not a version Livery accepts (leading zero in {ident!r}): {text!r}")
        identifiers.append((0, int(ident)) if ident.isdigit() else (1, ident))
    return (tuple(numbers), (0, tuple(identifiers)))
