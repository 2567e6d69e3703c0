"""One question to a partner's web service: signed GET, bounded time, at most one retry.

Each attempt has ``connect_timeout`` to connect and ``timeout`` in all; only a connect error or a
5xx is retried, never a 4xx or an answer that breaks the contract; the whole call, retry
included, never takes longer than ``connect_timeout + timeout`` (3 s with the defaults).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

from app.licensing.webservice.contract import (
    ContractBroken,
    PartnerAnswer,
    WebServiceSettings,
    parse_answer,
    partner_url,
)
from app.outbound.egress import EgressPolicy
from app.outbound.http import Fetched, FetchError, fetch
from app.outbound.signing import signature_headers

USER_AGENT = "Livery-Licensing/1"
RETRYABLE_FETCH_ERRORS = frozenset({"connect"})


class PartnerFailure(Exception):
    """No usable answer: ``kind`` (connect, timeout, refused, http_503, contract, ...) and the detail."""

    def __init__(self, kind: str, detail: str, *, attempts: int, latency_ms: int, http_status: int | None = None):
        super().__init__(detail)
        self.kind = kind
        self.attempts = attempts
        self.latency_ms = latency_ms
        self.http_status = http_status


@dataclass(frozen=True)
class PartnerCall:
    """A usable answer and how it was obtained."""

    answer: PartnerAnswer
    http_status: int
    content_type: str
    attempts: int
    latency_ms: int


@dataclass(frozen=True)
class PartnerCaller:
    """Asks partners' web services, within the egress policy and the timeouts."""

    policy: EgressPolicy
    connect_timeout: float = 1.0
    timeout: float = 2.0
    ssl_context: ssl.SSLContext | None = None

    def ask(self, settings: WebServiceSettings, user_id: str, *, retry: bool = True) -> PartnerCall:
        """The partner's answer for ``user_id``; raise PartnerFailure when there is none."""
        if not settings.url_template or not settings.secrets:
            raise PartnerFailure("not_configured", "No URL template or signing secret.", attempts=0, latency_ms=0)
        url = partner_url(settings.url_template, user_id)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        started = time.monotonic()
        hard_end = started + self.connect_timeout + self.timeout
        attempts = 0
        while True:
            attempts += 1
            # the wall clock, not the check's: the partner judges freshness by its own clock
            headers.update(signature_headers(settings.secrets[0], b"", int(time.time())))
            fetched, error = self._attempt(url, headers, hard_end)
            latency_ms = round((time.monotonic() - started) * 1000)
            retryable = error.kind in RETRYABLE_FETCH_ERRORS if error else fetched.status >= 500
            if retry and retryable and attempts == 1 and hard_end - time.monotonic() > 0.05:
                continue
            if error is not None:
                raise PartnerFailure(error.kind, str(error), attempts=attempts, latency_ms=latency_ms)
            return self._read(fetched, user_id, attempts, latency_ms)

    def _attempt(
        self, url: str, headers: dict[str, str], hard_end: float
    ) -> tuple[Fetched, None] | tuple[None, FetchError]:
        try:
            fetched = fetch(
                self.policy,
                url,
                headers=headers,
                connect_timeout=self.connect_timeout,
                timeout=self.timeout,
                deadline=hard_end,
                ssl_context=self.ssl_context,
            )
        except FetchError as exc:
            return None, exc
        return fetched, None

    @staticmethod
    def _read(fetched: Fetched, user_id: str, attempts: int, latency_ms: int) -> PartnerCall:
        try:
            answer = parse_answer(fetched.status, fetched.body, user_id)
        except ContractBroken as exc:
            kind = "contract" if fetched.status == 200 else f"http_{fetched.status}"
            raise PartnerFailure(
                kind, str(exc), attempts=attempts, latency_ms=latency_ms, http_status=fetched.status
            ) from None
        content_type = fetched.headers.get("content-type", "")
        return PartnerCall(answer, fetched.status, content_type, attempts, latency_ms)
