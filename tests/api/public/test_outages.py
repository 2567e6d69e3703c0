"""What clients see while the database is down (in process, every database): public answers from
memory, admin calls 503 with Retry-After; and the repairs: re-uploads restore lost objects, a halt
answers whatever the object store holds."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from app.db_health import DatabaseUnavailable
from tests import factories, images
from tests.api.public.test_upgrade import Setup, _payload
from tests.upgrades.catalogue import control_file, installer_bytes, upload_control_file


@pytest.fixture
def setup(db_app) -> Setup:
    setup = Setup(db_app)
    assert upload_control_file(setup.admin, control_file(("5.3.0", 100))).status_code == 201
    return setup


def _down(app) -> None:
    app.extensions["livery.db_health"].failed("test")


def test_database_down_public_answers_from_memory_admin_503(setup):
    app, client = setup.app, setup.client
    splash = factories.upload(app, setup.partner.id, "splash", images.png(640, 360), "splash.png")
    installer = setup.releases["5.3.0"]["sha256"]
    assert client.get(f"/v1/discovery/{setup.code}").status_code == 200
    assert _payload(setup.poll())["action"] == "passive"
    assert client.get(f"/v1/assets/{splash}").status_code == 200
    assert client.get(f"/v1/installers/{installer}").status_code == 200
    _down(app)

    assert client.get(f"/v1/discovery/{setup.code}").status_code == 200
    assert _payload(setup.poll())["action"] == "passive"
    assert client.get(f"/v1/assets/{splash}").status_code == 200  # the bytes come from the store
    assert client.get(f"/v1/installers/{installer}").status_code == 200
    response = setup.admin.get("/releases")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.json["code"] == "database_unavailable" and int(response.headers["Retry-After"]) >= 1
    # an asset or installer never seen is not guessed at
    assert client.get(f"/v1/assets/{'0' * 64}").status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "database" in ready.json["down"]
    assert client.get("/healthz").status_code == 200


def test_worker_without_database_at_start_answers_503_not_404(make_app):
    app = make_app()
    code = factories.issue(app, factories.make_brand(app, factories.make_partner(app)))  # loads nothing
    _down(app)
    with pytest.raises(DatabaseUnavailable):
        app.extensions["livery.public"].code("x")
    response = app.test_client().get(f"/v1/discovery/{code}")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert app.test_client().get("/readyz").json["checks"]["public_answers"].startswith("not loaded")


def _slow_first_load(make_app, monkeypatch, seconds: float) -> tuple[Flask, str, threading.Event]:
    """An app with one issued code whose first load of the codes takes ``seconds`` longer (a busy
    machine); the event is set when that load starts."""
    app = make_app()
    code = factories.issue(app, factories.make_brand(app, factories.make_partner(app)))  # loads nothing
    answers = app.extensions["livery.public"]
    load_all = answers._load_all
    started = threading.Event()

    def slow_load_all():
        started.set()
        time.sleep(seconds)
        load_all()

    monkeypatch.setattr(answers, "_load_all", slow_load_all)
    return app, code, started


def test_a_first_load_slower_than_a_poll_wait_still_answers(make_app, monkeypatch):
    """A worker's very first load of the codes on a busy machine: the request waits for it (bounded)
    rather than answering 503 for a database that is up."""
    from app.api.public import cache

    app, code, _ = _slow_first_load(make_app, monkeypatch, cache.POLL_WAIT + 0.5)
    response = app.test_client().get(f"/v1/discovery/{code}")
    assert response.status_code == 200, response.json


def test_requests_arriving_during_a_slow_first_load_all_wait_for_it(make_app, monkeypatch):
    """Not only the request that started the first load: the ones arriving meanwhile have nothing
    to answer from either, so they wait for the same load rather than answering 503 at once."""
    app, code, started = _slow_first_load(make_app, monkeypatch, 1.0)
    first: list = []
    thread = threading.Thread(target=lambda: first.append(app.test_client().get(f"/v1/discovery/{code}")))
    thread.start()
    assert started.wait(5)
    second = app.test_client().get(f"/v1/discovery/{code}")  # arrives while the load runs
    thread.join(10)
    assert second.status_code == 200, second.json
    assert first[0].status_code == 200, first[0].json


def test_reuploading_an_image_restores_its_lost_object(setup):
    app = setup.app
    data = images.png(640, 360)
    first = setup.admin.upload("splash", data, "splash.png", "image/png")
    assert first.status_code == 201, first.json
    sha = first.json["sha256"]
    app.extensions["livery.stores"].assets.delete(sha)
    assert setup.client.get(f"/v1/assets/{sha}").status_code == 404
    again = setup.admin.upload("splash", data, "splash.png", "image/png")
    assert again.status_code == 200 and again.json["sha256"] == sha  # deduplicated by row...
    assert setup.client.get(f"/v1/assets/{sha}").status_code == 200  # ...and the object is back


def test_reuploading_a_published_installer_restores_its_lost_object(setup):
    release = setup.releases["5.3.0"]
    store = setup.app.extensions["livery.stores"].installers
    store.delete(release["sha256"])
    response = setup.admin.put(
        f"/releases/{release['id']}/installer",
        data=installer_bytes("5.3.0", "windows-x64"),
        etag=release["etag"],
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.json
    assert store.stat(release["sha256"]).size == release["bytes"]
    other = setup.admin.put(
        f"/releases/{release['id']}/installer",
        data=b"other bytes",
        etag=response.headers["ETag"],
        headers={"Content-Type": "application/octet-stream"},
    )
    assert other.status_code == 409 and other.json["code"] == "release_not_draft"  # published stays published


def test_a_halt_answers_halted_when_the_control_file_is_unreadable(setup):
    assert setup.admin.post("/channels/stable/halt", {"reason": "bad build"}).status_code == 200
    store = setup.app.extensions["livery.stores"].control_files
    for key in list(store.keys()):
        store.delete(key)
    payload = _payload(setup.poll())
    assert (payload["action"], payload["reason"]) == ("none", "halted")


def test_no_free_pooled_connection_is_a_503_not_a_500(app, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from app.api.public import assets

    def exhausted(*_args):
        raise PoolTimeout("QueuePool limit reached")

    monkeypatch.setattr(assets, "public_asset", exhausted)
    response = app.test_client().get(f"/v1/assets/{'1' * 64}")
    assert response.status_code == 503 and response.json["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "1"
