"""The licence check of one worker: pick the brand's method, ask it, record usage, sign the lease.

Flask-free, so the route (app/api/public/licences.py) and the explain tool share it. Per check:
a few dictionary lookups (the brand's method and the partner's settings, kept until the change
log names them), the method's verdict (the portal: one indexed query), at most one committed
insert per user and month (usage.py) and one Ed25519 signature — for a check without a nonce,
one per user, installation and minute (SignedAnswers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import sessionmaker

from app.branding.services import brand_document_inputs
from app.db import utcnow
from app.licensing import registry
from app.licensing.leases import check_payload, lease_until, quantised, rfc3339
from app.licensing.methods import CheckRequest, LicensingMethod, Verdict
from app.licensing.portal import PortalMethod
from app.licensing.portal_index import PortalIndex
from app.licensing.settings import settings_mapping, settings_row, settings_values
from app.licensing.usage import UsageRecorder, month_of
from app.upgrades.signing import KeyRing, signed_envelope_bytes

log = logging.getLogger(__name__)


class SignedAnswers:
    """One worker's signed answers to checks without a nonce, for the current minute.

    A nonce makes an answer unique, so only nonce-less answers are kept; their ``issued_at`` is
    the start of the minute (``leases.quantised``), and the cache empties when the minute turns,
    holding at most ``max_entries`` answers (emptied when full) and re-signing when the key changes.
    """

    def __init__(self, *, max_entries: int = 20_000) -> None:
        self._max = max_entries
        self._minute = ""
        self._answers: dict[tuple, bytes] = {}

    def answer(self, ring: KeyRing, payload: dict[str, Any]) -> bytes:
        """The envelope of ``payload`` (a nonce-less check answer) signed by ``ring``, once per minute."""
        if payload["issued_at"] != self._minute:
            self._answers = {}
            self._minute = payload["issued_at"]
        key = (ring.active.key_id, *payload.values())
        body = self._answers.get(key)
        if body is None:
            if len(self._answers) >= self._max:
                self._answers = {}
            body = self._answers[key] = signed_envelope_bytes(ring, payload)
        return body


@dataclass(frozen=True)
class Evaluation:
    """A method's verdict for one user, with what it was asked and how long it took."""

    method: str
    verdict: Verdict
    settings: dict[str, Any]
    now: datetime
    elapsed_ms: int


class LicenceChecks:
    """One worker's licence checks."""

    def __init__(
        self,
        make_session: sessionmaker,
        ring: KeyRing,
        *,
        egress_allow_private: bool,
        usage_flush_seconds: float,
        method_factories: Mapping[str, Callable[[], LicensingMethod]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._make_session = make_session
        self.ring = ring
        self.clock = clock
        self._egress_allow_private = egress_allow_private
        self._lock = threading.RLock()
        self.index = PortalIndex(make_session)
        self._portal = PortalMethod(make_session, self.index)
        # this app's own methods (web service, proprietary), made on first use
        self._factories = dict(method_factories or {})
        self._methods: dict[str, LicensingMethod] = {"portal": self._portal}
        self.usage = UsageRecorder(make_session, flush_seconds=usage_flush_seconds, clock=time.monotonic)
        self.signed = SignedAnswers()
        self._brand_methods: dict[tuple[int, bool], str | None] = {}
        self._settings: dict[int, dict[str, Any]] = {}

    # -- what a check depends on, kept until the change log names it ------------------------

    def brand_method(self, brand_id: int, live: bool) -> str | None:
        """The licensing method a brand announces (published content for live codes, draft for test)."""
        key = (brand_id, live)
        try:
            return self._brand_methods[key]
        except KeyError:
            pass
        with self._lock, self._make_session() as session:
            inputs = brand_document_inputs(session, brand_id, live=live)
            method = inputs[0].get("licensing_method") if inputs else None
            self._brand_methods[key] = method
            return method

    def settings(self, partner_id: int) -> dict[str, Any]:
        """The partner's licensing settings as methods receive them."""
        try:
            return self._settings[partner_id]
        except KeyError:
            pass
        with self._lock, self._make_session() as session:
            values = settings_values(settings_row(session, partner_id))
        mapping = settings_mapping(partner_id, values, egress_allow_private=self._egress_allow_private)
        self._settings[partner_id] = mapping
        return mapping

    def forget(self, changes: Iterable[tuple[str, str]]) -> None:
        """Drop what ``changes`` (topic, key) name; a listener of PublicAnswers."""
        changes = list(changes)
        self.index.apply(changes)
        with self._lock:
            for topic, key in changes:
                if topic == "brand" and key.isdigit():
                    for live in (True, False):
                        self._brand_methods.pop((int(key), live), None)
                elif topic == "licensing" and key.isdigit():
                    self._settings.pop(int(key), None)
                elif topic == "all":
                    self._brand_methods.clear()
                    self._settings.clear()

    # -- checking ---------------------------------------------------------------------------

    def method(self, name: str) -> LicensingMethod | None:
        """The object answering for method ``name``: this app's own, else a registered plug-in."""
        method = self._methods.get(name)
        if method is None and name in self._factories:
            with self._lock:
                method = self._methods.get(name) or self._factories[name]()
                self._methods[name] = method
        return method or registry.method_for(name)

    def evaluate(self, partner_id: int, method_name: str, user_key: str, proof: str | None) -> Evaluation:
        """Ask the brand's method about ``user_key``; never raises (a failing method is ``unavailable``)."""
        now = self.clock()
        settings = self.settings(partner_id)
        method = self.method(method_name)
        started = time.perf_counter()
        if method is None:
            verdict = Verdict("unavailable", source={"kind": "no_method", "method": method_name})
        else:
            try:
                verdict = method.check(CheckRequest(partner_id, user_key, proof, now), settings)
            except Exception:
                log.exception("licensing method %s failed for partner %s", method_name, partner_id)
                verdict = Verdict("unavailable", source={"kind": "method_error", "method": method_name})
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        return Evaluation(method_name, verdict, settings, now, elapsed_ms)

    def answer(
        self, entry: Any, method_name: str, digest: str, user_key: str, install_id: str, nonce: str | None,
        proof: str | None,
    ) -> bytes:  # fmt: skip
        """The signed answer body for a check on the usable code ``entry`` (usage recorded first).

        Only checks made with a live code are usage: a test code's checks (the partner's test cycle,
        support desks) are answered the same way but never counted for billing (docs/billing.md).
        """
        result = self.evaluate(entry.partner_id, method_name, user_key, proof)
        verdict = result.verdict
        if verdict.licensed and entry.live:
            portal = method_name == "portal"
            month = month_of(result.now)
            written = portal and self.index.seen(entry.partner_id, user_key, month)
            self.usage.record(
                entry.partner_id, user_key, method_name, verdict.licence_type, result.now, written=written
            )
            if portal and not written:
                self.index.mark_seen(entry.partner_id, user_key, month)
        payload = check_payload(
            verdict,
            method=method_name,
            user_key=user_key,
            access_code_digest=digest,
            install_id=install_id,
            nonce=nonce,
            now=result.now if nonce is not None else quantised(result.now),
            settings=result.settings,
        )
        if nonce is None:
            return self.signed.answer(self.ring, payload)
        return signed_envelope_bytes(self.ring, payload)

    def explain(self, entry: Any, method_name: str, user_key: str) -> dict[str, Any]:
        """For support desks: the method, its verdict, where it came from and the lease (no usage written)."""
        result = self.evaluate(entry.partner_id, method_name, user_key, None)
        return {
            "method": method_name,
            "registered": self.method(method_name) is not None,
            "status": result.verdict.status,
            "licensed": result.verdict.licensed,
            "licence_type": result.verdict.licence_type,
            "user_id": user_key,
            "source": dict(result.verdict.source),
            "elapsed_ms": result.elapsed_ms,
            "checked_at": rfc3339(result.now),
            "lease_until": rfc3339(lease_until(result.verdict, result.now, result.settings)),
            "lease_days": result.settings["lease_days"],
            "grace_lease_hours": result.settings["grace_lease_hours"],
        }
