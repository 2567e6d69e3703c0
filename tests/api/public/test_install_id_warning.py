"""A poll without ``install_id`` is answered with a signed warning: staged releases need it.

The warning is part of the signed payload (so its ETag differs from a poll with an install id),
and the fast path answers it with the same bytes as the Flask route.
"""

from __future__ import annotations

import pytest

from app.api.public.answers import INSTALL_ID_MISSING
from app.upgrades.signing import verify_envelope
from tests.api.public.test_fast_upgrade import both
from tests.api.public.test_upgrade import Setup
from tests.upgrades.catalogue import control_file, upload_control_file

WITHOUT = "platform=windows-x64&version=5.1.0"
WITH = WITHOUT + "&install_id=install-1"


@pytest.fixture
def setup(app) -> Setup:
    setup = Setup(app)
    upload_control_file(setup.admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    return setup


def _payload(setup: Setup, query: str) -> dict:
    response = setup.client.get(f"/v1/upgrade/{setup.code}?{query}")
    assert response.status_code == 200, response.json
    return verify_envelope(response.json, setup.keys())


def test_a_poll_without_install_id_carries_a_signed_warning(setup):
    payload = _payload(setup, WITHOUT)
    assert payload["warnings"] == list(INSTALL_ID_MISSING)
    assert payload["warnings"][0].startswith("install_id_missing: ")
    assert payload["target"]["version"] == "5.2.0"  # the full rollout; 5.3.0 at 20 % is never offered
    assert "warnings" not in _payload(setup, WITH)
    for query in (WITHOUT, "platform=windows-x64&version=5.1.0&install_id="):
        assert _payload(setup, query)["warnings"] == list(INSTALL_ID_MISSING)


@pytest.mark.parametrize("query", [WITHOUT, WITH])
def test_fast_path_and_flask_answer_the_same_bytes(setup, query):
    fast, flask = both(setup.app, f"/v1/upgrade/{setup.code}", query)
    assert fast == flask and fast[0] == "200 OK"
    assert (b"install_id_missing" in fast[2]) is (query == WITHOUT)
