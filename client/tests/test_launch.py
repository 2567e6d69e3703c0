"""Launch: discovery with ETag/304, content-addressed assets, stale fallback, revoked codes."""

from __future__ import annotations

import pytest
from conftest import CANONICAL, ICON, build_document
from livery_client import (
    AssetIntegrityError,
    CodeRevoked,
    NoCachedBranding,
    UnknownCode,
    changed_fields,
)


def test_first_launch_downloads_every_asset(livery, make_client):
    result = make_client().launch()

    assert result.status == "fresh" and result.first_launch and result.changed_fields == []
    assert result.branding["product"]["name"] == "Acme CRM Connect"
    assert sorted(result.downloaded_assets) == ["app_icon_windows", "splash", "tray_icon"]
    for role, path in result.asset_paths.items():
        entry = result.branding["assets"][role]
        assert path.read_bytes() == livery.assets[entry["sha256"]]
        assert path.name.startswith(entry["sha256"])
    assert result.asset_paths["app_icon_windows"].suffix == ".ico"
    assert "If-None-Match" not in livery.hits("/v1/discovery")[0].headers


def test_second_launch_revalidates_and_downloads_nothing(livery, make_client):
    first = make_client().launch()
    livery.requests.clear()

    second = make_client().launch()

    assert second.status == "not_modified" and not second.first_launch
    assert second.downloaded_assets == [] and second.changed_fields == []
    assert second.branding == first.branding and second.asset_paths == first.asset_paths
    assert livery.hits("/v1/discovery")[0].headers["If-None-Match"] == first.etag
    assert livery.hits("/v1/assets") == []


def test_rename_reports_only_the_name(livery, make_client):
    livery.documents[CANONICAL] = {**build_document(livery), "revision": 4, "preview": False}
    make_client().launch()
    livery.documents[CANONICAL] = {**build_document(livery, name="Globex Dialer CRM"), "revision": 5, "preview": False}

    result = make_client().launch()

    assert result.status == "fresh"
    assert result.changed_fields == ["product.name"]
    assert result.downloaded_assets == []


def test_new_icon_downloads_only_that_asset(livery, make_client):
    old = make_client().launch()
    livery.requests.clear()
    livery.documents[CANONICAL] = build_document(livery, icon=ICON + b" v2")

    result = make_client().launch()

    assert result.downloaded_assets == ["tray_icon"]
    assert len(livery.hits("/v1/assets")) == 1
    assert set(result.changed_fields) == {"assets.tray_icon.bytes", "assets.tray_icon.sha256", "assets.tray_icon.url"}
    assert not old.asset_paths["tray_icon"].exists()  # unreferenced assets are pruned
    assert result.asset_paths["tray_icon"].read_bytes() == ICON + b" v2"


def test_asset_with_wrong_digest_is_refused_and_previous_state_kept(livery, make_client):
    before = make_client().launch()
    document = build_document(livery, name="Evil Rename", icon=ICON + b" v3")
    livery.assets[document["assets"]["tray_icon"]["sha256"]] = b"not the icon the document promised"
    livery.documents[CANONICAL] = document

    with pytest.raises(AssetIntegrityError):
        make_client().launch()

    livery.stop()  # the cache alone must still give the previous branding
    after = make_client().launch()
    assert after.status == "stale"
    assert after.branding == before.branding and after.etag == before.etag
    assert all(path.exists() for path in after.asset_paths.values())


@pytest.mark.parametrize("status", [500, 503])
def test_service_trouble_gives_stale_branding(livery, make_client, status):
    before = make_client().launch()
    livery.fail_status = status

    result = make_client().launch()

    assert result.status == "stale" and str(status) in result.stale_reason
    assert result.branding == before.branding and result.asset_paths == before.asset_paths


def test_unreachable_service_gives_stale_branding(livery, make_client):
    make_client().launch()
    livery.stop()

    result = make_client().launch()

    assert result.status == "stale" and "cannot reach" in result.stale_reason


def test_garbled_answer_gives_stale_branding(livery, make_client):
    before = make_client().launch()
    livery.documents[CANONICAL] = build_document(livery, name="Changed")
    livery.garble = True

    result = make_client().launch()

    assert result.status == "stale" and "garbled" in result.stale_reason
    assert result.branding == before.branding


def test_no_cache_and_no_service_raises(livery, make_client):
    livery.fail_status = 503
    with pytest.raises(NoCachedBranding):
        make_client().launch()


def test_revoked_code_clears_the_cache(livery, make_client, cache_dir):
    make_client().launch()
    (cache_dir / "notes.txt").write_text("a user's file we must not delete")
    livery.code_status[CANONICAL] = 410

    with pytest.raises(CodeRevoked):
        make_client().launch()

    assert sorted(p.name for p in cache_dir.iterdir()) == ["notes.txt"]


def test_unknown_code_raises_and_keeps_the_cache(livery, make_client, cache_dir):
    make_client().launch()
    livery.code_status[CANONICAL] = 404

    with pytest.raises(UnknownCode):
        make_client().launch()

    assert (cache_dir / "discovery.json").exists()


def test_changed_fields_paths():
    old = {"a": {"b": 1, "c": None}, "d": [1, 2], "e": True}
    new = {"a": {"b": 2, "c": {"x": 1}}, "d": [1, 2], "e": 1, "f": "new"}
    assert changed_fields(old, new) == ["a.b", "a.c", "e", "f"]


def test_missing_asset_is_service_trouble_not_a_wrong_code(livery, make_client):
    before = make_client().launch()
    document = build_document(livery, icon=ICON + b" v4")
    del livery.assets[document["assets"]["tray_icon"]["sha256"]]
    livery.documents[CANONICAL] = document

    result = make_client().launch()

    assert result.status == "stale" and "asset download failed" in result.stale_reason
    assert result.branding == before.branding
