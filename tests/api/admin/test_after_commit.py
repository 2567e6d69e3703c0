"""Work that runs after a commit (freshness apply, static publishing) never turns the committed
write into a 500: it is logged, and the change log or `flask static-publish` catches up."""

from __future__ import annotations

from tests.api.admin.conftest import make_operator, onboard


def _broken(*_args, **_kw):
    raise RuntimeError("a bug after the commit")


def test_a_failing_freshness_apply_still_answers_the_write(app, partner_a, monkeypatch, caplog):
    monkeypatch.setattr(app.extensions["livery.public"], "apply", _broken)
    response = partner_a.admin.post("/brands", {"name": "After commit"})
    assert response.status_code == 201
    assert "applying committed changes failed" in caplog.text
    monkeypatch.undo()
    assert partner_a.admin.get(f"/brands/{response.json['id']}").status_code == 200  # it was committed


def test_a_failing_static_publisher_still_answers_the_write(make_app, tmp_path, monkeypatch, caplog):
    app = make_app(static_publish_root=str(tmp_path / "static-root"))
    publisher = app.extensions["livery.publisher"]
    monkeypatch.setattr(publisher, "publish_changes", _broken)
    admin = onboard(make_operator(app), "acme").admin
    response = admin.post("/brands", {"name": "After commit"})
    assert response.status_code == 201
    assert "static publish failed after commit" in caplog.text
