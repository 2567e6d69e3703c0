"""``flask portal ...``: create users, invite, prune ended sessions, erase a user."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from app.db import session
from app.portal.models import PortalSession, PortalUser
from tests.portal.helpers import PortalBrowser, PortalUserInfo


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_create_invite_prune_and_erase(portal_app, partners, clock):
    out = json.loads(
        _run(portal_app, "portal", "create-user", "--email", "Ops@Livery.example", "--role", "operator", "--json")
    )
    operator = PortalUserInfo(0, out["email"], out["totp_secret"])
    PortalBrowser(portal_app).sign_in(operator, clock, password=out["password"])

    out = json.loads(
        _run(
            portal_app,
            "portal",
            "invite",
            "--email",
            "pm@acme.example",
            "--role",
            "admin",
            "--partner",
            "acme",
            "--json",
        )
    )
    path = out["link"].removeprefix("http://livery.test")
    assert PortalBrowser(portal_app).get(path).status_code == 200

    bad = portal_app.test_cli_runner().invoke(
        args=["portal", "create-user", "--email", "x@y.example", "--role", "admin"]
    )
    assert bad.exit_code != 0 and "--partner" in bad.output

    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    browser.post("/portal/sign-out", {}, page="/portal/")
    with portal_app.app_context():
        ended = session().scalar(select(func.count(PortalSession.id)).where(PortalSession.revoked_at.is_not(None)))
    assert ended >= 1
    clock.advance(days=31)
    portal_app.extensions["livery.portal.clock"] = clock
    with portal_app.app_context():
        from app.portal import sessions

        timeouts = sessions.Timeouts(timedelta(minutes=30), timedelta(hours=12))
        assert sessions.prune(session(), clock.now, timedelta(days=30), timeouts) >= ended
        session().commit()
    assert "deleted" in _run(portal_app, "portal", "prune-sessions")

    assert _run(portal_app, "portal", "erase-user", "--email", "admin@acme.example").strip() == "deleted"
    with portal_app.app_context():
        assert session().scalar(select(PortalUser).where(PortalUser.email == "admin@acme.example")) is None
