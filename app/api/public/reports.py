"""POST /v1/upgrade/{access_code}/reports: installed clients report how an upgrade went.

``202`` once the report is accepted (app/upgrades/reports.py writes it in batches); the code is
refused exactly as discovery refuses it (404/410/403, same documents, unknown codes counted for
throttling); a body that is not a JSON object is a 400, a bad field a 422 naming it. The fast
path (fast.py) never answers these requests: they reach this route untouched.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request

from app.api.public.answers import Refused, code_status, problem_for
from app.api.public.blueprint import bp, counted, public_answers, upgrade_answers
from app.formats import MAX_INSTALL_ID, is_install_id
from app.problems import BadRequest, Problem, ValidationProblem
from app.upgrades.health import OUTCOMES
from app.upgrades.reports import Report, ReportRecorder
from app.upgrades.versions import PLATFORMS, InvalidVersion, parse_version

MAX_REPORT_BYTES = 4096
MAX_SERIAL = 2**31 - 1
_ERROR_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")
ACCEPTED = b'{"accepted":true}'


def recorder() -> ReportRecorder:
    """This worker's install-report buffer."""
    return current_app.extensions["livery.reports"]


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
    unknown = sorted(
        set(data) - {"install_id", "from_version", "to_version", "platform", "outcome", "error_code", "serial"}
    )
    for name in unknown[:5]:
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


@bp.post("/upgrade/<path:access_code>/reports")
def report(access_code: str) -> Response:
    """Report how an upgrade went (started, succeeded, failed, rolled back); 202 once accepted."""
    request.max_content_length = MAX_REPORT_BYTES
    try:
        found = code_status(public_answers(), access_code)
        if isinstance(found, Refused):
            raise problem_for(found)
        # the code's channel, from memory; its control file is not needed (nor read) to take a report
        channel = found.channel or upgrade_answers().brand_channel(found.brand_id, found.live)
        if channel is None:  # a live code whose brand was never published: like discovery
            raise problem_for(Refused.UNKNOWN)
    except Problem as problem:
        raise counted(problem) from None
    fields = parse_report(request.get_data(cache=False))
    reports = recorder()
    reports.add(Report(partner_id=found.partner_id, channel=channel, received_at=reports.wall_clock(), **fields))
    return Response(ACCEPTED, status=202, content_type="application/json", headers={"Cache-Control": "no-store"})
