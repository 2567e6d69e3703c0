"""GET /v1/discovery/{code}: the document, its ETag and every way a code can be refused."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from app.branding.codes import ALPHABET, check_symbol
from tests import factories, images


def discovery(client, code: str, **headers):
    return client.get(f"/v1/discovery/{code}", headers=headers)


def test_live_code_sees_published_document_on_every_backend(backend_app):
    seeded = factories.seed_ci_c(backend_app)
    client = backend_app.test_client()

    response = discovery(client, seeded.live_code)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["revision"] == 1
    assert doc["product"] == {
        "name": "Acme Connect",
        "short_name": "Acme",
        "publisher": "Acme Ltd",
        "install_folder": "Partner CRM",
        "support_url": None,
        "eula_url": None,
    }
    assert doc["branding_level"] == "CI-C"
    assert doc["part_number"] == "BRAND-CIC-MBX0CL"
    assert doc["crm_viewer"]["kind"] == "branded"
    assert doc["crm_viewer"]["name"] == "Acme Viewer"
    # every asset the document names downloads with exactly the advertised bytes
    for role in ("tray_icon", "app_icon_windows", "app_icon_macos", "splash"):
        asset = doc["assets"][role]
        fetched = client.get(asset["url"].removeprefix("http://livery.test"))
        assert fetched.status_code == 200, role
        assert hashlib.sha256(fetched.data).hexdigest() == asset["sha256"]
        assert len(fetched.data) == asset["bytes"]
        assert fetched.mimetype == asset["media_type"]
    assert doc["assets"]["splash"]["display_seconds"] == 3


def test_body_is_byte_identical_and_etag_strong_and_derived_from_body(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()

    first, second = discovery(client, seeded.live_code), discovery(client, seeded.live_code)

    assert first.data == second.data
    etag = first.headers["ETag"]
    assert etag == second.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert etag.strip('"') == hashlib.sha256(first.data).hexdigest()[:32]
    assert "checked_at" not in first.get_json()


def test_cache_control_forces_revalidation(app):
    seeded = factories.seed_ci_c(app)
    response = discovery(app.test_client(), seeded.live_code)
    directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert {"public", "max-age=0", "must-revalidate"} <= directives
    assert "s-maxage=1" in directives


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("{etag}", id="exact"),
        pytest.param("W/{etag}", id="weak-form"),
        pytest.param('"aaaa", {etag}, "bbbb"', id="list"),
        pytest.param('W/"zzz",W/{etag}', id="weak-list-no-spaces"),
        pytest.param("*", id="star"),
    ],
)
def test_if_none_match_answers_304(app, header):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    etag = discovery(client, seeded.live_code).headers["ETag"]

    response = discovery(client, seeded.live_code, **{"If-None-Match": header.format(etag=etag)})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert "must-revalidate" in response.headers["Cache-Control"]


@pytest.mark.parametrize("header", ['"something-else"', 'W/"0000"', '"aaaa", "bbbb"'])
def test_if_none_match_with_other_tags_answers_200(app, header):
    seeded = factories.seed_ci_c(app)
    response = discovery(app.test_client(), seeded.live_code, **{"If-None-Match": header})
    assert response.status_code == 200
    assert response.get_json()["product"]["name"] == "Acme Connect"


def test_head_gives_headers_without_body(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    get = discovery(client, seeded.live_code)

    head = client.head(f"/v1/discovery/{seeded.live_code}")

    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert int(head.headers["Content-Length"]) == len(get.data)


def test_code_is_read_case_and_hyphen_insensitively(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    canonical = discovery(client, seeded.live_code)
    for variant in (
        seeded.live_code.lower(),
        seeded.live_code.replace("-", ""),
        seeded.live_code.replace("-", "").lower(),
    ):
        response = discovery(client, variant)
        assert response.status_code == 200
        assert response.data == canonical.data


class TestEtagChangesExactlyWhenTheDocumentDoes:
    def test_publishing_an_identical_draft_keeps_revision_and_etag(self, app):
        seeded = factories.seed_ci_c(app)
        client = app.test_client()
        before = discovery(client, seeded.live_code)

        number, created = factories.publish(app, seeded.brand_id)

        assert (number, created) == (1, False)
        after = discovery(client, seeded.live_code)
        assert after.headers["ETag"] == before.headers["ETag"]
        assert after.data == before.data

    def test_unrelated_changes_keep_the_etag(self, app):
        seeded = factories.seed_ci_c(app)
        client = app.test_client()
        before = discovery(client, seeded.live_code).headers["ETag"]

        factories.edit(app, seeded.brand_id, product_name="Draft only")  # live codes see no draft
        factories.issue(app, seeded.brand_id, "live")
        factories.make_brand(app, seeded.partner_id, product_name="Another brand")

        assert discovery(client, seeded.live_code).headers["ETag"] == before

    @pytest.mark.parametrize(
        ("change", "check"),
        [
            pytest.param(
                {"product_name": "Acme Connect Pro"},
                lambda d: d["product"]["name"] == "Acme Connect Pro",
                id="product-name",
            ),
            pytest.param(
                {"branding_level": "CI-B", "viewer_name": None, "viewer_logo": None, "viewer_primary_color": None},
                lambda d: d["branding_level"] == "CI-B" and d["part_number"] == "BRAND-CIB-MBX0BL",
                id="level",
            ),
            pytest.param(
                {"viewer_url": "https://crm.acme.example/viewer"},
                lambda d: d["crm_viewer"]["url"] == "https://crm.acme.example/viewer",
                id="viewer",
            ),
        ],
    )
    def test_a_published_change_changes_the_etag(self, app, change, check):
        seeded = factories.seed_ci_c(app)
        client = app.test_client()
        before = discovery(client, seeded.live_code)

        factories.edit(app, seeded.brand_id, **change)
        factories.publish(app, seeded.brand_id)

        after = discovery(client, seeded.live_code)
        assert after.headers["ETag"] != before.headers["ETag"]
        assert check(after.get_json())
        assert after.get_json()["revision"] == 2
        assert discovery(client, seeded.live_code, **{"If-None-Match": before.headers["ETag"]}).status_code == 200

    def test_a_new_icon_changes_the_etag(self, app):
        seeded = factories.seed_ci_c(app)
        client = app.test_client()
        before = discovery(client, seeded.live_code)
        new_icon = factories.upload(app, seeded.partner_id, "tray_icon", images.ico(32, color=(1, 2, 3, 255)))

        factories.edit(app, seeded.brand_id, tray_icon=new_icon)
        factories.publish(app, seeded.brand_id)

        after = discovery(client, seeded.live_code)
        assert after.headers["ETag"] != before.headers["ETag"]
        assert after.get_json()["assets"]["tray_icon"]["sha256"] == new_icon


def test_ci_b_brand_gets_the_standard_viewer_from_operator_configuration(make_app):
    app = make_app(standard_viewer_url="https://viewer.operator.example/std")
    partner_id = factories.make_partner(app)
    brand_id = factories.make_brand(app, partner_id, branding_level="CI-B")
    code = factories.issue(app, brand_id)

    doc = discovery(app.test_client(), code).get_json()

    assert doc["crm_viewer"] == {
        "kind": "standard",
        "url": "https://viewer.operator.example/std",
        "name": None,
        "logo": None,
        "colors": None,
    }
    assert doc["part_number"] == "BRAND-CIB-MBX0BL"
    assert doc["product"]["install_folder"] == "Partner CRM"


def test_test_code_sees_the_draft_at_once_and_live_code_does_not(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    live_before = discovery(client, seeded.live_code)

    factories.edit(app, seeded.brand_id, product_name="Next Year's Name")

    test_doc = discovery(client, seeded.test_code).get_json()
    assert test_doc["product"]["name"] == "Next Year's Name"
    assert test_doc["revision"] is None and test_doc["preview"] is True
    live_after = discovery(client, seeded.live_code)
    assert live_after.data == live_before.data


def test_unpublished_brand_is_invisible_to_live_codes_but_previewed_by_test_codes(app):
    partner_id = factories.make_partner(app)
    brand_id = factories.make_brand(app, partner_id, publish=False, product_name="Soon")
    live, test = factories.issue(app, brand_id, "live"), factories.issue(app, brand_id, "test")
    client = app.test_client()

    assert discovery(client, live).status_code == 404
    assert discovery(client, test).get_json()["product"]["name"] == "Soon"


def _problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body


def test_revoked_code_is_gone(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    assert discovery(client, seeded.live_code).status_code == 200

    factories.revoke(app, seeded.live_code)

    body = _problem(discovery(client, seeded.live_code), 410)
    assert "no longer valid" in body["detail"]
    assert discovery(client, seeded.test_code).status_code == 200  # other codes unaffected


def test_expired_code_is_gone(app):
    seeded = factories.seed_ci_c(app)
    soon = factories.issue(app, seeded.brand_id, "live", expires_at=datetime.now(UTC) + timedelta(seconds=2))
    client = app.test_client()
    assert discovery(client, soon).status_code == 200

    answers = app.extensions["livery.public"]
    answers.wall_clock = lambda: time.time() + 2.1  # the code's validity is decided by this clock
    _problem(discovery(client, soon), 410)


def test_suspended_partner_codes_are_gone_and_come_back_when_reinstated(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()

    factories.set_status(app, seeded.partner_id, "suspended")
    _problem(discovery(client, seeded.live_code), 410)
    _problem(discovery(client, seeded.test_code), 410)

    factories.set_status(app, seeded.partner_id, "live")
    assert discovery(client, seeded.live_code).status_code == 200


def _valid_unknown_code() -> str:
    data = ALPHABET[3] * 24
    return data + check_symbol(data)


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(_valid_unknown_code(), id="well-formed-unknown"),
        pytest.param("A" * 300, id="too-long"),
        pytest.param("ÄBCDE-FGHJK-MNPQR-STVWX-YZ012", id="unicode"),
        pytest.param("..%2F..%2Fetc%2Fpasswd", id="path-traversal-encoded"),
        pytest.param("../../etc/passwd", id="path-characters"),
        pytest.param("WGK5R-YEPPV-XFRNG-APKXQ-V3C3A", id="bad-check-symbol"),
        pytest.param("WGK5R", id="too-short"),
        pytest.param("%00", id="nul"),
    ],
)
def test_malformed_and_unknown_codes_are_404_and_indistinguishable(app, code):
    factories.seed_ci_c(app)
    client = app.test_client()

    body = _problem(discovery(client, code), 404)

    reference = _problem(discovery(client, _valid_unknown_code()), 404)
    assert body == reference  # nothing tells a malformed code from an unknown one


def test_empty_code_is_404(app):
    response = app.test_client().get("/v1/discovery/")
    _problem(response, 404)


def test_problem_documents_are_not_cached(app):
    response = discovery(app.test_client(), _valid_unknown_code())
    assert response.headers["Cache-Control"] == "no-store"


def test_security_headers_on_answers_and_errors(app):
    seeded = factories.seed_ci_c(app)
    client = app.test_client()
    for response in (discovery(client, seeded.live_code), discovery(client, "nope")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_document_is_canonical_json(app):
    seeded = factories.seed_ci_c(app)
    response = discovery(app.test_client(), seeded.live_code)
    doc = json.loads(response.data)
    assert response.data == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
