"""Part B's portal journeys in Debian's Chromium: halt and resume a channel, license a user and see
the licence check answer valid, download a monthly CSV, and an axe scan of every part-B page.

Screenshots: test-artifacts/portal/ (git-ignored); docs/portal/ with LIVERY_UPDATE_DOC_SHOTS=1.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.pages import axe_serious, shoot
from tests.browser.test_portal import _sign_in, portal  # noqa: F401 - part A's served app fixture
from tests.portal.helpers import make_user
from tests.portal.seed_b import seed_catalogue, seed_licensing

pytestmark = pytest.mark.timeout(240)


def _clean(page) -> None:
    assert axe_serious(page) == [], page.url


def test_halt_and_resume_a_channel(portal, page):  # noqa: F811
    base, app = portal["url"], portal["app"]
    ids = seed_catalogue(app, portal["seeded"].partner_id)
    page.set_viewport_size({"width": 1200, "height": 800})
    _sign_in(page, base, portal["admin"])
    page.get_by_role("link", name="Releases").click()
    page.get_by_role("link", name="stable").click()
    assert page.get_by_test_id("channel-state").inner_text() == "running"
    page.get_by_role("button", name="Halt now").click()  # no reason: the browser's own check stops it
    assert page.get_by_test_id("channel-state").inner_text() == "running"
    page.get_by_label("Reason").fill("Crash on start with 5.3.0")
    page.get_by_role("button", name="Halt now").click()
    page.wait_for_url(f"{base}/portal/channels/{ids['channel_id']}")
    assert page.get_by_test_id("channel-state").inner_text() == "halted"
    assert "Crash on start with 5.3.0" in page.locator("main").inner_text()
    assert "channel.halt" in page.locator("aside.history").inner_text()
    page.get_by_label("Client version").fill("5.2.0")
    page.get_by_role("button", name="Explain").click()
    assert page.get_by_test_id("explain-action").inner_text() == "none"
    _clean(page)
    shoot(page, "portal", "channel-halted.png", docs=True)

    opener = page.get_by_role("link", name="Resume channel…")
    opener.focus()
    page.keyboard.press("Enter")  # the confirmation dialog, by keyboard
    dialog = page.locator("#resume-dialog")
    expect(dialog).to_be_visible()
    _clean(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    opener.click()
    dialog.get_by_role("button", name="Resume").click()
    page.wait_for_url(f"{base}/portal/channels/{ids['channel_id']}")
    assert page.get_by_test_id("channel-state").inner_text() == "running"


def test_license_a_user_and_the_check_answers_valid(portal, page):  # noqa: F811
    base, app, seeded = portal["url"], portal["app"], portal["seeded"]
    ids = seed_licensing(app, seeded.partner_id)
    page.set_viewport_size({"width": 1200, "height": 800})
    _sign_in(page, base, portal["admin"])
    page.get_by_role("link", name="Licensing").first.click()
    _clean(page)
    shoot(page, "portal", "licensing.png", docs=True)
    page.get_by_role("link", name="Customer Co").click()
    page.wait_for_url(f"{base}/portal/licensing/customers/{ids['customer_id']}")

    def check(user_id: str) -> str:
        body = {"access_code": seeded.live_code, "user_id": user_id, "install_id": "install-1"}
        response = page.request.post(f"{base}/v1/licenses/check", data=body)
        assert response.status == 200
        return response.json()["payload"]["status"]

    assert check("bob@example.com") == "not_licensed"
    page.get_by_role("button", name="Add user").click()  # empty: the browser's required check
    page.get_by_label("User id").fill("Bob@Example.com")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_url(f"{base}/portal/licensing/customers/{ids['customer_id']}")
    expect(page.get_by_role("link", name="Bob@Example.com")).to_be_visible()
    assert check("bob@example.com") == "valid"
    _clean(page)
    shoot(page, "portal", "customer.png", docs=True)
    page.get_by_role("link", name="Bob@Example.com").click()
    page.get_by_role("button", name="Suspend").click()
    assert page.get_by_test_id("user-status").inner_text() == "suspended"
    assert check("bob@example.com") == "suspended"
    _clean(page)


def test_download_a_monthly_csv(portal, page):  # noqa: F811
    base, app = portal["url"], portal["app"]
    seed_licensing(app, portal["seeded"].partner_id)
    page.set_viewport_size({"width": 1200, "height": 900})
    _sign_in(page, base, portal["admin"])
    page.get_by_role("link", name="Reports").click()
    assert page.locator("svg.chart rect.bar").count() == 12
    _clean(page)
    shoot(page, "portal", "reports.png", docs=True)
    first = page.locator("a[download]").first
    month = re.search(r"CSV of (\d{4}-\d{2})", first.inner_text()).group(1)
    with page.expect_download() as info:
        first.click()
    download = info.value
    assert download.suggested_filename == f"usage-acme-{month}.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "anna@example.com" in text


def test_every_part_b_page_passes_axe(portal, page):  # noqa: F811
    base, app, seeded = portal["url"], portal["app"], portal["seeded"]
    catalogue = seed_catalogue(app, seeded.partner_id)
    licensing = seed_licensing(app, seeded.partner_id)
    member = make_user(app, "viewer@acme.example", "viewer", seeded.partner_id)
    page.set_viewport_size({"width": 1200, "height": 800})
    _sign_in(page, base, portal["admin"])
    pages = {
        "releases.png": "/portal/releases",
        "release.png": f"/portal/releases/{catalogue['release_id']}",
        "control-file.png": f"/portal/channels/{catalogue['channel_id']}/control-file",
        "": "/portal/channels/new",
        "licensed-user.png": f"/portal/licensing/users/{licensing['licensed_user_id']}",
        "reseller.png": f"/portal/licensing/resellers/{licensing['reseller_id']}",
        "licensing-settings.png": "/portal/licensing/settings",
        "team.png": "/portal/team",
        "team-member.png": f"/portal/team/users/{member.id}",
        "audit.png": "/portal/audit",
        "partner.png": f"/portal/partners/{seeded.partner_id}",
    }
    for shot, path in pages.items():
        page.goto(base + path)
        assert page.locator("h1").count() == 1
        assert page.locator("nav[aria-label=Breadcrumbs]").count() == 1, path
        _clean(page)
        if shot:
            shoot(page, "portal", shot, docs=shot in ("releases.png", "control-file.png", "team.png", "audit.png"))
    # validation messages from the readiness gate, linked from the error summary
    page.goto(f"{base}/portal/channels/{catalogue['channel_id']}/control-file")
    page.locator("#field-releases-0-rollout_percent").fill("150")
    page.get_by_role("button", name="Check with the readiness gate").click()
    expect(page.locator("#error-summary")).to_be_focused()  # once the deferred portal.js has run
    link = page.locator("#error-summary a").first
    target = link.get_attribute("href")
    assert target.startswith("#field-releases-0-")
    link.click()
    expect(page.locator(target)).to_be_focused()
    _clean(page)

    operator = portal["operator"]
    other = page.context.browser.new_context()
    op_page = other.new_page()
    op_page.set_viewport_size({"width": 1200, "height": 800})
    _sign_in(op_page, base, operator, code=pyotp.TOTP(operator.totp_secret).now())
    for shot, path in {
        "partners.png": "/portal/partners",
        "partner-operator.png": f"/portal/partners/{seeded.partner_id}",
        "operator-settings.png": "/portal/operator/settings",
        "audit-operator.png": "/portal/audit?action=brand.publish",
        "reports-operator.png": f"/portal/reports?partner_id={seeded.partner_id}",
    }.items():
        op_page.goto(base + path)
        _clean(op_page)
        shoot(op_page, "portal", shot, docs=shot == "partners.png")
    other.close()
