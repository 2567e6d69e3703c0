"""The standard viewer and the demo brand's branded viewer in a real browser (docs/viewer.md)."""

from __future__ import annotations

import json
import os
import re

from app.config import REPO_ROOT
from tests.browser.pages import axe_serious

SHOTS = REPO_ROOT / "var" / "screenshots"
DOCS_SHOTS = REPO_ROOT / "docs" / "viewer"  # rewritten only with LIVERY_UPDATE_DOC_SHOTS=1: a test run leaves git clean


def _shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / name))
    if os.environ.get("LIVERY_UPDATE_DOC_SHOTS") == "1":
        page.screenshot(path=str(DOCS_SHOTS / name))


def test_standard_and_branded_viewer_in_a_browser(make_app, serve, page):
    app = make_app(standard_viewer_url="")
    runner = app.test_cli_runner()
    seeded = runner.invoke(args=["demo", "seed", "--json"], catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output
    assert runner.invoke(args=["viewer", "load-catalogue"], catch_exceptions=False).exit_code == 0
    base = serve(app)
    document = app.test_client().get(f"/v1/discovery/{json.loads(seeded.output)['live_code']}").get_json()
    branded_path = document["crm_viewer"]["url"].removeprefix("http://livery.test")
    assert branded_path.startswith("/viewer/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1000, "height": 720})

    page.goto(f"{base}/viewer")
    assert page.locator("h1").inner_text() == "Integrations"
    assert "Acme CRM Viewer" not in page.content()
    standard_bar = page.locator(".masthead").evaluate("e => getComputedStyle(e).backgroundColor")
    page.fill("#q", "zendesk")
    page.click("button[type=submit]")  # a plain GET form: no JavaScript involved
    assert page.locator(".card h2").all_inner_texts() == ["Zendesk Support"]
    page.goto(f"{base}/viewer")
    assert axe_serious(page) == []
    _shoot(page, "standard.png")

    page.goto(base + branded_path)
    assert page.locator(".brand-name").inner_text() == "Acme CRM Viewer"
    bar = page.locator(".masthead").evaluate("e => getComputedStyle(e).backgroundColor")
    assert bar == "rgb(11, 95, 255)" != standard_bar  # the demo brand's #0b5fff, on this page only
    assert page.locator(".brand-logo").count() == 1
    assert not re.search("livery", page.content(), re.IGNORECASE)
    assert axe_serious(page) == []
    _shoot(page, "branded.png")
