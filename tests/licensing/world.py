"""A partner set up for licence checks through the admin API: a brand, a live code, a customer."""

from __future__ import annotations

from flask import Flask

from tests import factories
from tests.api.admin.conftest import make_operator, onboard

CHECK = "/v1/licenses/check"


class LicensingWorld:
    """One live partner with a published brand (``method``), a live code and one customer."""

    def __init__(self, app: Flask, slug: str = "acme", method: str = "portal", operator=None) -> None:
        self.app = app
        self.client = app.test_client()
        self.operator = operator or make_operator(app)
        self.partner = onboard(self.operator, slug)
        self.admin = self.partner.admin
        self.brand_id = factories.make_brand(app, self.partner.id, product_name="Acme", licensing_method=method)
        self.code = factories.issue(app, self.brand_id, "live")
        self.customer = self.customer_with()

    def customer_with(self, **fields) -> dict:
        response = self.admin.post("/customers", {"name": f"Customer {fields}", **fields})
        assert response.status_code == 201, response.json
        return response.json

    def license(self, user_id: str, **fields) -> dict:
        response = self.admin.post(
            "/licensed-users", {"user_id": user_id, "customer_id": self.customer["id"], **fields}
        )
        assert response.status_code == 201, response.json
        return response.json

    def check(self, user_id: str = "anna@example.com", **fields):
        body = {"access_code": self.code, "user_id": user_id, "install_id": "install-1", **fields}
        return self.client.post(CHECK, json=body)

    def payload(self, user_id: str = "anna@example.com", **fields) -> dict:
        response = self.check(user_id, **fields)
        assert response.status_code == 200, response.json
        return response.json["payload"]

    def keys(self) -> dict[str, str]:
        return {k["key_id"]: k["public_key"] for k in self.client.get("/v1/keys").json["keys"]}
