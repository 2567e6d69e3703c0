"""The go-live dry run: a contract suite against a partner's configured web service.

Checks, each pass/fail with a detail (docs/licensing-webservice.md, "Go-live verification"):
``tls`` (https unless private egress is allowed), ``known_user`` (licensed, with a licence
type), ``unknown_user`` (a random id: 200 ``licensed: false``), ``odd_ids`` (ids with
``@ + % /`` and non-ASCII characters are answered and echoed back), ``latency`` (20 calls, p95
under 1 s) and ``answer_shape`` (every answer JSON, as the contract says). The whole run stays
within a budget well below the worker timeout; calls it cannot make in time fail their check.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from typing import Any

from app.licensing.webservice.caller import PartnerCall, PartnerCaller, PartnerFailure
from app.licensing.webservice.contract import WebServiceSettings, template_problem

ODD_IDS = ("livery.verify+tag@example.com", "100%_sure", "dept/team/livery-verify", "zoë.名前-livery@例え.jp")
LATENCY_CALLS = 20
LATENCY_LIMIT_MS = 1000
BUDGET_SECONDS = 20.0


def p95(latencies_ms: list[int]) -> int:
    """The 95th percentile (nearest rank) of ``latencies_ms``."""
    ordered = sorted(latencies_ms)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


class _Run:
    """The calls of one verification run, within its time budget."""

    def __init__(self, caller: PartnerCaller, settings: WebServiceSettings, budget: float) -> None:
        self.caller = caller
        self.settings = settings
        self.deadline = time.monotonic() + budget
        self.shapes: list[str] = []

    def ask(self, user_id: str) -> PartnerCall:
        remaining = self.deadline - time.monotonic()
        if remaining < self.caller.connect_timeout:
            raise PartnerFailure("budget", "The verification ran out of time.", attempts=0, latency_ms=0)
        caller = replace(self.caller, timeout=min(self.caller.timeout, remaining))
        try:
            call = caller.ask(self.settings, user_id, retry=False)
        except PartnerFailure as failure:
            self.shapes.append(f"{failure.kind}: {failure}")
            raise
        if call.content_type.split(";")[0].strip().lower() != "application/json":
            self.shapes.append(f"Content-Type is {call.content_type or 'missing'}, not application/json")
        return call


def _check(name: str, passed: bool, detail: str, latencies: list[int] | None = None) -> dict[str, Any]:
    return {"name": name, "passed": passed, "detail": detail, "latencies_ms": latencies or []}


def _known_user(run: _Run, user_id: str) -> dict[str, Any]:
    try:
        call = run.ask(user_id)
    except PartnerFailure as failure:
        return _check("known_user", False, f"The known user got no contract answer ({failure.kind}): {failure}")
    if not call.answer.licensed:
        return _check("known_user", False, "The known user was answered 'licensed: false'.", [call.latency_ms])
    detail = f"Licensed, licence type {call.answer.licence_type!r}."
    return _check("known_user", True, detail, [call.latency_ms])


def _unknown_user(run: _Run) -> dict[str, Any]:
    user_id = "livery-verify-" + secrets.token_hex(8)
    try:
        call = run.ask(user_id)
    except PartnerFailure as failure:
        detail = f"An unknown user must get 200 {{'licensed': false}}; got {failure.kind}: {failure}"
        return _check("unknown_user", False, detail)
    if call.answer.licensed:
        return _check("unknown_user", False, "A random, unknown user id was answered licensed.", [call.latency_ms])
    return _check("unknown_user", True, "Answered 200 'licensed: false'.", [call.latency_ms])


def _odd_ids(run: _Run) -> dict[str, Any]:
    failures, latencies = [], []
    for user_id in ODD_IDS:
        try:
            latencies.append(run.ask(user_id).latency_ms)
        except PartnerFailure as failure:
            failures.append(f"{user_id!r}: {failure.kind}: {failure}")
    if failures:
        return _check("odd_ids", False, "Not answered or not echoed back: " + "; ".join(failures), latencies)
    return _check("odd_ids", True, f"{len(ODD_IDS)} ids with @ + % / and non-ASCII round-tripped.", latencies)


def _latency(run: _Run, user_id: str) -> dict[str, Any]:
    latencies: list[int] = []
    for _ in range(LATENCY_CALLS):
        try:
            latencies.append(run.ask(user_id).latency_ms)
        except PartnerFailure as failure:
            return _check("latency", False, f"Call {len(latencies) + 1} failed ({failure.kind}).", latencies)
        if sum(ms >= LATENCY_LIMIT_MS for ms in latencies) > LATENCY_CALLS // 20:
            break  # p95 can no longer be under the limit
    if len(latencies) < LATENCY_CALLS or p95(latencies) >= LATENCY_LIMIT_MS:
        return _check("latency", False, f"p95 is {p95(latencies)} ms; it must be under {LATENCY_LIMIT_MS}.", latencies)
    return _check("latency", True, f"p95 {p95(latencies)} ms over {LATENCY_CALLS} calls.", latencies)


def verify_web_service(
    caller: PartnerCaller, settings: WebServiceSettings, known_user_id: str, *, budget: float = BUDGET_SECONDS
) -> dict[str, Any]:
    """Run the contract suite; the report says whether it passed and what each check found."""
    problem = template_problem(settings.url_template) if settings.url_template else "No URL template is configured."
    if problem is None and not settings.secrets:
        problem = "No signing secret: rotate one in first."
    if problem is not None:
        return {"passed": False, "checks": [_check("configuration", False, problem)]}
    https = settings.url_template.lower().startswith("https://")
    checks = [
        _check(
            "tls",
            https or caller.policy.allow_private,
            "https"
            if https
            else "plain http: allowed only because LIVERY_EGRESS_ALLOW_PRIVATE is on"
            if caller.policy.allow_private
            else "The URL must be https.",
        )
    ]
    run = _Run(caller, settings, budget)
    checks += [_known_user(run, known_user_id), _unknown_user(run), _odd_ids(run), _latency(run, known_user_id)]
    shapes = "; ".join(dict.fromkeys(run.shapes))
    checks.append(_check("answer_shape", not run.shapes, shapes or "Every answer followed the contract."))
    latencies = [ms for check in checks for ms in check["latencies_ms"]]
    return {
        "passed": all(check["passed"] for check in checks),
        "checks": checks,
        "calls": len(latencies),
        "p95_ms": p95(latencies) if latencies else None,
    }
