"""A release's ``file_name``: what clients save the installer as, set by the partner, validated.

It reaches clients in the signed upgrade answer (``target.file_name``) and as the installer
download's Content-Disposition; a bad name is a 422 naming ``file_name``.
"""

from __future__ import annotations

import pytest

from tests import factories
from tests.api.admin.conftest import make_operator, onboard
from tests.upgrades.catalogue import add_release, control_file, upload_control_file

POLL = "/v1/upgrade/{code}?platform=windows-x64&version=5.1.0&install_id=install-1"


@pytest.fixture
def partner(db_app):
    return onboard(make_operator(db_app), "acme")


def test_the_file_name_reaches_the_answer_and_the_download(db_app, partner):
    release = add_release(partner.admin, "5.2.0", file_name="AcmeConnect-5.2.0 setup.exe")
    assert release["file_name"] == "AcmeConnect-5.2.0 setup.exe"
    upload_control_file(partner.admin, control_file(("5.2.0", 100)))
    brand_id = factories.make_brand(db_app, partner.id, product_name="Acme")
    code = factories.issue(db_app, brand_id)
    client = db_app.test_client()

    target = client.get(POLL.format(code=code)).json["payload"]["target"]
    assert target["file_name"] == "AcmeConnect-5.2.0 setup.exe"
    download = client.get(target["installer_url"].removeprefix("http://livery.test"))
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="AcmeConnect-5.2.0 setup.exe"'

    renamed = partner.admin.patch(f"/releases/{release['id']}", {"file_name": "Acme-5.2.0.msi"}, etag=release["etag"])
    assert renamed.status_code == 200, renamed.json
    assert client.get(POLL.format(code=code)).json["payload"]["target"]["file_name"] == "Acme-5.2.0.msi"


def test_without_a_file_name_the_answer_says_null(db_app, partner):
    release = add_release(partner.admin, "5.2.0")
    assert release["file_name"] is None


@pytest.mark.parametrize(
    "name",
    [
        "../evil.exe",
        "folder/setup.exe",
        "folder\\setup.exe",
        ".hidden.exe",
        "setup",
        "setup.",
        "setup.exe.part",
        "setup .exe ",
        "a" * 130 + ".exe",
        "",
        "C:setup.exe",
        "setup\x00.exe",
    ],
)
def test_unsafe_file_names_are_refused(partner, name):
    response = partner.admin.post("/releases", {"version": "5.2.0", "platform": "windows-x64", "file_name": name})
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert "file_name" in response.json["errors"]
