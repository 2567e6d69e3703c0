"""Upgrade-safety pages in Debian's Chromium, as people see and use them (docs/portal.md, "Upgrade
safety on the channel page"): the home page tells an automatic halt from a person's and links to
the channel; with two-person activation off a pending request offers nothing to approve; a second
person asking to resume the same halt is shown the request already made instead of adding one.

Screenshots: test-artifacts/portal/ (git-ignored); docs/portal/ with LIVERY_UPDATE_DOC_SHOTS=1.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from app.db import session
from app.upgrades.approvals import set_two_person
from app.upgrades.models import Channel
from app.upgrades.services import upload_control_file
from tests import factories
from tests.browser.pages import axe_serious, shoot
from tests.browser.test_portal import _sign_in, portal  # noqa: F401 - part A's served app fixture
from tests.browser.test_portal_rollout import _reports
from tests.portal.helpers import make_user
from tests.portal.seed_b import seed_catalogue, seed_rollout

pytestmark = pytest.mark.timeout(240)


def _beta_channel(app, partner_id: int) -> int:
    """A second channel, ``beta`` (offering nothing yet: a halt needs no release)."""
    document = {"schema_version": 1, "channel": "beta", "default_mode": "passive", "releases": []}
    with app.app_context():
        row = upload_control_file(
            session(), app.extensions["livery.stores"], partner_id, "beta", json.dumps(document).encode(),
            actor=factories.ACTOR,
        )  # fmt: skip
        session().commit()
        return row.channel_id


def _two_person(app, partner_id: int, enabled: bool = True) -> None:
    with app.app_context():
        set_two_person(session(), partner_id, enabled, actor=factories.ACTOR)
        session().commit()


def test_home_tells_the_guards_halt_from_a_persons_and_links_to_the_channel(portal, page):  # noqa: F811
    base, app, partner_id = portal["url"], portal["app"], portal["seeded"].partner_id
    ids = seed_catalogue(app, partner_id)
    beta = _beta_channel(app, partner_id)
    page.set_viewport_size({"width": 1200, "height": 1000})
    _sign_in(page, base, portal["admin"])
    assert "None." in page.locator(".card", has_text="Halted channels").inner_text()

    page.goto(f"{base}/portal/channels/{beta}")  # a person halts beta by hand
    page.get_by_label("Reason").fill("Installer signature expired")
    page.get_by_role("button", name="Halt now").click()
    page.wait_for_url(f"{base}/portal/channels/{beta}")
    _reports(app, partner_id, "succeeded", 47)  # the guard halts stable
    _reports(app, partner_id, "failed", 3)
    with app.app_context():
        halted = {c.name: c for c in session().query(Channel).filter(Channel.halted.is_(True))}
    assert set(halted) == {"stable", "beta"}

    page.goto(f"{base}/portal/")
    items = page.get_by_test_id("halted-channel")
    assert items.count() == 2
    guard = items.filter(has_text="stable").inner_text()
    assert "halted automatically by the guard" in guard
    assert halted["stable"].halted_at.strftime("%Y-%m-%d %H:%M UTC") in guard
    assert "Evidence: Automatic halt: 5.3.0 failed on 3 of 50 installs (6.0 %" in guard
    by_hand = items.filter(has_text="beta").inner_text()
    assert f"halted by a person, {halted['beta'].halted_by}" in by_hand and "portal-admin" in by_hand
    assert "Reason: Installer signature expired" in by_hand and "automatically" not in by_hand
    assert halted["beta"].halted_at.strftime("%Y-%m-%d %H:%M UTC") in by_hand
    assert axe_serious(page) == [], page.url
    shoot(page, "portal", "home-halted.png", docs=True)

    items.filter(has_text="stable").get_by_role("link", name="stable").click()
    page.wait_for_url(f"{base}/portal/channels/{ids['channel_id']}")
    assert page.get_by_test_id("channel-state").inner_text() == "halted"
    assert page.get_by_test_id("halt-evidence").inner_text().startswith("Automatic halt: 5.3.0 failed on 3 of 50")


def test_with_two_person_activation_off_a_pending_request_offers_nothing_to_approve(portal, page):  # noqa: F811
    base, app, partner_id = portal["url"], portal["app"], portal["seeded"].partner_id
    ids = seed_catalogue(app, partner_id)
    approval_id = seed_rollout(app, ids["channel_id"])["approval_id"]  # pending, asked by someone else
    channel = f"{base}/portal/channels/{ids['channel_id']}"
    page.set_viewport_size({"width": 1200, "height": 1000})
    _sign_in(page, base, portal["admin"])
    page.goto(channel)
    request = page.get_by_test_id(f"approval-{approval_id}")
    assert "not needed: two-person activation is off" in request.inner_text()
    assert request.get_by_role("button").count() == 0  # no Approve, no Reject
    assert "there is nothing to approve" in page.get_by_test_id("approvals-off").inner_text()
    assert axe_serious(page) == [], page.url

    _two_person(app, partner_id)  # turned on: the same request waits for an answer again
    page.reload()
    request = page.get_by_test_id(f"approval-{approval_id}")
    assert "waiting for approval" in request.inner_text()
    expect(request.get_by_role("button", name="Reject")).to_be_visible()
    request.get_by_role("button", name="Approve").click()
    page.wait_for_url(channel)
    assert "Approved: test may now activate." in page.locator(".flash").inner_text()
    expect(
        page.get_by_test_id(f"approval-{approval_id}").get_by_role("button", name="Activate this file")
    ).to_be_visible()


def test_a_second_person_asking_to_resume_the_same_halt_sees_the_request_already_made(portal, browser):  # noqa: F811
    base, app, partner_id = portal["url"], portal["app"], portal["seeded"].partner_id
    ids = seed_catalogue(app, partner_id)
    second = make_user(app, "second@acme.example", "admin", partner_id)
    _two_person(app, partner_id)
    channel = f"{base}/portal/channels/{ids['channel_id']}"
    first_page, second_page = browser.new_page(), browser.new_page(viewport={"width": 1200, "height": 1000})
    _sign_in(first_page, base, portal["admin"])
    _sign_in(second_page, base, second)
    first_page.goto(channel)
    first_page.get_by_label("Reason").fill("Crash on start with 5.3.0")
    first_page.get_by_role("button", name="Halt now").click()
    first_page.wait_for_url(channel)
    second_page.goto(channel)  # both see the form now
    ask = "Ask for approval to resume"
    expect(second_page.get_by_role("button", name=ask)).to_be_visible()

    first_page.get_by_role("button", name=ask).click()
    first_page.wait_for_url(channel)
    expect(first_page.get_by_test_id("resume-waiting")).to_be_visible()
    assert first_page.get_by_role("button", name=ask).count() == 0

    second_page.get_by_role("button", name=ask).click()  # from the page loaded before the first request
    second_page.wait_for_url(channel)
    notice = second_page.locator(".flash").inner_text()
    assert notice.startswith("Approval of resuming this halt was already asked for") and "waiting for" in notice
    expect(second_page.get_by_test_id("resume-waiting")).to_be_visible()  # the pending request instead of the form
    assert second_page.get_by_role("button", name=ask).count() == 0
    requests = second_page.locator("[data-testid^=approval-]")
    assert requests.count() == 1 and "waiting for approval" in requests.inner_text()
    assert axe_serious(second_page) == [], second_page.url
    shoot(second_page, "portal", "channel-resume-asked.png")

    requests.get_by_role("button", name="Approve").click()  # the second person approves the first's request
    second_page.wait_for_url(channel)
    first_page.reload()
    first_page.get_by_role("link", name="Resume channel…").click()
    first_page.locator("#resume-dialog").get_by_role("button", name="Resume").click()
    first_page.wait_for_url(channel)
    assert first_page.get_by_test_id("channel-state").inner_text() == "running"
