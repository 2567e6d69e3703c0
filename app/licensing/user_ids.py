"""The user-id matching rule (pure): how a partner's user id becomes the key Livery matches on.

Two ids name the same user when they are equal after, in this order:

1. Unicode NFC normalisation (composed and decomposed accents match: "é" == "e" + U+0301),
2. trimming white space at both ends (``str.strip``: spaces, tabs, no-break spaces...),
3. Unicode case folding (``str.casefold``: "Anna@Example.COM" == "anna@example.com", "Straße" == "STRASSE"),
   then NFC again (folding can decompose).

An id is refused (InvalidUserId) when it is empty after trimming, longer than 256 characters, or
contains a control character (Unicode category Cc, e.g. NUL, tab inside, line breaks) anywhere.
"""

from __future__ import annotations

import re
import unicodedata

MAX_USER_ID = 256
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # exactly Unicode category Cc


class InvalidUserId(ValueError):
    """A user id Livery refuses; the message says why (it never quotes the id)."""


def normalise_user_id(raw: object) -> str:
    """The matching key of ``raw`` (see the module's rule); InvalidUserId when it is not a valid id."""
    if not isinstance(raw, str):
        raise InvalidUserId("Must be a string.")
    if _CONTROL.search(raw):
        raise InvalidUserId("Must not contain control characters.")
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise InvalidUserId("Must not be empty.")
    if len(text) > MAX_USER_ID:
        raise InvalidUserId(f"Must be at most {MAX_USER_ID} characters.")
    key = unicodedata.normalize("NFC", text.casefold())
    if len(key) > MAX_USER_ID:  # folding can lengthen ("ß" -> "ss")
        raise InvalidUserId(f"Must be at most {MAX_USER_ID} characters once case-folded.")
    return key


def display_user_id(raw: str) -> str:
    """The id as stored for people to read: NFC and trimmed, case kept (call after normalise_user_id)."""
    return unicodedata.normalize("NFC", raw).strip()
