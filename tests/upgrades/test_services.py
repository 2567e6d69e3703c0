"""Upgrade services on every database x object store: the readiness gate against real storage,
nothing stored on failure, channel state for decisions; signing-key configuration and CLI."""

from __future__ import annotations

import json

import pytest

from app.config import ConfigError
from app.db import session
from app.partners.models import Partner
from app.problems import Problem
from app.storage import SpooledUpload
from app.upgrades import channel_state, services
from app.upgrades import releases as release_services
from app.upgrades.models import ControlFile
from app.upgrades.versions import parse_version
from tests import factories

ACTOR = "test"


def _release(app, partner_id: int, version: str, data: bytes, *, publish: bool = True) -> None:
    import io

    with app.app_context():
        partner = session().get(Partner, partner_id)
        release = release_services.create_release(
            session(), partner, version=version, platform="macos-universal", actor=ACTOR
        )
        upload = SpooledUpload.from_stream(io.BytesIO(data))
        store = app.extensions["livery.stores"].installers
        release_services.store_installer(session(), store, release, upload, actor=ACTOR)
        upload.discard()
        if publish:
            release_services.update_release(session(), release, {"status": "published"}, actor=ACTOR, store=store)
        session().commit()


def _upload(app, partner_id: int, document: dict, channel: str = "stable"):
    with app.app_context():
        stores = app.extensions["livery.stores"]
        row = services.upload_control_file(
            session(), stores, partner_id, channel, json.dumps(document).encode(), actor=ACTOR
        )
        session().commit()
        return row.serial, row.object_key


def _doc(*versions: str, **extra) -> dict:
    releases = [{"version": v, "rollout_percent": 100} for v in versions]
    return {"schema_version": 1, "channel": "stable", "default_mode": "dynamic", "releases": releases, **extra}


def test_gate_and_activation_against_real_storage(backend_app):
    app = backend_app
    partner_id = factories.make_partner(app)
    _release(app, partner_id, "7.0", b"seven" * 1000)
    with app.app_context():
        assert services.channel_ready(session(), partner_id, "stable") is False
    serial, key = _upload(app, partner_id, _doc("7.0"))
    assert (serial, key) == (1, f"{partner_id}/stable/1.json")
    stored = json.loads(app.extensions["livery.stores"].control_files.read(key))
    assert stored["releases"][0]["platforms"] == ["macos-universal"]
    with app.app_context():
        assert services.channel_ready(session(), partner_id, "stable") is True
        state = channel_state.load_channel_state(session(), app.extensions["livery.stores"], partner_id, "stable")
    assert state.serial == 1
    decision = channel_state.decide_for(state, parse_version("6.9"), "macos-universal", "x", _now())
    assert (decision.action, decision.target.version.text) == ("dynamic", "7.0")


def test_rejected_file_stores_nothing(backend_app):
    app = backend_app
    partner_id = factories.make_partner(app)
    _release(app, partner_id, "7.0", b"seven" * 1000)
    _release(app, partner_id, "7.1", b"draft" * 10, publish=False)
    with pytest.raises(Problem) as caught:
        _upload(app, partner_id, _doc("7.1", "8.0"))
    assert caught.value.status == 422
    assert {e["path"] for e in caught.value.errors} == {"releases[0].version", "releases[1].version"}
    assert list(app.extensions["livery.stores"].control_files.keys()) == []
    with app.app_context():
        assert session().query(ControlFile).count() == 0
        assert services.channel_ready(session(), partner_id, "stable") is False


def test_halted_channel_stays_ready_and_answers_halted(db_app):
    app = db_app
    partner_id = factories.make_partner(app)
    _release(app, partner_id, "7.0", b"seven")
    _upload(app, partner_id, _doc("7.0"))
    with app.app_context():
        channel = services.find_channel(session(), partner_id, "stable")
        services.set_halt(session(), channel, halted=True, reason="bad build", actor=ACTOR)
        session().commit()
        assert services.channel_ready(session(), partner_id, "stable") is True
        state = channel_state.load_channel_state(session(), app.extensions["livery.stores"], partner_id, "stable")
    explained = channel_state.explain(state, parse_version("6.0"), "macos-universal", "x", _now())
    assert (explained["action"], explained["reason"], explained["halt_reason"]) == ("none", "halted", "bad build")


def test_a_changed_stored_file_is_refused_not_served(app):
    partner_id = factories.make_partner(app)
    _release(app, partner_id, "7.0", b"seven")
    _serial, key = _upload(app, partner_id, _doc("7.0"))
    app.extensions["livery.stores"].control_files.put_bytes(key, b'{"tampered": true}')
    with app.app_context(), pytest.raises(Problem) as caught:
        channel_state.load_channel_state(session(), app.extensions["livery.stores"], partner_id, "stable")
    assert caught.value.code == "control_file_corrupt"


def test_required_keys_fail_fast_when_missing(make_app, tmp_path):
    with pytest.raises(ConfigError, match="LIVERY_SIGNING_KEYS_DIR"):
        make_app(signing_keys_dir=str(tmp_path / "empty"), signing_keys_required=True)
    with pytest.raises(ConfigError, match="k9"):
        make_app(signing_active_key="k9")


def test_dev_keys_are_created_when_not_required(app, tmp_path):
    ring = app.extensions["livery.upgrades"].ring
    assert [k["key_id"] for k in ring.public_keys()] == ["k1", "k2"]
    assert sorted(p.name for p in (tmp_path / "signing-keys").glob("*.pem")) == ["k1.pem", "k2.pem"]


def test_keys_cli_generates_and_lists(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "generate", "k3"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["keys", "generate", "k3"]).exit_code == 1
    listed = json.loads(runner.invoke(args=["keys", "list", "--json"]).output)["keys"]
    assert [(k["key_id"], k["status"]) for k in listed] == [("k1", "active"), ("k2", "next"), ("k3", "next")]


def _now():
    from app.db import utcnow

    return utcnow()
