"""Installer downloads: redirects, Range resume with If-Range, restart on 200, verification."""

from __future__ import annotations

import hashlib

import pytest
from conftest import CANONICAL, FILE_NAME, INSTALLER, VENDOR_FILE, upgrade_payload
from livery_client import InstallerIntegrityError, NoUpgradeAvailable, ServiceUnavailable
from livery_client.download import installer_name
from livery_client.upgrade import UpgradeTarget

NAME = FILE_NAME


def test_download_follows_the_redirect_and_verifies(livery, make_client, tmp_path):
    client = make_client()
    seen = []
    path = client.download(
        client.check_upgrade("5.2.0", "windows-x64"), tmp_path / "dl", progress=lambda d, t: seen.append(d)
    )

    assert path == tmp_path / "dl" / NAME and path.read_bytes() == INSTALLER
    assert not (tmp_path / "dl" / f"{NAME}.part").exists()
    assert seen[-1] == len(INSTALLER) and seen == sorted(seen)
    assert [hit.path for hit in livery.hits("/")][-2:] == [f"/redirect/{VENDOR_FILE}", f"/files/{VENDOR_FILE}"]


def test_download_resumes_a_part_with_range_and_if_range(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / f"{NAME}.part").write_bytes(INSTALLER[:300_000])
    etag = '"' + hashlib.sha256(INSTALLER).hexdigest() + '"'
    (dest / f"{NAME}.part.etag").write_text(etag)

    path = client.download(decision, dest)

    hit = livery.hits("/files/")[-1]
    assert hit.headers["Range"] == "bytes=300000-" and hit.headers["If-Range"] == etag
    assert hashlib.sha256(path.read_bytes()).hexdigest() == decision.target.sha256


def test_interrupted_download_keeps_the_part_and_resumes(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    livery.truncate_at = 200_000

    with pytest.raises(ServiceUnavailable):
        client.download(decision, tmp_path)
    kept = (tmp_path / f"{NAME}.part").stat().st_size
    assert 0 < kept <= 200_000  # whole chunks received before the hang-up

    livery.truncate_at = None
    path = client.download(decision, tmp_path)
    assert livery.hits("/files/")[-1].headers["Range"] == f"bytes={kept}-"
    assert path.read_bytes() == INSTALLER


def test_a_bad_kept_piece_is_replaced_by_a_fresh_download(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    (tmp_path / f"{NAME}.part").write_bytes(b"x" * 100_000)  # no validator kept: resumed blindly

    path = client.download(decision, tmp_path)

    ranges = [hit.headers.get("Range") for hit in livery.hits("/files/")]
    assert ranges == ["bytes=100000-", None]
    assert path.read_bytes() == INSTALLER


def test_server_ignoring_range_restarts_from_zero(livery, make_client, tmp_path):
    client = make_client()
    decision = client.check_upgrade("5.2.0", "windows-x64")
    (tmp_path / f"{NAME}.part").write_bytes(b"garbage that must not stay in front" * 100)
    livery.ignore_range = True

    path = client.download(decision, tmp_path)

    assert "Range" in livery.hits("/files/")[-1].headers
    assert path.read_bytes() == INSTALLER


def test_corrupted_installer_is_rejected_and_the_part_deleted(livery, make_client, tmp_path):
    livery.installers[VENDOR_FILE] = INSTALLER[:-1] + b"\x00"  # same size, different bytes
    client = make_client()

    with pytest.raises(InstallerIntegrityError):
        client.download(client.check_upgrade("5.2.0", "windows-x64"), tmp_path / "dl")

    assert list((tmp_path / "dl").iterdir()) == []


def test_oversized_installer_is_rejected(livery, make_client, tmp_path):
    livery.installers[VENDOR_FILE] = INSTALLER + b"extra"
    client = make_client()
    with pytest.raises(InstallerIntegrityError):
        client.download(client.check_upgrade("5.2.0", "windows-x64"), tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


def test_nothing_to_download_for_action_none(livery, make_client, tmp_path):
    livery.upgrade[CANONICAL] = lambda query: upgrade_payload(query, action="none")
    client = make_client()
    with pytest.raises(NoUpgradeAvailable):
        client.download(client.check_upgrade("5.3.0", "windows-x64"), tmp_path)


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("AcmeConnect-5.3.0 setup.exe", "AcmeConnect-5.3.0 setup.exe"),
        ("Acme.msi", "Acme.msi"),
        (None, "livery-5.3.0-windows-x64"),
        ("../../etc/passwd.txt", "livery-5.3.0-windows-x64"),
        ("C:\\Windows\\evil.exe", "livery-5.3.0-windows-x64"),
        (".hidden.exe", "livery-5.3.0-windows-x64"),
        ("setup.exe.part", "livery-5.3.0-windows-x64"),
        ("no-extension", "livery-5.3.0-windows-x64"),
    ],
)
def test_installers_are_saved_under_the_partners_file_name(file_name, expected):
    target = UpgradeTarget(
        "5.3.0", "windows-x64", "https://cdn.example/a/VendorSetup.exe", "0" * 64, 1, None, file_name
    )
    assert installer_name(target) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example/a/Vendor%20CRM%205.3.msi?sig=x",
        "https://cdn.example/a/..%2F..%2Fetc%2Fpasswd",
        "https://livery.example/v1/installers/" + "0" * 64,
    ],
)
def test_the_url_never_names_the_file(url):
    assert installer_name(UpgradeTarget("5.3.0", "windows-x64", url, "0" * 64, 1)) == "livery-5.3.0-windows-x64"
