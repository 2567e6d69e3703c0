"""Fixtures of the portal tests: an app with an injectable clock, and two partners with users."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests import factories
from tests.portal.helpers import Clock, PortalUserInfo, make_user


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """argon2id at test cost (the production profile takes 64 MiB and tens of ms per hash)."""
    from argon2 import PasswordHasher

    from app.portal import accounts

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", hasher.hash("livery-portal-no-such-user"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def portal_app(make_app, clock):
    app = make_app()
    app.extensions["livery.portal.clock"] = clock
    return app


@dataclass
class Partners:
    a: factories.Seeded
    b: factories.Seeded
    admin_a: PortalUserInfo
    viewer_a: PortalUserInfo
    admin_b: PortalUserInfo
    operator: PortalUserInfo


@pytest.fixture
def partners(portal_app) -> Partners:
    """Partners A and B (each a published CI-C brand with codes), their users, and an operator."""
    return make_partners(portal_app)


def make_partners(portal_app) -> Partners:
    """What the ``partners`` fixture makes, on any app."""
    a = factories.seed_ci_c(portal_app, "acme")
    b = factories.seed_ci_c(portal_app, "bravo")
    return Partners(
        a,
        b,
        make_user(portal_app, "admin@acme.example", "admin", a.partner_id),
        make_user(portal_app, "viewer@acme.example", "viewer", a.partner_id),
        make_user(portal_app, "admin@bravo.example", "admin", b.partner_id),
        make_user(portal_app, "operator@livery.example", "operator"),
    )
