"""Value formats every surface and domain shares: one rule each, pure (no Flask, no session, no boto3).

sha256 digests, https URLs, channel names, canonical JSON and strong ETags are checked or made
here and nowhere else: marshmallow fields, domain rules, the CLI and the WSGI fast path all call
these functions, so a fix lands once.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
CHANNEL_NAME_HINT = "lower-case letters, digits and hyphens, starting with a letter or digit (at most 63), e.g. stable"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CHANNEL_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_INSTALL_ID = 128
MAX_ROW_ID = 2**31 - 1  # row ids are 32-bit integers in the database: a bigger number names no row
_INSTALL_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
SLUG_HINT = "2-63 lower-case letters, digits and hyphens, starting with a letter or digit"
# a base name a client can save on every desktop OS: no folders, no leading dot, an extension
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,118}\.[A-Za-z0-9]{1,8}")
FILE_NAME_HINT = (
    "a file name with its extension, e.g. 'AcmeConnect-5.3.0-setup.exe': letters, digits, spaces and ._()+- only,"
    " starting with a letter or digit, at most 128 characters, no folders, not ending in .part"
)


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a sha256 hex digest: exactly 64 lower-case hex digits (no trailing newline)."""
    return isinstance(value, str) and _SHA256_RE.fullmatch(value) is not None


def sha256_hex(data: bytes) -> str:
    """The sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def is_channel_name(value: object) -> bool:
    """Whether ``value`` names an upgrade channel (see CHANNEL_NAME_HINT)."""
    return isinstance(value, str) and _CHANNEL_RE.fullmatch(value) is not None


def is_install_id(value: object) -> bool:
    """Whether ``value`` can be an install id: 1 to MAX_INSTALL_ID visible ASCII characters."""
    return isinstance(value, str) and _INSTALL_ID_RE.fullmatch(value) is not None


def unicode_text_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as UTF-8 (an unpaired surrogate such as JSON's "\\ud800"), else None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text: no unpaired surrogates (\\ud800-\\udfff)."
    return None


def storable_text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored in a text column (NUL, which PostgreSQL refuses, or not UTF-8), else None."""
    if "\x00" in value:
        return "Must not contain NUL (\\u0000) characters."
    return unicode_text_problem(value)


def is_slug(value: object) -> bool:
    """Whether ``value`` can be a URL slug (partners, brands, integrations): see SLUG_HINT."""
    return isinstance(value, str) and _SLUG_RE.fullmatch(value) is not None


def is_installer_file_name(value: object) -> bool:
    """Whether ``value`` can be what clients save an installer as (see FILE_NAME_HINT)."""
    return isinstance(value, str) and _FILE_NAME_RE.fullmatch(value) is not None and not value.lower().endswith(".part")


def https_url_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a public https URL, or None when it is one.

    The one URL policy: a string of at most MAX_URL_LENGTH characters, scheme https, a host, no
    user name or password (they would be shown to every client), no white space or control
    characters (clients and logs would split or hide them).
    """
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return f"Must be an https:// URL of at most {MAX_URL_LENGTH} characters."
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return "Must not contain spaces or control characters."
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced [ in the host
        return "Must be an https:// URL."
    if parts.scheme != "https" or not host:
        return "Must be an https:// URL."
    if "@" in parts.netloc:
        return "Must not contain a user name or password."
    return None


def canonical_json(value: Any, *, sort_keys: bool = True) -> bytes:
    """Deterministic JSON bytes: sorted keys, compact separators, UTF-8 (no ASCII escapes).

    ``sort_keys=False`` is for a value whose mappings are already in their canonical order
    (upgrades/signing.py orders keys by UTF-16 code units, as RFC 8785 wants).
    """
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def strong_etag(body: bytes) -> str:
    """A strong entity tag derived from ``body`` (quoted, 128 bits of its sha256)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
