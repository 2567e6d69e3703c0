"""The docs' walk-throughs run as written against a live Livery, so they stay true.

A walk-through block is a ```sh fence right after an ``<!-- walkthrough -->`` line. The blocks of
one page run in order as one bash script (``set -euo pipefail``: any failing command fails the
test) in a scratch folder, against gunicorn on a free loopback port and a fresh SQLite database,
with the documented placeholders (``LIVERY``, ``KEY``) set, ``.venv/bin`` first on PATH and the
same ``LIVERY_*`` settings as the server (so the page's ``flask`` commands reach its database).
Each page's lines shown as ``# → ...`` are what a reader expects: the key ones are checked here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import migrate
from app.config import REPO_ROOT
from app.db import session
from app.partners.models import Partner
from tests import services
from tests.e2e.conftest import start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MARK = "<!-- walkthrough -->"
_BLOCK = re.compile(re.escape(MARK) + r"\n```sh\n(.*?)\n```", re.S)
VENV_BIN = Path(sys.executable).parent
PAGE_SECONDS = 60  # the bound of a page's walk-through (licensing, billing, onboarding, viewer: ~20 s loaded)


def walkthrough(page: str) -> str:
    """The walk-through blocks of ``docs/<page>``, in order, as one script."""
    blocks = _BLOCK.findall((REPO_ROOT / "docs" / page).read_text())
    assert blocks, f"docs/{page} has no {MARK} blocks"
    return "\n".join(blocks)


def test_every_marker_is_followed_by_a_sh_block():
    for page in sorted((REPO_ROOT / "docs").glob("*.md")):
        text = page.read_text()
        assert text.count(MARK) == len(_BLOCK.findall(text)), f"{page.name}: a {MARK} not followed by ```sh"


@pytest.fixture
def livery(tmp_path):
    """(base URL, environment for the scripts) of a running gunicorn on a fresh SQLite database."""
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            pytest.skip(f"the walk-throughs need {tool}, which is not installed (apt-get install {tool})")
    port = services.free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {
        "LIVERY_DATABASE_URL": f"sqlite:///{tmp_path / 'walk.db'}",
        "LIVERY_PUBLIC_BASE_URL": base,
        "LIVERY_STATIC_BRANDS_DIR": str(tmp_path / "assets"),
        "LIVERY_CONTROL_FILES_DIR": str(tmp_path / "control_files"),
        "LIVERY_INSTALLERS_DIR": str(tmp_path / "installers"),
        "LIVERY_SIGNING_KEYS_DIR": str(tmp_path / "keys"),
        # upgrades.md § 8-11 and licensing.md § 4: a webhook receiver and a partner service on loopback;
        # scheduled passes run by the page itself
        "LIVERY_EGRESS_ALLOW_PRIVATE": "true",
        "LIVERY_SCHEDULER_SECONDS": "0",
        # the pages wait 1.1 s for "every worker within LIVERY_FRESHNESS_INTERVAL"; half the default
        # interval keeps that true when CI's other tests load the machine (a poll can lag a second)
        "LIVERY_FRESHNESS_INTERVAL": "0.5",
        # licensing.md § 4 expects the partner's example service to answer each call: under CI's load
        # (two test processes beside it) one call once took longer than the 2 s default and the page
        # showed "grace"; the outage of § 5 is a refused connection, which no timeout delays
        "LIVERY_LICENSING_CONNECT_TIMEOUT": "5",
        "LIVERY_LICENSING_TIMEOUT": "8",
        # billing.md: the page moves the server's clock through a month (no such file: the real time)
        "LIVERY_CLOCK_FILE": str(tmp_path / "clock"),
    }
    migrate.upgrade(settings["LIVERY_DATABASE_URL"])
    process = start_gunicorn(port, settings, stderr_path=tmp_path / "gunicorn.err", workers=2)
    work = tmp_path / "work"
    work.mkdir()
    # what the pages use from a checkout: .venv/bin/flask, the demo images, the example partner service
    (work / ".venv").symlink_to(VENV_BIN.parent)
    (work / "static_brands").symlink_to(REPO_ROOT / "static_brands")
    (work / "examples").symlink_to(REPO_ROOT / "examples")
    env = {
        **os.environ,
        **settings,
        "LIVERY": base,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),
        "HOME": str(tmp_path),
    }
    try:
        yield base, env, work
    finally:
        stop_gunicorn(process)


def _run(script: str, env: dict[str, str], cwd: Path, *, shows: tuple[str, ...], timeout: float = 240) -> str:
    """Run ``script``; it must exit 0 within ``timeout`` seconds and print each of ``shows``. Its output."""
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    for expected in shows:
        assert expected in result.stdout, f"{expected!r} not in the output:\n{result.stdout}"
    return result.stdout


def _partner_admin_key(database_url: str) -> str:
    """KEY of the upgrades walk-through: a live partner's admin key, as an operator hands it over."""
    from app import create_app
    from app.config import Settings
    from app.partners.services import create_api_key, create_partner, set_partner_status

    app = create_app(Settings.from_env({"LIVERY_DATABASE_URL": database_url}))
    try:
        with app.app_context():
            partner = create_partner(session(), slug="acme", name="Acme Communications", actor="operator")
            set_partner_status(session(), partner, "live", actor="operator")
            _row, key = create_api_key(session(), role="admin", actor="operator", partner=session().get(Partner, 1))
            session().commit()
        return key
    finally:
        app.extensions["livery.engine"].dispose()


def test_admin_api_walkthrough(livery):
    _base, env, work = livery
    shows = (
        '{"status":403,"code":"partner_not_live"}',
        '"ready":true',
        '"status":"live"',
        '"revision":1,"created":true',
        '"product":"Acme Connect CRM 2"',
        "304",
        '"revision":3,"created":true,"changed_fields":["product_name"]',
        '{"live_revision":3,"has_unpublished_changes":false,"product_name":"Acme Connect CRM"}',
        '{"revision":3,"name":"Acme Connect CRM"}',
        '{"number":3,"rollback_of":1}',
        '"channel":"beta"',
    )
    _run(walkthrough("admin-api.md"), env, work, shows=shows)


def test_upgrades_walkthrough(livery):
    _base, env, work = livery
    env = {**env, "KEY": _partner_admin_key(env["LIVERY_DATABASE_URL"])}
    shows = (
        '{"revision":1,"created":true}',
        '"reason":"not_configured"',
        '"file_name":"AcmeConnect-5.3.0-setup.msi"',
        '{"ready":false,"problems":[',
        '{"ready":true,"serial":1,"active_serial":null,"problems":[]}',
        "404",
        '{"serial":1,"rollback_of":null',
        '"enabled":true',
        '["k1","active"]',
        "200\n",
        "passive\toffered\t5.3.0",
        "answer-000.json: OK (key k1, serial 1)",
        "tampered.json: REFUSED (the signature does not match the payload)",
        "downloads/AcmeConnect-5.",  # 5.2.0, or 5.3.0 when the client's random install id is in its rollout
        "-setup.msi\n",
        '["none","halted"]',
        '{"halted":false}',
        '"releases":[{"version":"5.3.0","succeeded":100,"failed":0,"failure_percent":0',
        '"halted":true,"halted_by":"guard","halt_reason":"Automatic halt: 5.3.0 failed on ',  # 9 of 179 to 10 of 200
        'verified channel.halted {"by": "guard", "channel": "stable", "reason": "Automatic halt: 5.3.0 failed on ',
        '{"did":"advance","step":1}\n{"did":"advance","step":2}\n{"did":"pause","step":2}',
        '"pause_reason":"only 0 of the 5 successful installs this step needs"',
        '{"did":"advance","step":3}',
        "completed\nstarted\t1\nadvanced\t10\nadvanced\t50\npaused\t50\nresumed\t50\nadvanced\t100\ncompleted\t100\n",
        '["passive","5.3.0"]',
        "\n5\n",
    )
    _run(walkthrough("upgrades.md"), env, work, shows=shows)


def test_licensing_walkthrough(livery):
    _base, env, work = livery
    shows = (
        '{"licensed":true,"status":"valid","method":"portal","licence_type":"standard",'
        '"user_id":"demo.user@acme-communications.example"}',
        "signature OK, key k1 - lease until ",
        "200\n",
        '{"licensed":false,"status":"not_licensed","licence_type":null,"lease_until":true}',
        "LICENSED: valid\n  user          demo.user@acme-communications.example\n  licence type  standard\n"
        "  method        portal\n",
        "NOT LICENSED: not_licensed\n",
        "exit 8\n",
        '{"passed":true,"checks":[["tls",true],["known_user",true],["unknown_user",true],["odd_ids",true],'
        '["latency",true],["answer_shape",true]]}',
        '{"created":true,"changed_fields":["licensing_method"]}',
        '["web_service","valid","standard"]\n' * 4,
        '["web_service","not_licensed"]',
        '{"status":"valid","source":"partner"}',
        '["web_service","grace",true] under 3 s: true\n' * 6,
        "LICENSED: grace\n",
        "LICENSED: grace (stored lease, offline)\nwarning: running on the stored lease, the service is unavailable\n",
        "exit 5\n",
    )
    _run(walkthrough("licensing.md"), env, work, shows=shows, timeout=PAGE_SECONDS)


def test_onboarding_walkthrough(livery):
    _base, env, work = livery
    shows = (
        "ready: false\nbrand_published: No brand is published",
        '{"status":403,"code":"partner_not_live"}\n403\n',
        '{"status":409,"code":"partner_not_ready",'
        '"failing":["brand_published","licensing_configured","upgrade_channels","test_code_launched"]}',
        '{"preview":true,"product":"Globex Dial CRM","licensing":"portal"}',
        '{"ready":true,"checks":[["brand_published",true],["licensing_configured",true],["upgrade_channels",true],'
        '["signing_keys_published",true],["test_code_launched",true]]}',
        '{"id":1,"status":"live"}\n{"revision":1,"preview":false,"product":"Globex Dial CRM"}\n200\n',
        "partner.set_status\n",
    )
    _run(walkthrough("onboarding.md"), env, work, shows=shows, timeout=PAGE_SECONDS)


def test_billing_walkthrough(livery):
    _base, env, work = livery
    shows = (
        '{"user_id":"anna@acme.example","customer_id":1,"created_at":"2026-11-03T09:00:',
        '{"user_id":"bob@acme.example","customer_id":2}\n204\n{"user_id":"dave@acme.example"}\n',
        '{"provisional":false,"closed":null,"per_customer":{"1":1,"2":2}}',
        "anna@acme.example\tContoso\t2026-11-03T09:00:",
        "\t2026-11-20T08:30:",
        '{"version":1,"users":3,"closed_now":true,"csv_sha256":"',
        '{"version":1,"users":3,"closed_now":false,"csv_sha256":"',
        '"version": 1, "closed_now": false, "users": 3',
        '["web_service","valid"]\n["web_service","valid"]\n',
        '{"version":1,"users":2}\nIdempotent-Replayed: false\n{"version":1,"users":2}\nIdempotent-Replayed: true\n',
        '{"reported_not_seen":["yuri@acme-communications.example"],'
        '"seen_not_reported":["zoe@acme-communications.example"],"flagged":false}',
        "acme,portal,3,true,1,,\ndemo,web_service,2,false,,1,false\n",
    )
    output = _run(walkthrough("billing.md"), env, work, shows=shows, timeout=PAGE_SECONDS)
    # the closed CSV's sha256: stored by the close, then printed for the download and for the regeneration
    stored = re.search(r'"csv_sha256":"([0-9a-f]{64})"', output).group(1)
    assert output.count(f"\n{stored}\n") == 2, output


def test_viewer_walkthrough(livery):
    _base, env, work = livery
    shows = (
        "/viewer/acme-connect\n",
        '{"kind":"branded","name":"Acme CRM Viewer","url":true}',
        "standard.html: 0 brand name, 0 theme, 0 logo, 0 vendor, 1 Salesforce\n",
        "branded.html: 2 brand name, 1 theme, 1 logo, 0 vendor, 1 Salesforce\n",
        "  --primary: #0b5fff;\n  --accent: #ff7a00;\n",
        "304\n",
    )
    _run(walkthrough("viewer.md"), env, work, shows=shows, timeout=PAGE_SECONDS)
