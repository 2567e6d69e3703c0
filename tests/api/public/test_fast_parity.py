"""Discovery and asset revalidation below Flask (fast.py) answer byte for byte as the Flask routes,
for every outcome the fast path takes on, and hostile paths are left to Flask."""

from __future__ import annotations

import pytest

from tests import factories
from tests.api.public.parity import both, declined

SHA = "ab" * 32


@pytest.fixture
def seeded(app) -> factories.Seeded:
    return factories.seed_ci_c(app)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_discovery_outcomes_are_identical(app, seeded, method):
    factories.revoke(app, seeded.test_code)
    ok = both(app, f"/v1/discovery/{seeded.live_code}", method=method)
    etag = dict(ok[1][1])["ETag"]
    cases = {
        "200": ok,
        "304": both(app, f"/v1/discovery/{seeded.live_code}", method=method, **{"If-None-Match": etag}),
        "404": both(app, "/v1/discovery/NOT-A-CODE", method=method),
        "410": both(app, f"/v1/discovery/{seeded.test_code}", method=method),
    }
    for outcome, (fast, flask) in cases.items():
        assert fast == flask, outcome
        assert fast[0].startswith(outcome), outcome


def test_every_brand_answers_as_flask_does_through_the_shared_template(app, seeded):
    """The fast path builds one pair of replies per route and fills in each answer's ETag,
    Content-Length and body: a second brand, with a longer document, answers as Flask does."""
    other = factories.make_brand(app, seeded.partner_id, product_name="Acme Connect for Teams and Everyone Else")
    first = both(app, f"/v1/discovery/{seeded.live_code}")
    second = both(app, f"/v1/discovery/{factories.issue(app, other, 'live')}")
    assert first[0] == first[1] and second[0] == second[1]
    (status_1, headers_1, body_1), (status_2, headers_2, body_2) = first[0], second[0]
    assert status_1.startswith("200") and status_2.startswith("200")
    assert body_1 != body_2
    assert dict(headers_1)["ETag"] != dict(headers_2)["ETag"]
    assert dict(headers_2)["Content-Length"] == str(len(body_2))
    etag = dict(headers_2)["ETag"]
    fast, flask = both(app, f"/v1/discovery/{factories.issue(app, other, 'live')}", **{"If-None-Match": etag})
    assert fast == flask and fast[0].startswith("304")


def test_asset_revalidation_is_identical(app):
    fast, flask = both(app, f"/v1/assets/{SHA}", **{"If-None-Match": f'"{SHA}"'})
    assert fast == flask
    assert fast[0].startswith("304")


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/assets/{SHA}%0A",  # a trailing LF must never reach a header (it did: a 500 under gunicorn)
        f"/v1/assets/{SHA.upper()}",
        f"/v1/assets/{SHA}/x",
        f"/v1/assets/{SHA[:-1]}",
    ],
)
def test_hostile_asset_paths_go_to_flask_and_answer_404(app, path):
    whole, flask = declined(app, path, "", **{"If-None-Match": "*"})
    assert whole == flask
    assert whole[0].startswith("404")
    assert all("\n" not in value for _name, value in whole[1])


@pytest.mark.parametrize("raw", ["a/b", "ÄBC", "x" * 65, "..%2F"])
def test_hostile_discovery_paths_go_to_flask(app, raw):
    whole, flask = declined(app, f"/v1/discovery/{raw}", "")
    assert whole == flask
    assert whole[0].startswith("404")


def test_a_trailing_newline_on_an_asset_digest_answers_404_through_http(app):
    response = app.test_client().get(f"/v1/assets/{SHA}%0A", headers={"If-None-Match": "*"})
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
