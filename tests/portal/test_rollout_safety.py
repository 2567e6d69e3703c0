"""Issue 16's upgrade safety on the portal's channel page: health per release, the automatic halt
with its evidence, the guard's settings, rollout plans with their timeline, and two-person approvals
(ask, approve by a second person, reject, void when the content changed)."""

from __future__ import annotations

import html
import json
import re

from app.db import session, utcnow
from app.partners.models import Partner
from app.partners.services import create_api_key
from app.upgrades.approvals import set_two_person
from app.upgrades.models import Approval, Channel, RolloutPlan
from app.upgrades.plans import run_plans
from app.upgrades.reports import Report
from tests import factories
from tests.portal.helpers import PortalBrowser, make_user
from tests.portal.seed_b import etag_field, seed_catalogue, seed_rollout


def report(app, partner_id: int, outcome: str, count: int, start: int = 0) -> None:
    """Install reports through the worker's recorder, as the public route hands them over; then its flush."""
    recorder = app.extensions["livery.reports"]
    for i in range(count):
        recorder.add(
            Report(
                partner_id, "stable", f"i-{outcome}-{start + i}", "5.2.0", "5.3.0", "windows-x64", outcome, None, 1,
                utcnow(),
            )
        )  # fmt: skip
    recorder.flush()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def channel_of(app, channel_id: int) -> Channel:
    with app.app_context():
        row = session().get(Channel, channel_id)
        session().expunge(row)
        return row


def test_the_guard_halts_the_page_shows_its_evidence_and_a_person_resumes(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    page = f"/portal/channels/{ids['channel_id']}"
    report(portal_app, partners.a.partner_id, "succeeded", 45)
    report(portal_app, partners.a.partner_id, "failed", 3)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    body = text(browser.get(page))  # 6.25 % is above the threshold, but 48 finished installs are too few
    assert 'data-testid="channel-state">running' in body and "6.25 % of 48" in body and "breaks the guard" not in body
    report(portal_app, partners.a.partner_id, "rolled_back", 2)
    body = text(browser.get(page))
    assert 'data-testid="channel-state">halted' in body and "by <strong>the automatic halt guard</strong>" in body
    evidence = re.search(r'data-testid="halt-evidence">([^<]+)<', body).group(1)
    assert evidence.startswith("Automatic halt: 5.3.0 failed on 5 of 50 installs (10.0 %: 3 failed, 2 rolled back")
    assert "the guard halts at 5 % with at least 50 reports" in evidence
    # health per release: started / succeeded / failed / rolled back, the rate, the thresholds
    assert "<td>0</td><td>45</td><td>3</td><td>2</td>" in body and "10.0 % of 50" in body and "breaks the guard" in body
    assert "reaches <strong>5 %</strong> with at least <strong>50</strong> finished installs in 60 minutes" in body
    assert browser.post(f"{page}/resume", {}, page=page).status_code == 303  # a person's decision
    assert not channel_of(portal_app, ids["channel_id"]).halted
    body = text(browser.get(page))
    assert "running" in body and "No install reports in the window." in body  # counted afresh since the resume


def test_a_person_halting_is_told_apart_from_the_guard(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    page = f"/portal/channels/{ids['channel_id']}"
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    browser.post(f"{page}/halt", {"reason": "Crash on start"}, page=page)
    body = text(browser.get(page))
    assert "by a person (partner:" in body and "Crash on start" in body and "halt-evidence" not in body


def test_guard_settings_are_checked_like_the_admin_api_and_saved_on_the_version_shown(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    page = f"/portal/channels/{ids['channel_id']}"
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    etag = etag_field(browser.get(page).get_data(as_text=True))
    bad = {"etag": etag, "enabled": "on", "failure_percent": "0", "min_reports": "many", "window_minutes": "2"}
    refused = browser.post(f"{page}/guard", bad, page=page)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    for name in ("failure_percent", "min_reports", "window_minutes"):
        assert f'href="#field-{name}"' in body and f'id="error-{name}"' in body
    assert 'value="many"' in body  # the input is given back
    good = {"etag": etag, "enabled": "on", "failure_percent": "12.5", "min_reports": "20", "window_minutes": "30"}
    assert browser.post(f"{page}/guard", good, page=page).status_code == 303
    row = channel_of(portal_app, ids["channel_id"])
    assert (row.guard_failure_bp, row.guard_min_reports, row.guard_window_minutes) == (1250, 20, 30)
    assert "reaches <strong>12.5 %</strong> with at least <strong>20</strong>" in text(browser.get(page))
    stale = browser.post(f"{page}/guard", {**good, "min_reports": "99"}, page=page)  # the etag of before the save
    assert stale.status_code == 409 and channel_of(portal_app, ids["channel_id"]).guard_min_reports == 20
    off = {"etag": etag_field(browser.get(page).get_data(as_text=True)), **{k: good[k] for k in good if k != "etag"}}
    del off["enabled"]
    assert browser.post(f"{page}/guard", off, page=page).status_code == 303
    assert "nothing halts this channel automatically" in text(browser.get(page))


def test_viewers_see_health_and_plans_but_change_nothing(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    page = f"/portal/channels/{ids['channel_id']}"
    browser = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    body = text(browser.get(page))
    assert "Automatic halt guard" in body and "Rollout plan" in body and "Save guard" not in body
    data = {"failure_percent": "10", "min_reports": "5", "window_minutes": "60", "release_version": "5.3.0"}
    for action in ("guard", "plans", "approvals"):
        assert browser.post(f"{page}/{action}", {**data, "steps-0-percent": "10"}, page=page).status_code == 403


def test_a_plan_is_started_shows_its_timeline_pauses_with_why_and_is_replaced_and_cancelled(
    portal_app, partners, clock
):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    page = f"/portal/channels/{ids['channel_id']}"
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    rising_wrong = {"release_version": "5.3.0", "steps-0-percent": "50", "steps-1-percent": "10"}
    refused = browser.post(f"{page}/plans", rising_wrong, page=page)
    assert refused.status_code == 422 and 'href="#field-steps-1-percent"' in refused.get_data(as_text=True)
    unknown = browser.post(f"{page}/plans", {"release_version": "9.9.9", "steps-0-percent": "10"}, page=page)
    assert unknown.status_code == 409 and "does not offer 9.9.9" in text(unknown)
    steps = {"steps-0-percent": "10", "steps-0-hold_hours": "1", "steps-0-min_successes": "0", "steps-1-percent": "100"}
    assert browser.post(f"{page}/plans", {"release_version": "5.3.0", **steps}, page=page).status_code == 303
    body = text(browser.get(page))
    assert "active</span>" in body and "5.3.0, step 1 of 2 (10 %)" in body and "next looked at from" in body
    assert "<strong>started</strong> at step 1 (10 %): 5.3.0 at 10 %" in body
    assert 'value="10" aria-label="Rollout of 5.3.0"' in body  # the first step is in effect
    browser.post(f"{page}/halt", {"reason": "Crash on start"}, page=page)
    app = portal_app
    run_plans(app.extensions["livery.sessionmaker"], app.extensions["livery.stores"], clock=lambda: utcnow())
    body = text(browser.get(page))
    assert "paused</span>" in body and "Paused because the channel is halted: Crash on start." in body
    assert "<strong>paused</strong> at step 1 (10 %): the channel is halted: Crash on start" in body
    assert "Resume plan" in body
    # a plan's form carries its version: a second start without it is refused, with it replaces the plan
    running = {"release_version": "5.3.0", "steps-0-percent": "20"}
    assert browser.post(f"{page}/plans", running, page=page).status_code == 409
    replace = re.search(r'name="replace" value="([^"]+)"', browser.get(page).get_data(as_text=True)).group(1)
    assert browser.post(f"{page}/plans", {**running, "replace": html.unescape(replace)}, page=page).status_code == 303
    with portal_app.app_context():
        plans = session().query(RolloutPlan).order_by(RolloutPlan.id).all()
        assert [p.status for p in plans] == ["cancelled", "active"]
        latest = plans[-1].id
    body = browser.get(page).get_data(as_text=True)
    etag = re.search(r'plans/\d+/cancel">\s*<input type="hidden" name="csrf_token" value="[^"]+"><input type="hidden" '
                     r'name="etag" value="([^"]+)"', body).group(1)  # fmt: skip
    assert browser.post(f"{page}/plans/{latest}/cancel", {"etag": html.unescape(etag)}, page=page).status_code == 303
    assert "cancelled</span>" in text(browser.get(page)) and "Start a plan" in text(browser.get(page))


def _two_person(app, partners):
    with app.app_context():
        set_two_person(session(), partners.a.partner_id, True, actor=factories.ACTOR)
        session().commit()
    return make_user(app, "second@acme.example", "admin", partners.a.partner_id)


def _buttons(body: str, label: str) -> list[str]:
    """The actions of the forms whose button says ``label``."""
    return re.findall(r'<form method="post" action="([^"]+)">(?:(?!</form>).)*?>' + label + "</button>", body, re.S)


def test_two_person_activation_waits_for_a_second_person(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    second = _two_person(portal_app, partners)
    page = f"/portal/channels/{ids['channel_id']}"
    asker = PortalBrowser(portal_app).sign_in(partners.admin_a)
    form = f"{page}/control-file"
    assert "Ask for approval to activate" in text(asker.get(form))
    document = {"default_mode": "passive", "releases-0-version": "5.3.0", "releases-0-rollout_percent": "30"}
    assert asker.post(form, {**document, "action": "activate"}).status_code == 303
    assert channel_of(portal_app, ids["channel_id"]).active_serial == 1  # nothing activated yet
    body = text(asker.get(page))
    with portal_app.app_context():
        approval = session().query(Approval).one()
        digest, approval_id = approval.content_sha256, approval.id
    assert "waiting for approval" in body and f"<code>{digest}</code>" in body and "(you)" in body
    assert "5.3.0 at 30 %" in body  # the file asked for, as the approver reviews it
    assert _buttons(body, "Approve") == []  # not for the asker ...
    own = asker.post(f"{page}/approvals/{approval_id}/approve", {}, page=page)
    assert own.status_code == 409 and "A second person must approve" in text(own)  # ... nor by a crafted post
    approver = PortalBrowser(portal_app).sign_in(second)
    assert _buttons(text(approver.get(page)), "Approve") == [f"{page}/approvals/{approval_id}/approve"]
    assert approver.post(f"{page}/approvals/{approval_id}/approve", {}, page=page).status_code == 303
    body = text(asker.get(page))
    assert "approved</span>" in body and "approved by partner:" in body
    assert asker.post(f"{page}/approvals/{approval_id}/activate", {}, page=page).status_code == 303
    assert channel_of(portal_app, ids["channel_id"]).active_serial == 2
    assert 'value="30" aria-label="Rollout of 5.3.0"' in text(asker.get(page))
    # plans cannot run under two-person activation
    refused = asker.post(f"{page}/plans", {"release_version": "5.3.0", "steps-0-percent": "50"}, page=page)
    assert refused.status_code == 409 and "Two-person activation is on" in text(refused)


def test_a_changed_file_voids_an_activation_request_visibly(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    second = _two_person(portal_app, partners)
    page, form = f"/portal/channels/{ids['channel_id']}", f"/portal/channels/{ids['channel_id']}/control-file"
    asker = PortalBrowser(portal_app).sign_in(partners.admin_a)
    approver = PortalBrowser(portal_app).sign_in(second)
    for percent in ("30", "60"):  # two requests against serial 1
        data = {"default_mode": "passive", "releases-0-version": "5.3.0", "releases-0-rollout_percent": percent}
        asker.post(form, {**data, "action": "activate"})
    with portal_app.app_context():
        first, later = (a.id for a in session().query(Approval).order_by(Approval.id))
    approver.post(f"{page}/approvals/{later}/approve", {}, page=page)
    asker.post(f"{page}/approvals/{later}/activate", {}, page=page)  # serial 2: the first request no longer matches
    body = text(approver.get(page))
    assert re.search(rf'data-testid="approval-{first}">.*?void: changed since', body, re.S)
    assert f"{page}/approvals/{first}/approve" not in body
    voided = approver.post(f"{page}/approvals/{first}/approve", {}, page=page)
    assert voided.status_code == 409 and "the approval is void" in text(voided)
    with portal_app.app_context():
        assert session().get(Approval, first).status == "void"


def test_two_person_resume_needs_an_approval_of_this_halt_and_can_be_rejected(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    second = _two_person(portal_app, partners)
    page = f"/portal/channels/{ids['channel_id']}"
    asker = PortalBrowser(portal_app).sign_in(partners.admin_a)
    approver = PortalBrowser(portal_app).sign_in(second)
    asker.post(f"{page}/halt", {"reason": "Crash on start"}, page=page)
    assert "Ask for approval to resume" in text(asker.get(page)) and "Resume channel…" not in text(asker.get(page))
    refused = asker.post(f"{page}/resume", {}, page=page)
    assert refused.status_code == 409 and "needs a second person's approval" in text(refused)
    assert asker.post(f"{page}/approvals", {}, page=page).status_code == 303
    assert 'data-testid="resume-waiting">waiting for approval' in text(asker.get(page))
    with portal_app.app_context():
        rejected = session().query(Approval).one().id
    assert approver.post(f"{page}/approvals/{rejected}/reject", {}, page=page).status_code == 303
    assert "rejected</span>" in text(asker.get(page)) and "Ask for approval to resume" in text(asker.get(page))
    asker.post(f"{page}/approvals", {}, page=page)
    with portal_app.app_context():
        asked = session().query(Approval).order_by(Approval.id.desc()).first().id
    asker.post(f"{page}/halt", {"reason": "Crash on start, and more"}, page=page)  # another halt: the request is void
    assert re.search(rf'data-testid="approval-{asked}">.*?void: changed since', text(asker.get(page)), re.S)
    asker.post(f"{page}/approvals", {}, page=page)
    with portal_app.app_context():
        asked = session().query(Approval).order_by(Approval.id.desc()).first().id
    assert approver.post(f"{page}/approvals/{asked}/approve", {}, page=page).status_code == 303
    assert "Resume channel…" in text(asker.get(page))
    assert asker.post(f"{page}/resume", {}, page=page).status_code == 303
    assert not channel_of(portal_app, ids["channel_id"]).halted
    with portal_app.app_context():
        assert session().get(Approval, asked).status == "used"


def test_plans_and_approvals_of_a_channel_cannot_be_reached_through_another(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    other = seed_catalogue(portal_app, partners.b.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.admin_b)
    page = f"/portal/channels/{other['channel_id']}"
    assert browser.get(f"/portal/channels/{ids['channel_id']}").status_code == 404
    assert browser.post(f"{page}/approvals/999999/approve", {}, page=page).status_code == 404
    assert browser.post(f"{page}/plans/999999/cancel", {"etag": "x"}, page=page).status_code == 404


def test_an_activation_asked_through_the_admin_api_is_reviewed_and_approved_in_the_portal(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    _two_person(portal_app, partners)
    with portal_app.app_context():
        partner = session().get(Partner, partners.a.partner_id)
        _key, plain = create_api_key(session(), role="admin", actor=factories.ACTOR, partner=partner, label="ci")
        session().commit()
    document = {
        "schema_version": 1,
        "channel": "stable",
        "default_mode": "dynamic",
        "releases": [{"version": "5.3.0", "rollout_percent": 40}],
    }
    asked = portal_app.test_client().post(
        "/admin/v1/channels/stable/approvals?action=activate",
        data=json.dumps(document),
        headers={"Authorization": f"Bearer {plain}", "Content-Type": "application/json"},
    )
    assert asked.status_code == 201
    page = f"/portal/channels/{ids['channel_id']}"
    approver = PortalBrowser(portal_app).sign_in(partners.admin_a)
    body = text(approver.get(page))
    assert "5.3.0 at 40 %" in body and f"<code>{asked.json['content_sha256']}</code>" in body
    assert approver.post(f"{page}/approvals/{asked.json['id']}/approve", {}, page=page).status_code == 303
    assert approver.post(f"{page}/approvals/{asked.json['id']}/activate", {}, page=page).status_code == 303
    assert 'value="40" aria-label="Rollout of 5.3.0"' in text(approver.get(page))


def test_with_two_person_activation_off_a_pending_request_cannot_be_answered(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    page = f"/portal/channels/{ids['channel_id']}"
    approval_id = seed_rollout(portal_app, ids["channel_id"])["approval_id"]  # asked with the option off
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    body = text(browser.get(page))
    assert re.search(rf'data-testid="approval-{approval_id}">.*?not needed: two-person activation is off', body, re.S)
    assert _buttons(body, "Approve") == [] and _buttons(body, "Reject") == []
    for answer in ("approve", "reject"):  # a crafted post agrees with the page
        refused = browser.post(f"{page}/approvals/{approval_id}/{answer}", {}, page=page)
        assert refused.status_code == 409 and "Two-person activation is off" in text(refused)
    browser.post(f"{page}/halt", {"reason": "Crash on start"}, page=page)
    refused = browser.post(f"{page}/approvals", {}, page=page)
    assert refused.status_code == 409 and "resume the channel directly" in text(refused)
    with portal_app.app_context():
        assert [a.status for a in session().query(Approval)] == ["pending"]
    _two_person(portal_app, partners)  # back on: the request counts again
    assert _buttons(text(browser.get(page)), "Approve") == [f"{page}/approvals/{approval_id}/approve"]


def test_a_second_resume_request_shows_the_first_with_a_notice(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    second = _two_person(portal_app, partners)
    page = f"/portal/channels/{ids['channel_id']}"
    asker = PortalBrowser(portal_app).sign_in(partners.admin_a)
    other = PortalBrowser(portal_app).sign_in(second)
    asker.post(f"{page}/halt", {"reason": "Crash on start"}, page=page)
    assert asker.post(f"{page}/approvals", {}, page=page).status_code == 303
    again = other.post(f"{page}/approvals", {}, page=page)  # the other person's page still had the form
    assert again.status_code == 303 and again.headers["Location"].endswith(page)
    body = text(other.get(page))
    assert "Approval of resuming this halt was already asked for" in body and 'class="flash"' in body
    assert 'data-testid="resume-waiting">waiting for approval' in body and "Ask for approval to resume" not in body
    with portal_app.app_context():
        assert [a.status for a in session().query(Approval)] == ["pending"]


def test_asking_twice_for_the_same_file_keeps_one_request(portal_app, partners, clock):
    ids = seed_catalogue(portal_app, partners.a.partner_id)
    _two_person(portal_app, partners)
    page, form = f"/portal/channels/{ids['channel_id']}", f"/portal/channels/{ids['channel_id']}/control-file"
    asker = PortalBrowser(portal_app).sign_in(partners.admin_a)
    data = {"default_mode": "passive", "releases-0-version": "5.3.0", "releases-0-rollout_percent": "30"}
    for _ in range(2):  # a double click on "Ask for approval to activate"
        response = asker.post(form, {**data, "action": "activate"})
        assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert "Approval of this control file was already asked for" in text(asker.get(page))
    with portal_app.app_context():
        assert [a.status for a in session().query(Approval)] == ["pending"]
