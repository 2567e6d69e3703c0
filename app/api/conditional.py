"""Conditional requests and responses shared by both HTTP surfaces (RFC 9110 section 13)."""

from __future__ import annotations

from flask import Response, request


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


def cached_response(body: bytes, etag: str, cache_control: str, content_type: str = "application/json") -> Response:
    """200 with ``body``, or 304 when the request's If-None-Match matches ``etag``."""
    # headers given to the constructor: one Headers build instead of a lookup-and-replace per header
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if none_match(request.environ.get("HTTP_IF_NONE_MATCH"), etag):
        return Response(status=304, headers=headers)
    return Response(body, content_type=content_type, headers=headers)
