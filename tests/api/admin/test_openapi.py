"""The OpenAPI document is valid, documents every operation's errors, and /docs works offline."""

from __future__ import annotations

import html as html_module
import json
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
        assert url.startswith("/docs/"), url  # nothing from a CDN: works offline
        assert client.get(url).status_code == 200, url
    assert client.get("/docs/assets/../../wsgi.py").status_code == 404


def test_docs_runs_under_a_strict_content_security_policy(app):
    client = app.test_client()
    page = client.get("/docs")
    policy = dict(directive.strip().split(" ", 1) for directive in page.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no other origin
    assert policy["frame-ancestors"] == "'none'"
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert len(scripts) == 2
    for attributes, body in scripts:
        assert body.strip() == ""  # no inline script: the policy would block it
        src = re.search(r'src="([^"]+)"', attributes).group(1)
        assert src.startswith("/"), src  # same origin
        script = client.get(src)
        assert script.status_code == 200 and script.mimetype == "text/javascript", src
    started = client.get("/docs/explorer.js").get_data(as_text=True)
    assert "SwaggerUIBundle(config)" in started
    # the settings reach the script through the page's data attributes, JSON intact
    config = re.search(r'data-config="([^"]+)"', html).group(1)
    assert json.loads(html_module.unescape(config)) == {"persistAuthorization": True, "displayRequestDuration": True}
    assert 'data-spec-url="/openapi.json"' in html


def _body_schema(document: dict, response: dict) -> dict:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_answer_with_an_etag_documents_the_etag_header(app):
    document = spec(app)
    documented = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if status.startswith("2") and "etag" in _body_schema(document, response).get("properties", {}):
                    assert "ETag" in response.get("headers", {}), (method, path, status)
                    documented += 1
    assert documented >= 20


def test_the_etag_header_sent_is_the_one_in_the_body(operator, partner_a):
    admin = partner_a.admin
    brand = admin.post("/brands", {"name": "Main", "draft": {"product_name": "Alpha Connect"}})
    key = operator.post("/api-keys", {"role": "viewer", "partner_id": partner_a.id})
    code = admin.post(f"/brands/{brand.json['id']}/access-codes", {"kind": "live"})
    answers = [brand, admin.get(f"/brands/{brand.json['id']}"), key, code, admin.get(f"/partners/{partner_a.id}")]
    answers.append(admin.post(f"/brands/{brand.json['id']}/publish", etag=answers[1].headers["ETag"]))
    for response in answers:
        assert response.status_code in (200, 201), response.json
        assert response.headers["ETag"] == response.json["etag"], response.request.path
