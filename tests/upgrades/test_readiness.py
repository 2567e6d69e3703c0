"""The readiness gate: a control file is activated only when every release it offers can be installed."""

from __future__ import annotations

import json

import pytest

from app.upgrades.control_file import ControlFile, ReleaseEntry, parse_control_file
from app.upgrades.readiness import ReleaseFacts, check_against_catalogue, resolve_platforms
from app.upgrades.versions import Version
from tests.upgrades.documents import DELETE, edited, valid_doc


def facts(version: str, platform: str, status: str = "published", **flags: bool) -> ReleaseFacts:
    ok = {"installer_present": True, "installer_sha256_ok": True, "installer_size_ok": True} | flags
    return ReleaseFacts(version=version, platform=platform, status=status, **ok)


def catalogue(*rows: ReleaseFacts) -> dict[tuple[str, str], ReleaseFacts]:
    return {(row.version, row.platform): row for row in rows}


def full_catalogue() -> dict[tuple[str, str], ReleaseFacts]:
    return catalogue(
        facts("5.2.2", "windows-x64"),
        facts("5.2.2", "macos-universal"),
        facts("5.2.2", "macos-arm64", status="draft"),
        facts("5.3.0", "windows-x64"),
        facts("5.3.0", "macos-arm64"),
    )


def check(cf: ControlFile | None = None, cat=None, *, current_serial: int = 11, channel: str = "stable"):
    cf = cf or parse_control_file(json.dumps(valid_doc()))
    return check_against_catalogue(
        cf, full_catalogue() if cat is None else cat, current_serial=current_serial, expected_channel=channel
    )


def test_a_ready_file_has_no_problem():
    assert check() == []


def with_catalogue_change(version: str, platform: str, **change) -> dict:
    cat = full_catalogue()
    cat[(version, platform)] = facts(version, platform, **change)
    return cat


@pytest.mark.parametrize(
    ("kwargs", "path", "says"),
    [
        ({"channel": "beta"}, "channel", "is for channel 'stable', not 'beta'"),
        ({"current_serial": 12}, "serial", "serial 12 is not above the channel's current serial 12"),
        ({"current_serial": 15}, "serial", "serial 12 is not above the channel's current serial 15"),
        ({"cat": catalogue(facts("5.3.0", "windows-x64"), facts("5.3.0", "macos-arm64"))}, "releases[0].version",
         "unknown release 5.2.2"),
        ({"cat": catalogue(facts("5.2.2", "windows-x64"), facts("5.3.0", "windows-x64"))}, "releases[1].platforms",
         "5.3.0 has no release for macos-arm64"),
        ({"cat": with_catalogue_change("5.3.0", "macos-arm64", status="draft")}, "releases[1].platforms",
         "5.3.0 for macos-arm64 is a draft"),
        ({"cat": with_catalogue_change("5.3.0", "macos-arm64", status="yanked")}, "releases[1].platforms",
         "5.3.0 for macos-arm64 is yanked"),
        ({"cat": with_catalogue_change("5.3.0", "windows-x64", installer_present=False)}, "releases[1].platforms",
         "installer of 5.3.0 for windows-x64 is missing"),
        ({"cat": with_catalogue_change("5.3.0", "windows-x64", installer_sha256_ok=False)}, "releases[1].platforms",
         "does not match its recorded sha256"),
        ({"cat": with_catalogue_change("5.3.0", "windows-x64", installer_size_ok=False)}, "releases[1].platforms",
         "does not match its recorded size"),
        ({"cat": with_catalogue_change("5.2.2", "windows-x64", installer_sha256_ok=False)}, "releases[0].version",
         "5.2.2 for windows-x64 does not match its recorded sha256"),
        ({"cat": catalogue(facts("5.2.2", "windows-x64", status="draft"), facts("5.3.0", "windows-x64"),
                           facts("5.3.0", "macos-arm64"))}, "releases[0].version",
         "5.2.2 has no published release for any platform"),
    ],
    ids=["channel", "same-serial", "lower-serial", "unknown-release", "missing-platform", "draft", "yanked",
         "installer-missing", "sha256", "size", "default-platforms-checked", "no-platform-at-all"],
)  # fmt: skip
def test_each_catalogue_problem_is_named(kwargs, path, says):
    problems = check(**kwargs)
    assert any(p["path"] == path and says in p["message"] for p in problems), problems


def test_catalogue_problems_are_all_listed():
    cat = catalogue(facts("5.3.0", "windows-x64", installer_size_ok=False, installer_sha256_ok=False))
    problems = check(cat=cat, current_serial=20, channel="beta")
    assert {p["path"] for p in problems} == {"channel", "serial", "releases[0].version", "releases[1].platforms"}
    assert len(problems) == 6  # and for 5.3.0: macos-arm64 missing, windows-x64's sha256 and size


def test_versions_must_be_written_as_released():
    doc = edited(releases__0__version="5.2.2.0")
    problems = check(parse_control_file(json.dumps(doc)))
    assert problems == [{"path": "releases[0].version", "message": problems[0]["message"]}]
    assert "unknown release 5.2.2.0" in problems[0]["message"] and "did you mean 5.2.2?" in problems[0]["message"]


def test_a_missing_serial_is_fine():
    assert check(parse_control_file(json.dumps(edited(serial=DELETE))), current_serial=99) == []


def test_resolve_platforms_spells_out_published_platforms():
    cf = resolve_platforms(parse_control_file(json.dumps(valid_doc())), full_catalogue())
    assert cf.releases[0].platforms == frozenset({"windows-x64", "macos-universal"})  # not the draft
    assert cf.releases[1].platforms == frozenset({"windows-x64", "macos-arm64"})  # as listed
    unknown = ReleaseEntry(Version("9.0"), 100)
    assert (
        resolve_platforms(ControlFile(1, "stable", None, "passive", None, frozenset(), (unknown,)), {})
        .releases[0]
        .platforms
        == frozenset()
    )
