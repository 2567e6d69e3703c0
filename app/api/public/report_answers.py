"""What an install report answers, decided without Flask: the core the route and fast.py share.

``report_target`` refuses the code exactly as discovery does and names the channel the report
counts under; ``accept_reports`` validates the body (400 when it is not a JSON object, 422 naming
every bad field) and puts its reports in the worker's buffer (app/upgrades/reports.py: 429 beyond
the per-install cap, 503 when the database is down and the buffer full). The body is one report,
or a batch ``{"reports": [report, ...]}`` of 1 to ``MAX_BATCH_REPORTS`` (more: 413
``batch_too_large``): each item is validated by the rules of a single report, a bad item makes
the whole batch a 422 naming it (``reports.3.outcome``), and the batch is accepted or refused as
a whole. The route checks the code before it reads the body; fast.py has read it already (within
``MAX_BATCH_BYTES``). Imports no route module and no Flask.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.api.public.answers import Refused, code_status, problem_for
from app.formats import MAX_INSTALL_ID, is_install_id
from app.problems import BadRequest, PayloadTooLarge, Problem, ValidationProblem
from app.upgrades.health import OUTCOMES
from app.upgrades.reports import Report, ReportRecorder
from app.upgrades.versions import PLATFORMS, InvalidVersion, parse_version

if TYPE_CHECKING:
    from app.api.public.cache import CodeEntry, PublicAnswers
    from app.api.public.upgrade_cache import UpgradeAnswers

REPORTS_SUFFIX = "/reports"  # POST /v1/upgrade/{access_code}/reports
MAX_REPORT_BYTES = 4096  # one report
MAX_BATCH_REPORTS = 20
# a batch: 20 reports as clients write them are 3-12 KiB (every field bounded), with room for whitespace
MAX_BATCH_BYTES = 32 * 1024
MAX_SERIAL = 2**31 - 1
ACCEPTED = b'{"accepted":true}'  # one report; a batch answers how many reports it carried
FIELDS = frozenset({"install_id", "from_version", "to_version", "platform", "outcome", "error_code", "serial"})
_ERROR_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


def report_target(public: PublicAnswers, upgrades: UpgradeAnswers, raw_code: str) -> tuple[CodeEntry, str]:
    """The usable code ``raw_code`` and the channel its reports count under; raises the refusal to answer."""
    found = code_status(public, raw_code)
    if isinstance(found, Refused):
        raise problem_for(found)
    # the code's channel, from memory; its control file is not needed (nor read) to take a report
    channel = found.channel or upgrades.brand_channel(found.brand_id, found.live)
    if channel is None:  # a live code whose brand was never published: like discovery
        raise problem_for(Refused.UNKNOWN)
    return found, channel


def _version(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        errors[name] = ["Required: a version, e.g. 5.3.0."]
        return ""
    try:
        return parse_version(value).text
    except InvalidVersion as exc:
        errors[name] = [str(exc)]
        return ""


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("The body must be a JSON object.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    return data


def _report_fields(data: dict[str, Any], errors: dict[str, list[str]], prefix: str = "") -> dict[str, Any]:
    """One report's fields from ``data``; what is wrong goes into ``errors`` under ``prefix`` + field."""
    bad: dict[str, list[str]] = {}
    for name in sorted(data.keys() - FIELDS)[:5]:
        bad[name[:64]] = ["Unknown field."]
    if not is_install_id(data.get("install_id")):
        bad["install_id"] = [
            f"Required: 1 to {MAX_INSTALL_ID} visible ASCII characters (the id the client polls with)."
        ]
    from_version = _version(data, "from_version", bad)
    to_version = _version(data, "to_version", bad)
    if data.get("platform") not in PLATFORMS:
        bad["platform"] = [f"Required: one of {', '.join(PLATFORMS)}."]
    if data.get("outcome") not in OUTCOMES:
        bad["outcome"] = [f"Required: one of {', '.join(OUTCOMES)}."]
    error_code = data.get("error_code")
    if error_code is not None and not (
        isinstance(error_code, str) and 1 <= len(error_code) <= 64 and set(error_code) <= _ERROR_CODE_CHARS
    ):
        bad["error_code"] = ["Optional: 1 to 64 letters, digits and . _ : - (e.g. MSI-1603)."]
    serial = data.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or not 0 <= serial <= MAX_SERIAL:
        bad["serial"] = ["Required: the serial of the upgrade answer that offered this version (0 or more)."]
    for name, messages in bad.items():
        errors[prefix + name] = messages
    if bad:
        return {}
    return {
        "install_id": data["install_id"],
        "from_version": from_version,
        "to_version": to_version,
        "platform": data["platform"],
        "outcome": data["outcome"],
        "error_code": error_code,
        "serial": serial,
    }


class BatchTooLarge(Problem):
    def __init__(self, count: int) -> None:
        super().__init__(
            "batch_too_large",
            f"A batch may carry at most {MAX_BATCH_REPORTS} reports, not {count}; send the rest in another request.",
        )


def parse_reports(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The reports of the body (one report, or a batch ``{"reports": [...]}``) and whether it was a batch;
    400 when not a JSON object, 413 beyond the limits, 422 naming every bad field (of every bad item)."""
    data = _json_object(body)
    errors: dict[str, list[str]] = {}
    if "reports" not in data:
        if len(body) > MAX_REPORT_BYTES:  # one report keeps its own limit
            raise PayloadTooLarge(MAX_REPORT_BYTES, "A single report")
        fields = _report_fields(data, errors)
        if errors:
            raise ValidationProblem(errors)
        return [fields], False
    for name in sorted(data.keys() - {"reports"})[:5]:
        errors[name[:64]] = ['Unknown field: a batch is {"reports": [...]} alone.']
    items = data["reports"]
    if not isinstance(items, list) or not items:
        errors["reports"] = [f"Required: a list of 1 to {MAX_BATCH_REPORTS} reports."]
        raise ValidationProblem(errors)
    if len(items) > MAX_BATCH_REPORTS:
        raise BatchTooLarge(len(items))
    reports = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            reports.append(_report_fields(item, errors, f"reports.{index}."))
        else:
            errors[f"reports.{index}"] = ["Must be a report (a JSON object)."]
    if errors:
        raise ValidationProblem(errors)
    return reports, True


def accepted_body(count: int | None) -> bytes:
    """The 202 body: one report's (``count`` None), or a batch's, with how many reports it carried."""
    return ACCEPTED if count is None else b'{"accepted":true,"reports":%d}' % count


def accept_reports(recorder: ReportRecorder, found: CodeEntry, channel: str, body: bytes) -> bytes:
    """Validate ``body``, then buffer its reports under ``found``'s partner and ``channel``, all or none;
    the 202 body to answer (raises what to answer instead)."""
    reports, batch = parse_reports(body)
    received_at = recorder.wall_clock()
    recorder.add_all(
        [Report(partner_id=found.partner_id, channel=channel, received_at=received_at, **r) for r in reports]
    )
    return accepted_body(len(reports) if batch else None)
