"""The ``web_service`` licensing method: ask the partner, remember, fall back to grace.

Order for one check: a fresh cached answer; else, if the partner's breaker lets a call through,
the partner (at most ``connect + total`` timeout); else, or when the call fails, the last known
good answer within ``grace_hours`` (status ``grace``) — this worker's, else the one any worker
stored (last_good.py) — else ``unavailable``. Times come from the check's ``now``, so cache,
grace and breaker expiry are tested with an injected clock.

The breaker's trial call (the one call let through once the cool-down is over) runs off the
request thread: the check that triggers it answers from grace at once, like any check while the
breaker is open, and the trial's answer closes the breaker (and fills the cache) or reopens it.
A sync worker therefore waits on a hung partner once, when the breaker opens, and never again
for that outage (bench/licensing_outage.py measures what that wait costs discovery).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from app.config import Settings
from app.licensing.methods import CheckRequest, Verdict
from app.licensing.webservice.caller import PartnerCaller, PartnerFailure
from app.licensing.webservice.contract import WebServiceSettings
from app.licensing.webservice.last_good import DurableLastGood, bounded_engine
from app.licensing.webservice.memory import AnswerCache, Breaker, Remembered, answer_key
from app.outbound.egress import EgressPolicy

log = logging.getLogger(__name__)


class WebServiceMethod:
    """Answers checks from the partner's own web service (docs/licensing-webservice.md)."""

    name = "web_service"

    def __init__(
        self,
        config: Settings | None = None,
        *,
        caller: PartnerCaller | None = None,
        durable: DurableLastGood | None = None,
    ) -> None:
        config = config or Settings()
        self.caller = caller or PartnerCaller(
            EgressPolicy(allow_private=config.egress_allow_private),
            connect_timeout=config.licensing_connect_timeout,
            timeout=config.licensing_timeout,
        )
        self.cache = AnswerCache(config.licensing_cache_entries)
        self.durable = durable
        self._breaker_failures = config.licensing_breaker_failures
        self._breaker_cooldown = config.licensing_breaker_cooldown
        self._breakers: dict[int, Breaker] = {}
        self.run_trial: Callable[[Callable[[], object]], None] = _in_background  # tests run it inline

    def breaker(self, partner_id: int) -> Breaker:
        """The partner's circuit breaker in this worker."""
        breaker = self._breakers.get(partner_id)
        if breaker is None:
            breaker = self._breakers.setdefault(partner_id, Breaker(self._breaker_failures, self._breaker_cooldown))
        return breaker

    def check(self, request: CheckRequest, settings: Mapping[str, Any]) -> Verdict:
        """The verdict for one user; never raises, never waits longer than the call bound."""
        try:
            return self._check(request, WebServiceSettings.from_mapping(request.partner_id, settings))
        except Exception:  # a bug here must answer "unavailable", not fail the check
            log.exception("web-service check failed for partner %s", request.partner_id)
            return Verdict("unavailable", source={"kind": "error"})

    def _check(self, request: CheckRequest, settings: WebServiceSettings) -> Verdict:
        now = request.now.timestamp()
        key = answer_key(settings.partner_id, settings.url_template, request.user_id)
        fresh = self.cache.fresh(key, now)
        if fresh is not None:
            source = {"kind": "cache", "age_seconds": round(now - fresh.answered_at)}
            return _verdict(fresh.licensed, fresh.licence_type, source)
        breaker = self.breaker(settings.partner_id)
        if not breaker.allow(now):  # open, or half-open with the trial under way
            details = {"reason": "breaker_open", "breaker": breaker.state(now)}
            return self._fallback(key, request.user_id, now, settings, details)
        if breaker.state(now) == "half_open":  # this check's call is the trial: it must not wait for it
            self.run_trial(lambda: self._trial(request, settings, key, now, breaker))
            details = {"reason": "breaker_open", "breaker": "half_open"}
            return self._fallback(key, request.user_id, now, settings, details)
        return self._ask(request, settings, key, now, breaker)

    def _trial(
        self, request: CheckRequest, settings: WebServiceSettings, key: int, now: float, breaker: Breaker
    ) -> None:
        try:
            self._ask(request, settings, key, now, breaker)
        except Exception:  # a bug must not leave the breaker half-open for good
            log.exception("web-service breaker trial failed for partner %s", request.partner_id)
            breaker.failed(now, hung=True)

    def _ask(
        self, request: CheckRequest, settings: WebServiceSettings, key: int, now: float, breaker: Breaker
    ) -> Verdict:
        """Call the partner: its answer (cached, remembered) or, when the call fails, the fallback."""
        try:
            call = self.caller.ask(settings, request.user_id)
        except PartnerFailure as failure:
            # it waited at least the connect timeout (hung, or timed out): the next check must not
            breaker.failed(now, hung=failure.latency_ms >= self.caller.connect_timeout * 1000)
            log.warning(
                "partner %s web service failed: %s (%s attempt(s), %s ms)",
                settings.partner_id,
                failure.kind,
                failure.attempts,
                failure.latency_ms,
            )
            details = {"reason": failure.kind, "latency_ms": failure.latency_ms, "breaker": breaker.state(now)}
            return self._fallback(key, request.user_id, now, settings, details)
        breaker.succeeded()
        answer = call.answer
        ttl = settings.positive_cache_seconds if answer.licensed else settings.negative_cache_seconds
        self.cache.remember(key, Remembered(answer.licensed, answer.licence_type, now, now + ttl))
        if self.durable is not None and answer.licence_type is not None:
            self.durable.remember(
                settings.partner_id, request.user_id, answer.licence_type, now, settings.grace_hours * 3600
            )
        elif self.durable is not None:
            self.durable.forget(settings.partner_id, request.user_id)
        source = {"kind": "partner", "latency_ms": call.latency_ms, "http_status": call.http_status}
        return _verdict(answer.licensed, answer.licence_type, source | {"attempts": call.attempts})

    def _fallback(self, key: int, user_id: str, now: float, settings: WebServiceSettings, details: dict) -> Verdict:
        grace_seconds = settings.grace_hours * 3600
        good = self.cache.last_good(key, now, grace_seconds)
        if good is None and self.durable is not None:
            good = self.durable.recall(settings.partner_id, user_id, now, grace_seconds)
            if good is not None:
                self.cache.remember_good(key, good)
        if good is None:
            return Verdict("unavailable", source={"kind": "unavailable", **details})
        source = {"kind": "grace", "age_seconds": round(now - good.answered_at), **details}
        return Verdict("grace", good.licence_type, source)


def _in_background(work: Callable[[], object]) -> None:
    threading.Thread(target=work, name="livery-breaker-trial", daemon=True).start()


def _verdict(licensed: bool, licence_type: str | None, source: dict) -> Verdict:
    return Verdict("valid", licence_type, source) if licensed else Verdict("not_licensed", None, source)


def build_web_service_method(config: Settings) -> WebServiceMethod:
    """The method as the service runs it: last good answers shared through the database."""
    return WebServiceMethod(config, durable=DurableLastGood(bounded_engine(config.database_url)))
