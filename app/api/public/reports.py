"""POST /v1/upgrade/{access_code}/reports: installed clients report how an upgrade went.

``202`` once the report is accepted (app/upgrades/reports.py writes it in batches); the code is
refused exactly as discovery refuses it (404/410/403, same documents, unknown codes counted for
throttling); a body that is not a JSON object is a 400, a bad field a 422 naming it. The route
below is the reference behaviour; fast.py answers the same requests with the same bytes below
Flask, and both decide through ``report_answers``.
"""

from __future__ import annotations

from flask import Response, current_app, request

from app.api.public.answers import NO_STORE
from app.api.public.blueprint import bp, counted, public_answers, upgrade_answers
from app.api.public.report_answers import ACCEPTED, MAX_REPORT_BYTES, accept_report, report_target
from app.observability import PARTNER_KEY
from app.problems import Problem
from app.upgrades.reports import ReportRecorder


def recorder() -> ReportRecorder:
    """This worker's install-report buffer."""
    return current_app.extensions["livery.reports"]


def accepted_response() -> Response:
    """The 202 response to an accepted report."""
    return Response(ACCEPTED, status=202, content_type="application/json", headers={"Cache-Control": NO_STORE})


@bp.post("/upgrade/<path:access_code>/reports")
def report(access_code: str) -> Response:
    """Report how an upgrade went (started, succeeded, failed, rolled back); 202 once accepted."""
    request.max_content_length = MAX_REPORT_BYTES
    try:
        found, channel = report_target(public_answers(), upgrade_answers(), access_code)
    except Problem as problem:
        raise counted(problem) from None
    request.environ[PARTNER_KEY] = found.partner_id  # for the request log line, as the fast path notes it
    accept_report(recorder(), found, channel, request.get_data(cache=False))
    return accepted_response()
