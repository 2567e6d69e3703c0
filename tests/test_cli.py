"""Operator commands, run through Flask's CLI runner against a real database."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import session
from app.partners.models import Partner
from tests import factories, images


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    return result


def test_demo_seed_is_idempotent_and_answers_discovery(app):
    first = run(app, "demo", "seed", "--json")
    assert first.exit_code == 0, first.output
    seeded = json.loads(first.output)
    assert {"live_code", "test_code", "discovery_url"} <= set(seeded)

    second = json.loads(run(app, "demo", "seed", "--json").output)
    assert second == seeded  # same codes, same revision: nothing duplicated

    client = app.test_client()
    response = client.get(seeded["discovery_url"].removeprefix("http://livery.test"))
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["branding_level"] == "CI-C" and doc["revision"] == 1
    assert all(doc["assets"][role] for role in ("tray_icon", "app_icon_windows", "app_icon_macos", "splash"))
    assert client.get(f"/v1/discovery/{seeded['test_code']}").get_json()["preview"] is True

    check = {"access_code": seeded["live_code"], "user_id": seeded["licensed_user_id"], "install_id": "demo-1"}
    answer = client.post("/v1/licenses/check", json=check).get_json()["payload"]
    assert answer["status"] == "valid" and answer["licensed"] is True


def test_operator_workflow_from_partner_to_revoked_code(app, tmp_path):
    assert run(app, "partner", "create", "--slug", "globex", "--name", "Globex").exit_code == 0
    refused = run(app, "partner", "set-status", "globex", "live")
    assert refused.exit_code == 1 and "test_code_launched" in refused.output  # readiness gate (tests/onboarding)
    with app.app_context():
        partner_id = session().scalar(select(Partner.id).where(Partner.slug == "globex"))
    factories.make_live(app, partner_id)
    icon = tmp_path / "tray.ico"
    icon.write_bytes(images.ico(32))
    added = run(app, "asset", "add", "--partner", "globex", "--role", "tray_icon", str(icon))
    assert added.exit_code == 0, added.output
    sha = added.output.strip()

    created = run(
        app,
        "brand",
        "create",
        "--partner",
        "globex",
        "--name",
        "Globex CRM",
        "--set",
        "product_name=Globex CRM",
        "--set",
        f"tray_icon={sha}",
        "--json",
    )
    assert created.exit_code == 0, created.output
    brand_id = json.loads(created.output)["id"]
    issued = json.loads(run(app, "code", "issue", "--brand", str(brand_id), "--json").output)
    client = app.test_client()
    assert client.get(f"/v1/discovery/{issued['code']}").status_code == 404  # not yet published

    assert "published revision 1" in run(app, "brand", "publish", str(brand_id)).output
    doc = client.get(f"/v1/discovery/{issued['code']}").get_json()
    assert doc["product"]["name"] == "Globex CRM" and doc["assets"]["tray_icon"]["sha256"] == sha

    assert run(app, "brand", "edit", str(brand_id), "--set", "product_name=Globex Two").exit_code == 0
    assert "published revision 2" in run(app, "brand", "publish", str(brand_id)).output
    assert "unchanged" in run(app, "brand", "publish", str(brand_id)).output

    assert run(app, "code", "revoke", issued["code"]).exit_code == 0
    assert client.get(f"/v1/discovery/{issued['code']}").status_code == 410


def test_rule_violations_are_one_clear_line_and_change_nothing(app):
    run(app, "partner", "create", "--slug", "initech", "--name", "Initech")
    created = json.loads(run(app, "brand", "create", "--partner", "initech", "--name", "B", "--json").output)
    before = created["draft"]

    result = run(app, "brand", "edit", str(created["id"]), "--set", "support_url=http://insecure.example")

    assert result.exit_code == 1
    assert "support_url: Must be an https:// URL." in result.output
    assert "Traceback" not in result.output
    shown = run(app, "brand", "edit", str(created["id"]), "--set", "short_name=CRM")
    assert json.loads(shown.output) == before | {"short_name": "CRM"}


def test_install_folder_cannot_be_branded(app):
    run(app, "partner", "create", "--slug", "umbrella", "--name", "Umbrella")
    result = run(app, "brand", "create", "--partner", "umbrella", "--name", "B", "--set", "install_folder=Umbrella")
    assert result.exit_code == 1
    assert "Partner CRM" in result.output


def test_operator_key_is_printed_once_and_stored_as_digest(app):
    result = run(app, "operator", "create-key", "--json")
    key = json.loads(result.output)["key"]
    assert key.startswith("lvk_") and len(key) > 40
    from sqlalchemy import select

    from app.db import session
    from app.partners.models import ApiKey

    with app.app_context():
        stored = session().scalars(select(ApiKey)).all()
    assert len(stored) == 1 and stored[0].role == "operator"
    assert key not in {stored[0].digest, stored[0].prefix}
