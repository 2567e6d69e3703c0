"""Conditional-request helpers shared by both HTTP surfaces (RFC 9110 section 13)."""

from __future__ import annotations


def _tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def none_match(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match: header`` matches ``etag`` (weak comparison, lists and ``*``)."""
    if not header:
        return False
    opaque = etag[2:] if etag.startswith("W/") else etag
    for tag in _tags(header):
        if tag == "*":
            return True
        if (tag[2:] if tag.startswith("W/") else tag) == opaque:
            return True
    return False


def match(header: str | None, etag: str) -> bool:
    """True when ``If-Match: header`` matches ``etag`` (strong comparison, lists and ``*``)."""
    if not header:
        return False
    return any(tag == "*" or (tag == etag and not tag.startswith("W/")) for tag in _tags(header))
