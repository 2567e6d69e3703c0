from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.licensing.methods import CheckRequest
from app.licensing.webservice import WebServiceMethod
from app.licensing.webservice.contract import WebServiceSettings
from app.outbound.signing import new_secret
from tests.api.admin.conftest import make_operator
from tests.conftest import DATABASES
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


@pytest.fixture(params=DATABASES)
def verify_app(request, make_app):
    return make_app(db=request.param, egress_allow_private=True)


@pytest.fixture
def operator(verify_app):
    return make_operator(verify_app)


@pytest.fixture
def configure(monkeypatch):
    """Give partners web-service settings (as the licensing settings PUT stores them)."""
    stored: dict[int, WebServiceSettings] = {}
    monkeypatch.setattr(
        "app.api.admin.licensing_verify.configured_web_service", lambda _session, partner_id: stored.get(partner_id)
    )

    def configure_partner(partner_id: int, url_template: str) -> None:
        stored[partner_id] = WebServiceSettings.from_mapping(
            partner_id, {"url_template": url_template, "secrets": [new_secret()]}
        )

    return configure_partner
