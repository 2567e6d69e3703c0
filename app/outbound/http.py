"""One bounded HTTP/1.1 request to a destination the egress policy allows.

The host is resolved and checked once (app.outbound.egress), the connection goes to a checked
address, TLS verifies the certificate for the host name. Every socket operation waits at most
until one deadline, so a server that drips bytes cannot stretch the call; the body is capped and
redirects are never followed (a 3xx is returned like any other answer).
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from app.outbound.egress import EgressPolicy, EgressRefused

MAX_BODY_BYTES = 64 * 1024


class FetchError(Exception):
    """The request got no usable answer. ``kind``: refused, dns, connect, timeout, tls, too_large, protocol."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class Fetched:
    """An answer: status, headers (lower-case names) and body (at most the cap)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float  # seconds, connection included


class _DeadlineReader(io.RawIOBase):
    """Socket reads that never wait past the deadline (http.client reads through it)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline reached")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """The few socket methods http.client uses, each bounded by the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline reached")
        self._sock.settimeout(remaining)
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *_args, **_kwargs):
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        pass  # http.client closes early while the answer is still read; fetch() closes the socket


def _connect(policy: EgressPolicy, url: str, connect_timeout: float, deadline: float, ssl_context):
    target = policy.target(url)
    addresses = policy.resolve(target, min(connect_timeout, deadline - time.monotonic()))
    last_error: OSError | None = None
    connect_until = min(time.monotonic() + connect_timeout, deadline)
    for address in addresses:
        remaining = connect_until - time.monotonic()
        if remaining <= 0:
            break
        # connect to the checked address itself: resolving again could answer differently
        sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(remaining)
            sock.connect((str(address), target.port))
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        if target.scheme == "https":
            context = ssl_context or _default_tls()
            try:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock = context.wrap_socket(sock, server_hostname=target.host)
            except ssl.SSLError as exc:
                sock.close()
                raise FetchError("tls", f"TLS failed: {exc.reason or exc}.") from None
            except OSError:
                sock.close()
                raise
        return target, sock
    if isinstance(last_error, TimeoutError) or last_error is None:
        raise FetchError("connect", "Connecting timed out.")
    raise FetchError("connect", f"Connecting failed ({type(last_error).__name__}).")


def _default_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()  # verifies the chain and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def fetch(
    policy: EgressPolicy,
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    connect_timeout: float = 1.0,
    timeout: float = 2.0,
    deadline: float | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> Fetched:
    """Send one request within ``timeout`` seconds (or until the monotonic ``deadline``); never follow a redirect."""
    started = time.monotonic()
    deadline = min(deadline if deadline is not None else started + timeout, started + timeout)
    sock = None
    try:
        target, sock = _connect(policy, url, connect_timeout, deadline, ssl_context)
        connection = http.client.HTTPConnection(target.host, target.port)
        connection.sock = _DeadlineSocket(sock, deadline)  # type: ignore[assignment]
        connection.putrequest(method, target.request_target, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": target.host_header, "Connection": "close", "Content-Length": str(len(body))}
        for name, value in {**sent, **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("too_large", f"The answer declares {declared} bytes; at most {max_bytes} are read.")
        data = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FetchError("too_large", f"The answer is larger than {max_bytes} bytes.")
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        return Fetched(response.status, answer_headers, data, time.monotonic() - started)
    except EgressRefused as exc:
        raise FetchError("dns" if exc.reason == "dns" else "refused", str(exc)) from None
    except TimeoutError:
        raise FetchError("timeout", "The answer did not arrive in time.") from None
    except (http.client.HTTPException, ValueError) as exc:
        raise FetchError("protocol", f"The answer is not valid HTTP ({type(exc).__name__}).") from None
    except OSError as exc:
        raise FetchError("connect", f"The connection failed ({type(exc).__name__}).") from None
    finally:
        if sock is not None:
            sock.close()
