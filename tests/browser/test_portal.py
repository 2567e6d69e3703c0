"""The web portal's main journeys in Debian's Chromium, with an axe scan of every page (docs/portal.md).

Screenshots: test-artifacts/portal/ (git-ignored); docs/portal/ with LIVERY_UPDATE_DOC_SHOTS=1.
"""

from __future__ import annotations

import hashlib
import re

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.branding.models import AccessCode, Brand
from app.db import session
from tests import factories, images
from tests.browser.pages import axe_serious, shoot
from tests.portal.helpers import PASSWORD, make_user

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def portal(make_app, serve, monkeypatch):
    """A served app (plain-http loopback cookie rules) with a seeded CI-C partner and its users."""
    from argon2 import PasswordHasher

    from app.portal import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("x"))
    app = make_app(public_base_url="http://127.0.0.1:8000")
    seeded = factories.seed_ci_c(app, "acme")
    admin = make_user(app, "admin@acme.example", "admin", seeded.partner_id)
    operator = make_user(app, "operator@livery.example", "operator")
    return {"app": app, "url": serve(app), "seeded": seeded, "admin": admin, "operator": operator}


def _sign_in(page, base: str, user, *, code: str | None = None) -> None:
    page.goto(f"{base}/portal/")
    assert page.url.startswith(f"{base}/portal/sign-in")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if code is not None:
        page.get_by_label("Code").fill(code)
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/portal/")


def _clean(page) -> None:
    assert axe_serious(page) == [], page.url


def test_sign_in_with_totp(portal, page):
    base, operator = portal["url"], portal["operator"]
    page.set_viewport_size({"width": 1200, "height": 800})
    page.goto(f"{base}/portal/sign-in")
    _clean(page)
    shoot(page, "portal", "sign-in.png", docs=True)
    page.get_by_label("Email").fill(operator.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/portal/sign-in/code.*"))
    _clean(page)
    page.get_by_label("Code").fill("123456")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#error-summary")).to_be_visible()
    # focus moves to the summary once the deferred portal.js has run (the field's autofocus must not win)
    expect(page.locator("#error-summary")).to_be_focused()
    page.get_by_label("Code").fill(pyotp.TOTP(operator.totp_secret).now())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/portal/")
    assert page.locator("h1").inner_text() == "Home"
    _clean(page)
    shoot(page, "portal", "home.png", docs=True)
    page.goto(f"{base}/portal/account")
    _clean(page)


def test_edit_preview_save_review_publish(portal, page):
    base, app, seeded = portal["url"], portal["app"], portal["seeded"]
    page.set_viewport_size({"width": 1400, "height": 1000})
    _sign_in(page, base, portal["admin"])
    page.goto(f"{base}/portal/brands")
    _clean(page)
    page.goto(f"{base}/portal/brands/{seeded.brand_id}")
    _clean(page)
    assert page.get_by_test_id("title").inner_text() == "Acme Connect"

    # the preview follows typing, without saving
    page.get_by_label("Product name").fill("Acme Connect Pro")
    page.get_by_test_id("tooltip").filter(has_text="Acme Connect Pro").wait_for()
    assert page.get_by_test_id("title").inner_text() == "Acme Connect Pro"
    with app.app_context():
        assert session().get(Brand, seeded.brand_id).draft["product_name"] == "Acme Connect"  # nothing saved
    page.get_by_label("Primary colour").fill("#ffff00")  # yellow: poor contrast with white and the accent
    page.locator(".contrast-warning").first.wait_for()
    page.get_by_label("Primary colour").fill("#112233")
    page.get_by_label("Accent colour").fill("#ffcc00")
    page.locator(".contrast-warning").first.wait_for(state="detached")
    _clean(page)
    shoot(page, "portal", "brand-editor.png", docs=True)

    # a new splash: "Preview" uploads it (nothing saved yet), "Save draft" keeps it
    page.get_by_label("Splash image (.png)", exact=True).set_input_files(
        files=[{"name": "splash-2027.png", "mimeType": "image/png", "buffer": images.png(800, 450)}]
    )
    page.get_by_role("button", name="Preview", exact=True).click()
    page.locator('.splash-frame img[width="800"][height="450"]').wait_for()
    assert page.get_by_label("Product name").input_value() == "Acme Connect Pro"  # typed values kept
    with app.app_context():
        assert session().get(Brand, seeded.brand_id).draft["product_name"] == "Acme Connect"

    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()
    with app.app_context():
        assert session().get(Brand, seeded.brand_id).draft["product_name"] == "Acme Connect Pro"

    page.get_by_role("link", name="Review and publish").first.click()
    row = page.locator("table.diff tr", has_text="Product name")
    assert "Acme Connect" in row.locator("td.old").inner_text()
    assert "Acme Connect Pro" in row.locator("td.new").inner_text()
    assert page.get_by_test_id("live-codes").inner_text() == "1"
    _clean(page)
    shoot(page, "portal", "review.png", docs=True)
    page.get_by_role("button", name="Publish").click()  # no comment: refused, the browser says why
    assert page.get_by_label("Comment").evaluate("e => !e.validity.valid")
    page.get_by_label("Comment").fill("New product name for the 2027 range")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published revision 2").wait_for()
    assert "New product name for the 2027 range" in page.locator("#history").inner_text()

    document = app.test_client().get(f"/v1/discovery/{seeded.live_code}").get_json()
    assert document["product"]["name"] == "Acme Connect Pro"
    assert document["revision"] == 2
    assert document["assets"]["splash"]["sha256"] == hashlib.sha256(images.png(800, 450)).hexdigest()


def test_a_stale_edit_gets_the_conflict_view(portal, browser):
    base, app, seeded = portal["url"], portal["app"], portal["seeded"]
    first, second = browser.new_context(), browser.new_context()
    alice, bob = first.new_page(), second.new_page()
    for page in (alice, bob):
        page.set_viewport_size({"width": 1400, "height": 1000})
        _sign_in(page, base, portal["admin"])
        page.goto(f"{base}/portal/brands/{seeded.brand_id}")

    alice.get_by_label("Short name").fill("Acme A")
    alice.get_by_role("button", name="Save draft").click()
    alice.get_by_text("Draft saved.").wait_for()

    bob.get_by_label("Short name").fill("Acme B")
    bob.get_by_label("Publisher").fill("Bob's publisher")
    bob.get_by_role("button", name="Save draft").click()
    bob.locator("#conflict-summary").wait_for()
    assert "Acme A" in bob.locator("#conflict-short_name").inner_text()  # what changed meanwhile
    assert bob.get_by_label("Short name").input_value() == "Acme B"  # next to Bob's input, kept
    with app.app_context():
        draft = session().get(Brand, seeded.brand_id).draft
        assert (draft["short_name"], draft["publisher"]) == ("Acme A", "Acme Ltd")  # nothing overwritten
    assert axe_serious(bob) == []
    shoot(bob, "portal", "conflict.png", docs=True)
    bob.get_by_role("button", name="Save draft").click()  # a deliberate second save wins
    bob.get_by_text("Draft saved.").wait_for()
    with app.app_context():
        assert session().get(Brand, seeded.brand_id).draft["short_name"] == "Acme B"
    first.close()
    second.close()


def test_issue_and_revoke_a_code(portal, page):
    base, app = portal["url"], portal["app"]
    page.set_viewport_size({"width": 1200, "height": 900})
    _sign_in(page, base, portal["admin"])
    page.goto(f"{base}/portal/codes")
    _clean(page)
    shoot(page, "portal", "codes.png", docs=True)
    page.get_by_label("Label").fill("Browser test build")
    page.get_by_role("button", name="Issue code").click()
    plain = page.get_by_test_id("new-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){4}", plain)
    _clean(page)
    shoot(page, "portal", "code-issued.png", docs=True)
    client = app.test_client()
    assert client.get(f"/v1/discovery/{plain}").status_code == 200

    page.get_by_role("link", name="Open this code's page").click()
    _clean(page)
    code_page = page.url
    page.goto(f"{code_page}/revoke")  # the confirmation page browsers without JavaScript get
    _clean(page)
    page.goto(code_page)
    page.get_by_role("link", name="Revoke…").focus()
    page.keyboard.press("Enter")  # opens the dialog (keyboard only)
    dialog = page.locator("#revoke-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    _clean(page)
    shoot(page, "portal", "code-revoke.png", docs=True)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name="Revoke…").click()
    dialog.get_by_role("button", name="Revoke code").click()
    page.get_by_text("is revoked").wait_for()
    assert page.get_by_test_id("code-status").inner_text() == "revoked"
    assert client.get(f"/v1/discovery/{plain}").status_code == 410
    with app.app_context():
        assert session().scalar(select(AccessCode.status).where(AccessCode.label == "Browser test build")) == "revoked"


def test_revoke_without_javascript_uses_a_confirmation_page(portal, browser):
    base, app, seeded = portal["url"], portal["app"], portal["seeded"]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, base, portal["admin"])
    with app.app_context():
        code_id = session().scalar(
            select(AccessCode.id).where(AccessCode.brand_id == seeded.brand_id, AccessCode.kind == "test")
        )
    page.goto(f"{base}/portal/codes/{code_id}")
    page.get_by_role("link", name="Revoke…").click()
    page.wait_for_url(f"{base}/portal/codes/{code_id}/revoke")  # (axe needs JavaScript: scanned above)
    page.get_by_role("button", name="Revoke code").click()
    assert page.get_by_test_id("code-status").inner_text() == "revoked"
    context.close()


def test_invitation_and_second_factor_set_up(portal, page):
    from datetime import timedelta

    from app.db import utcnow
    from app.portal import accounts

    base, app, seeded = portal["url"], portal["app"], portal["seeded"]
    with app.app_context():
        accounts.set_partner_policy(session(), seeded.partner_id, require_totp=True, actor="test")
        _row, token = accounts.invite(
            session(),
            email="new.pm@acme.example",
            role="admin",
            actor="test",
            now=utcnow(),
            valid_for=timedelta(hours=1),
            partner_id=seeded.partner_id,
        )
        session().commit()
    page.set_viewport_size({"width": 1200, "height": 800})
    page.goto(f"{base}/portal/invitations/{token}")
    _clean(page)
    page.locator("#field-password").fill("a long new password")
    page.locator("#field-password_again").fill("a long new password")
    page.get_by_role("button", name="Join").click()
    page.wait_for_url(re.compile(r".*/portal/sign-in/setup-code.*"))  # the partner requires a second factor
    _clean(page)
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    assert page.locator("#recovery-codes li").count() == 10
    _clean(page)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(f"{base}/portal/")
    page.goto(f"{base}/portal/invitations/{token}")
    assert "used" in page.content() or "expired" in page.content()  # single use
