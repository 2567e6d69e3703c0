"""SCIM 2.0 /scim/v2 as an identity provider uses it, on SQLite and PostgreSQL: create, filter,
read, PATCH active, replace, delete, 409 uniqueness, discovery documents, errors in SCIM's JSON,
partner keys only, and users landing in the same licensed users that checks answer from."""

from __future__ import annotations

import pytest

from app.api.scim.protocol import ERROR, EXTENSION, LIST_RESPONSE, USER_SCHEMA
from tests.licensing.world import LicensingWorld

SCIM = "/scim/v2"


class Idp:
    """An identity provider holding a partner's admin key."""

    def __init__(self, world: LicensingWorld, key: str) -> None:
        self.client = world.client
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}

    def __getattr__(self, method: str):
        def call(path: str, json=None, headers=None):
            return getattr(self.client, method)(SCIM + path, json=json, headers={**self.headers, **(headers or {})})

        return call


@pytest.fixture
def world(db_app) -> LicensingWorld:
    return LicensingWorld(db_app)


@pytest.fixture
def idp(world) -> Idp:
    return Idp(world, world.admin.key)


def _user(name: str = "Anna@Example.com", **extra) -> dict:
    return {"schemas": [USER_SCHEMA], "userName": name, "active": True, "externalId": "idp-1", **extra}


def test_create_then_check_then_deactivate_then_delete(world, idp):
    created = idp.post("/Users", _user())
    assert created.status_code == 201, created.json
    assert created.mimetype == "application/scim+json"
    user = created.json
    assert user["userName"] == "Anna@Example.com" and user["active"] is True and user["externalId"] == "idp-1"
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert user[EXTENSION]["licenceType"] == "standard"
    assert world.payload("anna@example.com")["status"] == "valid"  # the same licensed users
    in_admin = world.admin.get("/licensed-users?user_id=anna").json["items"]
    assert [u["id"] for u in in_admin] == [int(user["id"])]

    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}  # fmt: skip
    patched = idp.patch(f"/Users/{user['id']}", patch)
    assert patched.status_code == 200 and patched.json["active"] is False
    assert world.payload("anna@example.com")["status"] == "suspended"
    reactivated = idp.patch(f"/Users/{user['id']}", {"Operations": [{"op": "replace", "value": {"active": True}}]})
    assert reactivated.json["active"] is True

    assert idp.delete(f"/Users/{user['id']}").status_code == 204
    assert idp.get(f"/Users/{user['id']}").status_code == 404
    assert world.payload("anna@example.com")["status"] == "not_licensed"


def test_filter_by_user_name_is_exact_by_the_matching_rule(idp):
    idp.post("/Users", _user("anna@example.com"))
    idp.post("/Users", _user("annabel@example.com", externalId="idp-2"))
    found = idp.get('/Users?filter=userName eq "ANNA@example.com"').json
    assert found["schemas"] == [LIST_RESPONSE] and found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == "anna@example.com"
    assert idp.get('/Users?filter=userName eq "nobody"').json["totalResults"] == 0
    assert idp.get('/Users?filter=externalId eq "idp-2"').json["Resources"][0]["userName"] == "annabel@example.com"
    everyone = idp.get("/Users?startIndex=2&count=5").json
    assert everyone["totalResults"] == 2 and everyone["startIndex"] == 2 and len(everyone["Resources"]) == 1
    bad = idp.get('/Users?filter=displayName co "x"')
    assert bad.status_code == 400 and bad.json["scimType"] == "invalidFilter" and bad.json["schemas"] == [ERROR]


def test_a_second_create_of_the_same_user_name_is_409_uniqueness(idp):
    assert idp.post("/Users", _user("anna@example.com")).status_code == 201
    again = idp.post("/Users", _user(" ANNA@example.com "))
    assert again.status_code == 409
    assert again.json == {"schemas": [ERROR], "status": "409", "scimType": "uniqueness", "detail": again.json["detail"]}


def test_put_replaces_and_if_match_guards(world, idp):
    user = idp.post("/Users", _user("anna@example.com")).json
    customer = world.customer_with()
    replaced = idp.put(
        f"/Users/{user['id']}",
        _user("anna.b@example.com", active=False, **{EXTENSION: {"customerId": str(customer["id"])}}),
    )
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["userName"] == "anna.b@example.com" and replaced.json["active"] is False
    assert replaced.json[EXTENSION]["customerId"] == str(customer["id"])
    stale = idp.put(f"/Users/{user['id']}", _user("x@example.com"), headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412


def test_bad_input_is_a_scim_error_never_problem_json(idp, world):
    cases = [
        idp.post("/Users", {"schemas": [USER_SCHEMA]}),
        idp.post("/Users", _user("an\x00na")),
        idp.post("/Users", _user(**{EXTENSION: {"licenceType": "platinum"}})),
        idp.patch("/Users/999999", {"Operations": [{"op": "replace", "path": "active", "value": False}]}),
        idp.get("/Users/not-a-number"),
    ]
    assert [r.status_code for r in cases] == [400, 400, 400, 404, 404]
    for response in cases:
        assert response.mimetype == "application/scim+json" and response.json["schemas"] == [ERROR]
    garbage = world.client.post(SCIM + "/Users", data=b"{", headers=idp.headers)
    assert garbage.status_code == 400 and garbage.json["scimType"] == "invalidSyntax"
    user = idp.post("/Users", _user()).json
    bad_op = idp.patch(f"/Users/{user['id']}", {"Operations": [{"op": "remove", "path": "active"}]})
    assert bad_op.status_code == 400


def test_only_a_partners_own_keys_and_only_its_users(world, idp):
    user = idp.post("/Users", _user()).json
    other = LicensingWorld(world.app, "bravo", operator=world.operator)
    other_idp = Idp(other, other.admin.key)
    assert other_idp.get(f"/Users/{user['id']}").status_code == 404
    assert other_idp.delete(f"/Users/{user['id']}").status_code == 404
    assert other_idp.get('/Users?filter=userName eq "anna@example.com"').json["totalResults"] == 0
    assert other_idp.post("/Users", _user()).status_code == 201  # its own anna
    assert Idp(world, "nope").get("/Users").status_code == 401
    assert Idp(world, world.operator.key).get("/Users").status_code == 403
    viewer = Idp(world, world.partner.viewer.key)
    assert viewer.get("/Users").status_code == 200
    assert viewer.post("/Users", _user("v@example.com")).status_code == 403


def test_discovery_documents(idp):
    config = idp.get("/ServiceProviderConfig").json
    assert config["patch"]["supported"] is True and config["filter"]["supported"] is True
    assert config["bulk"]["supported"] is False
    types = idp.get("/ResourceTypes").json
    assert types["Resources"][0]["endpoint"] == "/Users"
    ids = [s["id"] for s in idp.get("/Schemas").json["Resources"]]
    assert ids == [USER_SCHEMA, EXTENSION]
