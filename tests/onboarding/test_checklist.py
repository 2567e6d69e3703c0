"""The onboarding checklist through HTTP: operators edit it (If-Match, audited), the partner reads it."""

from __future__ import annotations

from app.onboarding.checklist import STEP_KEYS
from tests.api.admin.conftest import make_operator, onboard


def test_operator_edits_steps_partner_reads_them(app):
    operator = make_operator(app)
    partner = onboard(operator, "checkco", live=False)
    path = f"/partners/{partner.id}/onboarding"
    first = operator.get(path)
    assert first.status_code == 200
    assert [s["key"] for s in first.json["steps"]] == list(STEP_KEYS)
    assert {s["status"] for s in first.json["steps"]} == {"todo"}
    contract = next(s for s in first.json["steps"] if s["key"] == "contract")
    assert contract["owner"] == "vendor"

    step = f"{path}/steps/contract"
    assert operator.patch(step, {"status": "done", "done_on": "2026-11-20"}).status_code == 428
    changed = operator.patch(step, {"status": "done", "done_on": "2026-11-20", "note": "signed"}, etag=contract["etag"])
    assert changed.status_code == 200, changed.json
    contract = next(s for s in changed.json["steps"] if s["key"] == "contract")
    assert (contract["status"], contract["done_on"], contract["note"]) == ("done", "2026-11-20", "signed")
    stale = operator.patch(step, {"note": "again"}, etag=first.json["steps"][2]["etag"])
    assert stale.status_code == 412

    bad = operator.patch(f"{path}/steps/training", {"owner": "nobody", "done_on": "2026-11-01"}, etag="*")
    assert bad.status_code == 422 and "owner" in bad.json["errors"]
    early = operator.patch(f"{path}/steps/training", {"done_on": "2026-11-01"}, etag="*")
    assert early.status_code == 422 and "done_on" in early.json["errors"]  # only a done step has a done date
    assert operator.patch(f"{path}/steps/nope", {"note": "x"}, etag="*").status_code == 404

    # the partner reads its checklist but cannot change it
    read = partner.viewer.get(path)
    assert read.status_code == 200 and read.json["steps"][2]["note"] == "signed"
    assert partner.admin.patch(step, {"note": "mine"}, etag=contract["etag"]).status_code == 403
    audit = operator.get(f"/audit-events?partner_id={partner.id}").json["items"]
    assert any(e["action"] == "onboarding.update_step" and e["resource_id"] == "contract" for e in audit)
