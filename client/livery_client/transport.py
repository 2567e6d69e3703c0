"""HTTP plumbing shared by every request: one GET, and error statuses mapped to exceptions."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from livery_client.errors import BadRequest, CodeRevoked, ProblemError, ServiceUnavailable, UnknownCode

USER_AGENT = "livery-client/0.1.0"
ACCEPT_JSON = "application/json, application/problem+json;q=0.9"
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def new_session() -> requests.Session:
    """A session with the client's User-Agent (connection reuse matters for polling fleets)."""
    session = requests.Session()
    session.headers["User-Agent"] = f"{USER_AGENT} {requests.utils.default_user_agent()}"
    return session


def get(
    session: requests.Session,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    stream: bool = False,
) -> requests.Response:
    """GET ``url``; a network failure becomes :class:`ServiceUnavailable`."""
    try:
        return session.get(url, headers=dict(headers or {}), params=params, timeout=timeout, stream=stream)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"cannot reach {urlsplit(url).netloc}: {describe_network_error(exc)}") from exc


def post_json(
    session: requests.Session,
    url: str,
    body: Any,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """POST ``body`` as JSON to ``url``; a network failure becomes :class:`ServiceUnavailable`."""
    try:
        return session.post(url, json=body, headers=dict(headers or {}), timeout=timeout)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"cannot reach {urlsplit(url).netloc}: {describe_network_error(exc)}") from exc


def describe_network_error(exc: requests.RequestException) -> str:
    """A short reason for a network failure (requests' own messages run to several lines)."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    errno = _ERRNO_RE.search(str(exc))
    return errno.group(1).lower() if errno else type(exc).__name__


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def raise_for_status(response: requests.Response, *, about_code: bool = True) -> None:
    """Raise the client exception for an error answer; return quietly for 2xx and 304.

    ``about_code`` is False for URLs that do not name the access code (assets, installers, keys):
    a 404 there is the service's inconsistency, not proof that the code is wrong.
    """
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return
    problem = _problem(response)
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    title = problem.get("title") or response.reason or "error"
    detail = problem.get("detail")
    message = f"{status} {title}" + (f": {detail}" if detail else "") + f" ({response.url.split('?', 1)[0]})"
    if not about_code:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ServiceUnavailable(message, status=status, code=code, retry_after=retry_after)
    if status == 404:
        raise UnknownCode(message, status=status, code=code)
    if status == 410:
        raise CodeRevoked(message, status=status, code=code)
    if status == 400:
        raise BadRequest(message, status=status, code=code)
    if status == 429 or status >= 500 or status < 200 or 300 <= status < 400:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ServiceUnavailable(message, status=status, code=code, retry_after=retry_after)
    raise ProblemError(message, status=status, code=code)
