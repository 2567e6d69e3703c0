"""Channels through the admin API: the readiness gate (422 naming every problem, nothing changed),
activation, history, rollback, halt/resume (audited) and explain."""

from __future__ import annotations

import io
import json

import pytest

from tests.upgrades.catalogue import add_release, control_file, upload_control_file


@pytest.fixture
def releases(partner_a):
    """5.2.0 and 5.3.0 for windows-x64, published, installers uploaded."""
    return {v: add_release(partner_a.admin, v) for v in ("5.2.0", "5.3.0")}


def _active(caller, channel="stable"):
    response = caller.get(f"/channels/{channel}")
    return response.json["active_serial"] if response.status_code == 200 else None


def _rejected(response, path_fragment: str, message_fragment: str):
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "control_file_invalid"
    hits = [p for p in response.json["errors"] if path_fragment in p["path"] and message_fragment in p["message"]]
    assert hits, response.json["errors"]
    assert message_fragment in response.json["detail"]


def test_upload_activates_and_history_keeps_every_serial(partner_a, releases):
    admin = partner_a.admin
    assert admin.get("/channels/stable").status_code == 404
    response = upload_control_file(admin, control_file(("5.2.0", 100)))
    assert response.status_code == 201, response.json
    assert response.json["serial"] == 1
    assert response.json["object_key"] == f"{partner_a.id}/stable/1.json"
    response = upload_control_file(admin, control_file(("5.2.0", 100), ("5.3.0", 20)))
    assert response.json["serial"] == 2
    assert _active(admin) == 2
    history = admin.get("/channels/stable/control-files").json["items"]
    assert [h["serial"] for h in history] == [1, 2]
    stored = admin.get("/channels/stable/control-files/2").json
    assert [r["version"] for r in stored["releases"]] == ["5.2.0", "5.3.0"]
    assert stored["releases"][1]["platforms"] == ["windows-x64"]  # resolved at activation
    assert stored["serial"] == 2


@pytest.mark.parametrize(
    ("make", "path", "message"),
    [
        pytest.param(
            lambda: control_file(("5.9.0", 100)), "releases[0].version", "unknown release 5.9.0", id="unknown"
        ),
        pytest.param(lambda: control_file(("5.3.0", 100), serial=1), "serial", "not above", id="lower-serial"),
        pytest.param(lambda: control_file(("5.3.x", 100)), "releases[0].version", "not a number", id="bad-version"),
        pytest.param(lambda: b'{"schema_version": 1, "channel": ', "", "Malformed JSON", id="malformed-json"),
        pytest.param(lambda: control_file(("5.3.0", 100), colour="red"), "colour", "Unknown field", id="unknown-field"),
        pytest.param(lambda: control_file(("5.3.0", 100), channel="beta"), "channel", "not 'stable'", id="channel"),
    ],
)
def test_invalid_control_files_are_refused_and_change_nothing(partner_a, releases, make, path, message):
    admin = partner_a.admin
    assert upload_control_file(admin, control_file(("5.2.0", 100), serial=1)).status_code == 201
    _rejected(upload_control_file(admin, make()), path, message)
    assert _active(admin) == 1
    assert len(admin.get("/channels/stable/control-files").json["items"]) == 1


def test_missing_installer_object_and_wrong_digest_fail_the_gate(app, partner_a, releases):
    admin = partner_a.admin
    assert upload_control_file(admin, control_file(("5.2.0", 100))).status_code == 201
    store = app.extensions["livery.stores"].installers
    store.delete(releases["5.3.0"]["sha256"])
    _rejected(upload_control_file(admin, control_file(("5.3.0", 100))), "releases[0]", "missing from storage")
    # same size, other bytes, recorded digest kept: what a corrupted or replaced object looks like
    import tempfile

    with tempfile.NamedTemporaryFile() as other:
        other.write(b"x" * releases["5.3.0"]["bytes"])
        other.flush()
        store.put_file(releases["5.3.0"]["sha256"], other.name, sha256="0" * 64, content_type="x/y")
    _rejected(upload_control_file(admin, control_file(("5.3.0", 100))), "releases[0]", "sha256")
    assert _active(admin) == 1


def test_draft_and_yanked_releases_cannot_be_offered(partner_a, releases):
    admin = partner_a.admin
    add_release(admin, "5.4.0", publish=False)
    _rejected(upload_control_file(admin, control_file(("5.4.0", 100))), "releases[0]", "no published release")
    response = admin.get(f"/releases/{releases['5.3.0']['id']}")
    admin.patch(f"/releases/{releases['5.3.0']['id']}", {"status": "yanked"}, etag=response.json["etag"])
    _rejected(upload_control_file(admin, control_file(("5.3.0", 100))), "releases[0]", "no published release")
    assert _active(admin) is None


def test_every_problem_is_listed_in_one_answer(partner_a, releases):
    doc = control_file(("5.9.0", 100), ("5.3.x", 50), colour="red")
    response = upload_control_file(partner_a.admin, doc)
    assert response.status_code == 422
    paths = {p["path"] for p in response.json["errors"]}
    assert {"colour", "releases[1].version"} <= paths


def test_rollback_activates_earlier_content_as_new_serial(partner_a, releases):
    admin = partner_a.admin
    upload_control_file(admin, control_file(("5.2.0", 100)))
    upload_control_file(admin, control_file(("5.2.0", 100), ("5.3.0", 50)))
    response = admin.post("/channels/stable/rollback", {"serial": 1})
    assert response.status_code == 201, response.json
    assert response.json["serial"] == 3
    assert response.json["rollback_of"] == 1
    restored = admin.get("/channels/stable/control-files/3").json
    assert [r["version"] for r in restored["releases"]] == ["5.2.0"]
    assert admin.post("/channels/stable/rollback", {"serial": 99}).status_code == 404


def test_halt_and_resume_are_audited(partner_a, releases):
    admin = partner_a.admin
    upload_control_file(admin, control_file(("5.3.0", 100)))
    assert admin.post("/channels/stable/halt", {}).status_code == 422  # a reason is required
    response = admin.post("/channels/stable/halt", {"reason": "crash on start (INC-42)"})
    assert response.status_code == 200, response.json
    assert response.json["halted"] is True
    assert response.json["halt_reason"] == "crash on start (INC-42)"
    response = admin.post("/channels/stable/resume", {})
    assert response.json["halted"] is False
    actions = [e["action"] for e in admin.get("/audit-events").json["items"]]
    assert {"channel.activate", "channel.halt", "channel.resume"} <= set(actions)


def test_viewer_keys_read_but_cannot_change(partner_a, releases):
    upload_control_file(partner_a.admin, control_file(("5.2.0", 100)))
    viewer = partner_a.viewer
    assert viewer.get("/channels/stable").status_code == 200
    assert upload_control_file(viewer, control_file(("5.3.0", 100))).status_code == 403
    assert viewer.post("/channels/stable/halt", {"reason": "x"}).status_code == 403


def test_another_partners_channel_is_not_found(partner_a, partner_b, releases, operator):
    upload_control_file(partner_a.admin, control_file(("5.2.0", 100)))
    assert partner_b.admin.get("/channels/stable").status_code == 404
    assert partner_b.admin.post("/channels/stable/halt", {"reason": "x"}).status_code == 404
    assert partner_b.admin.get(f"/channels/stable?partner_id={partner_a.id}").status_code == 404
    # operators name the partner
    assert operator.get("/channels/stable").status_code == 422
    assert operator.get(f"/channels/stable?partner_id={partner_a.id}").json["active_serial"] == 1


def test_explain_shows_every_reason(partner_a, releases):
    admin = partner_a.admin
    doc = control_file(("5.2.0", 100), ("5.3.0", 20), minimum_version="5.0.0", blocked_versions=["5.1.0"])
    upload_control_file(admin, doc)
    response = admin.get("/channels/stable/explain?version=5.1.0&platform=windows-x64&install_id=abc")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["serial"] == 1
    assert body["action"] == "dynamic"  # blocked version: upgrade now
    assert body["details"]["blocked"] is True
    assert body["details"]["minimum_version"] == "5.0.0"
    assert body["details"]["mode_reason"] == "blocked_version"
    rollout = {c["version"]: c for c in body["details"]["candidates"]}
    assert rollout["5.3.0"]["rollout_percent"] == "20"
    assert isinstance(rollout["5.3.0"]["bucket"], int)
    admin.post("/channels/stable/halt", {"reason": "bad build"})
    body = admin.get("/channels/stable/explain?version=5.1.0&platform=windows-x64&install_id=abc").json
    assert (body["action"], body["reason"], body["halted"], body["halt_reason"]) == (
        "none",
        "halted",
        True,
        "bad build",
    )
    bad = admin.get("/channels/stable/explain?version=v5&platform=windows-x64")
    assert bad.status_code == 422
    assert "version" in bad.json["errors"]


def test_the_stored_file_is_canonical_json(partner_a, releases):
    upload_control_file(partner_a.admin, control_file(("5.2.0", 100)))
    response = partner_a.admin.get("/channels/stable/control-files/1")
    assert response.data == json.dumps(json.loads(response.data), sort_keys=True, separators=(",", ":")).encode()


def test_storage_outage_is_a_503_and_changes_nothing(app, partner_a, releases, monkeypatch):
    from app.storage import StorageError

    admin = partner_a.admin
    upload_control_file(admin, control_file(("5.2.0", 100)))

    def unreachable(*_args, **_kw):
        raise StorageError("connection refused")

    monkeypatch.setattr(app.extensions["livery.stores"].control_files, "put_bytes", unreachable)
    response = upload_control_file(admin, control_file(("5.3.0", 100)))
    assert response.status_code == 503
    assert response.json["code"] == "storage_unavailable"
    assert _active(admin) == 1


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream"])
def test_an_oversized_control_file_is_413_before_it_is_read(partner_a, releases, content_type):
    from app.upgrades.control_file import MAX_DOCUMENT_BYTES

    response = partner_a.admin.post(
        "/channels/stable/control-files", data=b" " * (MAX_DOCUMENT_BYTES + 1), headers={"Content-Type": content_type}
    )
    assert response.status_code == 413 and response.json["code"] == "payload_too_large"
    assert _active(partner_a.admin) is None


def test_an_oversized_chunked_control_file_is_413(partner_a, releases):
    from app.upgrades.control_file import MAX_DOCUMENT_BYTES

    response = partner_a.admin.post(  # no Content-Length: the server stops reading at the cap
        "/channels/stable/control-files",
        input_stream=io.BytesIO(b" " * (MAX_DOCUMENT_BYTES + 1)),
        headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and response.json["code"] == "payload_too_large"
    assert _active(partner_a.admin) is None
