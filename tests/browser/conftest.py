"""Browser tests: Debian's Chromium driven by Playwright (never a Playwright-downloaded browser).

They skip, saying why, when Chromium is absent (.ci/run installs it). Screenshots go to
var/screenshots/ (git-ignored); the two the docs show are committed under docs/viewer/ and
rewritten only when LIVERY_UPDATE_DOC_SHOTS=1.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments, with Debian's Chromium."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture
def serve() -> Iterator:
    """``serve(app)`` answers with the base URL of ``app`` running on a loopback port in a thread."""
    servers = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
