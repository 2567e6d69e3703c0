"""POST /v1/upgrade/{access_code}/reports: installed clients report how an upgrade went.

``202`` once the report is accepted (app/upgrades/reports.py writes it in batches); the code is
refused exactly as discovery refuses it (404/410/403, same documents, unknown codes counted for
throttling); a body that is not a JSON object is a 400, a bad field a 422 naming it. The body is
one report or a batch of up to 20 (``{"reports": [...]}``), accepted or refused as a whole. The route
below is the reference behaviour; fast.py answers the same requests with the same bytes below
Flask, and both decide through ``report_answers``.
"""

from __future__ import annotations

from flask import Response, current_app, request

from app.api.public.answers import NO_STORE
from app.api.public.blueprint import bp, counted, public_answers, upgrade_answers
from app.api.public.report_answers import ACCEPTED, MAX_BATCH_BYTES, accept_reports, report_target
from app.observability import PARTNER_KEY
from app.problems import Problem
from app.upgrades.reports import ReportRecorder


def recorder() -> ReportRecorder:
    """This worker's install-report buffer."""
    return current_app.extensions["livery.reports"]


def accepted_response(body: bytes = ACCEPTED) -> Response:
    """The 202 response to an accepted report, or batch of reports (``body``: report_answers.accepted_body)."""
    return Response(body, status=202, content_type="application/json", headers={"Cache-Control": NO_STORE})


@bp.post("/upgrade/<path:access_code>/reports")
def report(access_code: str) -> Response:
    """Report how upgrades went (started, succeeded, failed, rolled back), one or a batch; 202 once accepted."""
    request.max_content_length = MAX_BATCH_BYTES  # one report: MAX_REPORT_BYTES, checked once it is read
    try:
        found, channel = report_target(public_answers(), upgrade_answers(), access_code)
    except Problem as problem:
        raise counted(problem) from None
    request.environ[PARTNER_KEY] = found.partner_id  # for the request log line, as the fast path notes it
    return accepted_response(accept_reports(recorder(), found, channel, request.get_data(cache=False)))
