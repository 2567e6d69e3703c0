"""Admin API fixtures: callers holding an operator key or a partner's keys, built through the API.

Only the first operator key comes from the service (as ``flask operator create-key`` makes it);
partners, their keys and everything else are made with HTTP requests, as a partner would.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.db import session
from app.partners.services import create_api_key
from tests import factories

ADMIN = "/admin/v1"


@dataclass
class Caller:
    """A test client that sends one API key with every request."""

    client: FlaskClient
    key: str

    def _headers(self, etag: str | None, headers: dict | None) -> dict:
        out = {"Authorization": f"Bearer {self.key}", **(headers or {})}
        if etag is not None:
            out["If-Match"] = etag
        return out

    def get(self, path: str, **kw):
        return self.client.get(ADMIN + path, headers=self._headers(None, kw.pop("headers", None)), **kw)

    def post(self, path: str, json=None, *, etag: str | None = None, **kw):
        return self.client.post(ADMIN + path, json=json, headers=self._headers(etag, kw.pop("headers", None)), **kw)

    def patch(self, path: str, json=None, *, etag: str | None = None, **kw):
        return self.client.patch(ADMIN + path, json=json, headers=self._headers(etag, kw.pop("headers", None)), **kw)

    def put(self, path: str, json=None, *, etag: str | None = None, **kw):
        return self.client.put(ADMIN + path, json=json, headers=self._headers(etag, kw.pop("headers", None)), **kw)

    def delete(self, path: str, *, etag: str | None = None, **kw):
        return self.client.delete(ADMIN + path, headers=self._headers(etag, kw.pop("headers", None)), **kw)

    def upload(self, role: str, data: bytes, filename: str, content_type: str = "application/octet-stream", **form):
        from io import BytesIO

        body = {"role": role, "file": (BytesIO(data), filename, content_type), **form}
        return self.client.post(
            ADMIN + "/assets", data=body, content_type="multipart/form-data", headers=self._headers(None, None)
        )


@dataclass
class Partner:
    id: int
    admin: Caller
    viewer: Caller


def make_operator(app: Flask) -> Caller:
    """A caller with a fresh operator key (bootstrap, as the CLI does it)."""
    with app.app_context():
        _key, plain = create_api_key(session(), role="operator", actor="test:bootstrap")
        session().commit()
    return Caller(app.test_client(), plain)


def onboard(operator: Caller, slug: str, *, live: bool = True) -> Partner:
    """A partner (live unless told otherwise) with an admin key and a viewer key, made through the API."""
    response = operator.post("/partners", {"slug": slug, "name": slug.title()})
    assert response.status_code == 201, response.json
    partner_id = response.json["id"]
    if live:
        factories.make_live(operator.client.application, partner_id)
    keys = {}
    for role in ("admin", "viewer"):
        response = operator.post("/api-keys", {"role": role, "partner_id": partner_id, "label": f"{slug} {role}"})
        assert response.status_code == 201, response.json
        keys[role] = Caller(operator.client, response.json["key"])
    return Partner(partner_id, keys["admin"], keys["viewer"])


@pytest.fixture
def operator(app) -> Caller:
    return make_operator(app)


@pytest.fixture
def partner_a(operator) -> Partner:
    return onboard(operator, "alpha")


@pytest.fixture
def partner_b(operator) -> Partner:
    return onboard(operator, "bravo")
