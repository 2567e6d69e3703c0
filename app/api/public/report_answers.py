"""What an install report answers, decided without Flask: the core the route and fast.py share.

``report_target`` refuses the code exactly as discovery does and names the channel the report
counts under; ``accept_report`` validates the body (400 when it is not a JSON object, 422 naming
every bad field) and puts the report in the worker's buffer (app/upgrades/reports.py: 429 beyond
the per-install cap, 503 when the database is down and the buffer full). The route checks the
code before it reads the body; fast.py has read it already (within ``MAX_REPORT_BYTES``).
Imports no route module and no Flask.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.api.public.answers import Refused, code_status, problem_for
from app.formats import MAX_INSTALL_ID, is_install_id
from app.problems import BadRequest, ValidationProblem
from app.upgrades.health import OUTCOMES
from app.upgrades.reports import Report, ReportRecorder
from app.upgrades.versions import PLATFORMS, InvalidVersion, parse_version

if TYPE_CHECKING:
    from app.api.public.cache import CodeEntry, PublicAnswers
    from app.api.public.upgrade_cache import UpgradeAnswers

REPORTS_SUFFIX = "/reports"  # POST /v1/upgrade/{access_code}/reports
MAX_REPORT_BYTES = 4096
MAX_SERIAL = 2**31 - 1
ACCEPTED = b'{"accepted":true}'
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


def parse_report(body: bytes) -> dict[str, Any]:
    """The report's fields from the body; 400 when not a JSON object, 422 naming every bad field."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("The body must be a JSON object.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    errors: dict[str, list[str]] = {}
    for name in sorted(data.keys() - FIELDS)[:5]:
        errors[name[:64]] = ["Unknown field."]
    if not is_install_id(data.get("install_id")):
        errors["install_id"] = [
            f"Required: 1 to {MAX_INSTALL_ID} visible ASCII characters (the id the client polls with)."
        ]
    from_version = _version(data, "from_version", errors)
    to_version = _version(data, "to_version", errors)
    if data.get("platform") not in PLATFORMS:
        errors["platform"] = [f"Required: one of {', '.join(PLATFORMS)}."]
    if data.get("outcome") not in OUTCOMES:
        errors["outcome"] = [f"Required: one of {', '.join(OUTCOMES)}."]
    error_code = data.get("error_code")
    if error_code is not None and not (
        isinstance(error_code, str) and 1 <= len(error_code) <= 64 and set(error_code) <= _ERROR_CODE_CHARS
    ):
        errors["error_code"] = ["Optional: 1 to 64 letters, digits and . _ : - (e.g. MSI-1603)."]
    serial = data.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or not 0 <= serial <= MAX_SERIAL:
        errors["serial"] = ["Required: the serial of the upgrade answer that offered this version (0 or more)."]
    if errors:
        raise ValidationProblem(errors)
    return {
        "install_id": data["install_id"],
        "from_version": from_version,
        "to_version": to_version,
        "platform": data["platform"],
        "outcome": data["outcome"],
        "error_code": error_code,
        "serial": serial,
    }


def accept_report(recorder: ReportRecorder, found: CodeEntry, channel: str, body: bytes) -> None:
    """Validate ``body``, then buffer its report under ``found``'s partner and ``channel``; raises what to answer."""
    fields = parse_report(body)
    recorder.add(Report(partner_id=found.partner_id, channel=channel, received_at=recorder.wall_clock(), **fields))
