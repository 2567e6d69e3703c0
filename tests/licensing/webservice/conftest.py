from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.licensing.methods import CheckRequest
from app.licensing.webservice import WebServiceMethod
from app.outbound.signing import new_secret
from tests.licensing.webservice.fake_partner import FakePartner

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def partner():
    server = FakePartner({"alice@example.com": "standard"}).start()
    yield server
    server.stop()


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
def settings(partner, secret) -> dict:
    return {"url_template": partner.url_template, "secrets": [{"id": "s1", "secret": secret}]}


@pytest.fixture
def method() -> WebServiceMethod:
    return WebServiceMethod(Settings(egress_allow_private=True, licensing_breaker_failures=3))


def ask(method: WebServiceMethod, settings: dict, user_id: str = "alice@example.com", *, at: float = 0):
    """The method's verdict for ``user_id``, ``at`` seconds after T0 (the injected clock)."""
    request = CheckRequest(partner_id=7, user_id=user_id, proof=None, now=T0 + timedelta(seconds=at))
    return method.check(request, settings)
