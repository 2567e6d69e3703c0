"""Egress policy: which URLs and addresses an outbound request may reach.

A URL must be https (plain http only when private destinations are allowed, for tests and the
demo) and follow the one URL rule of app.formats (a host; no user name, whitespace or control
characters). Its host is resolved
once, *every* address is checked, and the caller connects to one of the checked addresses (never
resolving again), so a DNS answer that changes between check and connect cannot smuggle a
private destination in.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.formats import https_url_problem

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_resolver: ThreadPoolExecutor | None = None
_resolver_lock = threading.Lock()


class EgressRefused(Exception):
    """The destination breaks the egress policy; ``reason`` is a stable code, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked URL split into what a connection needs."""

    scheme: str
    host: str  # as written in the URL (lower-cased), for Host, SNI and certificate checks
    port: int
    request_target: str  # path and query, as sent on the request line

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def address_problem(address: Address) -> str | None:
    """Why ``address`` is not a public unicast destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for flag in ("is_loopback", "is_link_local", "is_multicast", "is_private", "is_reserved", "is_unspecified"):
        if getattr(address, flag):
            return flag[3:].replace("_", "-")
    if not address.is_global:  # shared address space (100.64/10) and the like
        return "not-global"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """https to public addresses only, unless ``allow_private`` (tests, demo, on-premises partners)."""

    allow_private: bool = False

    def target(self, url: str) -> Target:
        """The URL checked and split; raise EgressRefused when it may not be called."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise EgressRefused("bad_url", f"The URL is malformed: {exc}.") from None
        schemes = ("https", "http") if self.allow_private else ("https",)
        if parts.scheme not in schemes:
            raise EgressRefused("not_https", "Only https:// URLs may be called.")
        # the one URL rule (app.formats); plain http, when allowed, is held to it too
        problem = https_url_problem("https" + url[len(parts.scheme) :])
        if problem:
            raise EgressRefused("bad_url", problem)
        path = parts.path or "/"
        request_target = f"{path}?{parts.query}" if parts.query else path
        default_port = 443 if parts.scheme == "https" else 80
        return Target(parts.scheme, parts.hostname.lower(), port or default_port, request_target)

    def check_address(self, address: Address) -> None:
        """Raise EgressRefused unless ``address`` may be connected to."""
        problem = address_problem(address)
        if problem and not self.allow_private:
            raise EgressRefused("private_address", f"The host resolves to a {problem} address.")

    def resolve(self, target: Target, timeout: float) -> list[Address]:
        """Every address of the target's host, each checked; bounded by ``timeout`` seconds."""
        try:
            addresses = [ipaddress.ip_address(target.host)]
        except ValueError:
            addresses = _lookup(target.host, target.port, timeout)
        if not addresses:
            raise EgressRefused("dns", "The host has no address.")
        for address in addresses:
            self.check_address(address)
        return addresses


def _lookup(host: str, port: int, timeout: float) -> list[Address]:
    # getaddrinfo has no timeout of its own: run it on a small pool and stop waiting in time (a
    # hung lookup then finishes on its own thread, bounded by the resolver's own limits)
    future = _resolver_pool().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except FutureTimeout:
        raise EgressRefused("dns", "Resolving the host timed out.") from None
    except (OSError, UnicodeError) as exc:
        raise EgressRefused("dns", f"The host does not resolve ({type(exc).__name__}).") from None
    seen: dict[str, Address] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(sockaddr[0], ipaddress.ip_address(sockaddr[0].split("%")[0]))
    return list(seen.values())


def _resolver_pool() -> ThreadPoolExecutor:
    global _resolver
    with _resolver_lock:
        if _resolver is None:  # created on first use, in the worker that needs it (not before a fork)
            _resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="egress-dns")
        return _resolver
