"""examples/partner_licensing_service.py: the documented recipe, verified by Livery's own suite."""

from __future__ import annotations

import importlib.util
import re
import threading

import pytest

from app.config import REPO_ROOT, Settings
from app.licensing.webservice import WebServiceMethod
from app.licensing.webservice.caller import PartnerCaller
from app.licensing.webservice.contract import WebServiceSettings
from app.licensing.webservice.verification import verify_web_service
from app.outbound.egress import EgressPolicy
from app.outbound.http import fetch
from app.outbound.signing import new_secret
from tests.licensing.webservice.conftest import ask

EXAMPLE = REPO_ROOT / "examples" / "partner_licensing_service.py"


def _example():
    spec = importlib.util.spec_from_file_location("partner_licensing_service", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def reference():
    old, new = new_secret(), new_secret()
    server = _example().make_server({"Alice@Example.com": "standard"}, [old, new])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/licences/{{user_id}}", new
    server.shutdown()
    server.server_close()


def test_the_documented_snippet_is_the_one_the_example_runs():
    doc = (REPO_ROOT / "docs" / "licensing-webservice.md").read_text()
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "verify_livery_request" in b)
    function = snippet[snippet.index("def verify_livery_request") :]
    assert function in EXAMPLE.read_text()


def test_the_reference_service_passes_go_live_verification(reference):
    _server, template, secret = reference
    settings = WebServiceSettings.from_mapping(1, {"url_template": template, "secrets": [secret]})
    report = verify_web_service(PartnerCaller(EgressPolicy(allow_private=True)), settings, "alice@example.com")
    assert report["passed"], report


def test_the_reference_service_answers_checks_and_refuses_unsigned_requests(reference):
    _server, template, secret = reference
    method = WebServiceMethod(Settings(egress_allow_private=True))
    verdict = ask(method, {"url_template": template, "secrets": [secret]})
    assert (verdict.status, verdict.licence_type) == ("valid", "standard")
    unsigned = fetch(EgressPolicy(allow_private=True), template.replace("{user_id}", "alice%40example.com"))
    assert unsigned.status == 401
    wrong = ask(method, {"url_template": template, "secrets": [new_secret()]}, "bob")
    assert (wrong.status, wrong.source["reason"]) == ("unavailable", "http_401")
