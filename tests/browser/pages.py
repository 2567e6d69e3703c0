"""What browser tests of pages share: the axe scan and screenshots.

Screenshots go to ``test-artifacts/<area>/`` (git-ignored); the few the docs show are also written
under ``docs/<area>/`` when ``LIVERY_UPDATE_DOC_SHOTS=1``, so a test run leaves git clean.
"""

from __future__ import annotations

import os

import pytest

from app.config import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"


def axe_serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each (empty: clean)."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover - pinned in requirements-dev
        pytest.skip("axe-playwright-python is not installed")
    results = Axe().run(page)
    violations = results.response["violations"]
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def shoot(page, area: str, name: str, *, docs: bool = False, full_page: bool = False) -> None:
    """A screenshot to test-artifacts/<area>/<name>; with ``docs``, also docs/<area>/ when asked to."""
    page.evaluate("window.scrollTo(0, 0)")  # the top of the page, whatever was focused last
    folder = ARTIFACTS / area
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=full_page)
    if docs and os.environ.get("LIVERY_UPDATE_DOC_SHOTS") == "1":
        from PIL import Image

        (REPO_ROOT / "docs" / area).mkdir(parents=True, exist_ok=True)
        # a 256-colour palette keeps the committed PNGs small
        with Image.open(folder / name) as shot:
            shot.convert("RGB").quantize(256).save(REPO_ROOT / "docs" / area / name, optimize=True)
