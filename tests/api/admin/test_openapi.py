"""The OpenAPI document is valid, documents every operation's errors, and /docs works offline."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

ERRORS_OF_WRITES = {"401", "412", "428"}
# resources whose writes all take If-Match (releases and channels document their own rules)
IF_MATCH_RESOURCES = ("partners", "api-keys", "brands", "access-codes", "settings")


def spec(app) -> dict:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.json


def test_spec_is_valid_openapi_3(app):
    document = spec(app)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An operator or partner API key.",
    }
    assert document["security"] == [{"bearerAuth": []}]


def test_every_admin_operation_documents_its_errors_as_problems(app):
    document = spec(app)
    problem = document["components"]["responses"]["NOT_FOUND"]["content"]
    assert list(problem) == ["application/problem+json"]
    operations = 0
    for path, item in document["paths"].items():
        if not path.startswith("/admin/v1/"):
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            operations += 1
            responses = set(operation["responses"])
            assert operation.get("summary"), (method, path)
            assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            resource = path.split("/")[3]
            is_write = method in {"patch", "put", "delete"} or path.endswith(
                ("/publish", "/rollback", "/revoke", "/rotate")
            )
            if resource in IF_MATCH_RESOURCES and is_write:
                assert responses >= ERRORS_OF_WRITES, (method, path)
                headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
                assert headers == ["If-Match"], (method, path)
            if "requestBody" in operation:
                assert "422" in responses, (method, path)
    assert operations >= 25


def test_docs_is_the_explorer_with_local_assets_that_load(app):
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for url in assets:
        assert url.startswith("/docs/assets/"), url  # nothing from a CDN: works offline
        assert client.get(url).status_code == 200, url
    assert client.get("/docs/assets/../../wsgi.py").status_code == 404
