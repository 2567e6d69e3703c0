"""Issue 16 in Debian's Chromium: a release manager tightens the guard, install reports arrive
(through the worker's recorder, as the public route hands them over), the guard halts the channel,
the page shows its evidence, and a person resumes after the confirmation dialog.

Screenshot: test-artifacts/portal/channel-guard.png; docs/portal/ with LIVERY_UPDATE_DOC_SHOTS=1.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.db import utcnow
from app.upgrades.reports import Report
from tests.browser.pages import axe_serious, shoot
from tests.browser.test_portal import _sign_in, portal  # noqa: F401 - part A's served app fixture
from tests.portal.seed_b import seed_catalogue, seed_rollout

pytestmark = pytest.mark.timeout(240)


def _reports(app, partner_id: int, outcome: str, count: int) -> None:
    recorder = app.extensions["livery.reports"]
    for i in range(count):
        recorder.add(
            Report(
                partner_id, "stable", f"i-{outcome}-{i}", "5.2.0", "5.3.0", "windows-x64", outcome, None, 1, utcnow()
            )
        )
    recorder.flush()  # what the worker's flusher thread does: write, then evaluate the guard


def test_the_guard_halts_on_reports_and_a_person_resumes(portal, page):  # noqa: F811
    base, app, partner_id = portal["url"], portal["app"], portal["seeded"].partner_id
    ids = seed_catalogue(app, partner_id)
    channel = f"{base}/portal/channels/{ids['channel_id']}"
    page.set_viewport_size({"width": 1200, "height": 1000})
    _sign_in(page, base, portal["admin"])
    page.goto(channel)
    assert page.get_by_test_id("channel-state").inner_text() == "running"

    page.get_by_label("Failure threshold %").fill("10")
    page.get_by_label("Minimum finished installs").fill("20")
    page.get_by_role("button", name="Save guard").click()
    page.wait_for_url(channel)
    assert "reaches 10 % with at least 20 finished installs" in page.get_by_test_id("guard-summary").inner_text()

    _reports(app, partner_id, "started", 25)
    _reports(app, partner_id, "succeeded", 18)
    _reports(app, partner_id, "failed", 3)
    page.reload()
    assert page.get_by_test_id("channel-state").inner_text() == "halted"
    evidence = page.get_by_test_id("halt-evidence").inner_text()
    assert evidence.startswith("Automatic halt: 5.3.0 failed on 3 of 21 installs (14.3 %")
    health = page.get_by_test_id("health")
    assert "5.3.0" in health.inner_text() and "14.29 % of 21" in health.inner_text()
    expect(health.get_by_text("breaks the guard")).to_be_visible()
    assert axe_serious(page) == [], page.url
    shoot(page, "portal", "channel-guard.png", docs=True)

    page.get_by_role("link", name="Resume channel…").click()  # a person's decision, after the dialog
    dialog = page.locator("#resume-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Resume").click()
    page.wait_for_url(channel)
    assert page.get_by_test_id("channel-state").inner_text() == "running"
    assert "No install reports in the window." in page.get_by_test_id("health").inner_text()
    seed_rollout(app, ids["channel_id"])  # a plan's timeline and a pending approval on the page: axe them too
    page.reload()
    assert "cancelled" in page.get_by_test_id("plan-state").inner_text()
    assert axe_serious(page) == [], page.url
    shoot(page, "portal", "channel-plan.png", full_page=True)
