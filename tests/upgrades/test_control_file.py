"""Control files: the schema, every problem at once, the readiness gate, platforms and round trips."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.upgrades.control_file import (
    ControlFile,
    ControlFileInvalid,
    ReleaseEntry,
    ReleaseFacts,
    check_against_catalogue,
    control_file_to_json,
    parse_control_file,
    resolve_platforms,
)
from app.upgrades.versions import PLATFORMS, Version

EXAMPLE = Path(__file__).resolve().parents[2] / "control_files" / "example-stable.json"


def valid_doc() -> dict:
    return {
        "schema_version": 1,
        "channel": "stable",
        "serial": 12,
        "default_mode": "passive",
        "minimum_version": "5.0.0",
        "blocked_versions": ["5.2.1"],
        "notes": "5.3.0 to a fifth of installs",
        "releases": [
            {"version": "5.2.2", "rollout_percent": 100},
            {
                "version": "5.3.0",
                "rollout_percent": 20,
                "available_from": "2026-12-01T09:00:00Z",
                "critical": False,
                "platforms": ["windows-x64", "macos-arm64"],
            },
        ],
    }


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


def problems_of(raw) -> list[dict[str, str]]:
    with pytest.raises(ControlFileInvalid) as caught:
        parse_control_file(raw if isinstance(raw, str | bytes) else json.dumps(raw))
    assert caught.value.problems, "an invalid file must say why"
    return caught.value.problems


def edited(**changes) -> dict:
    doc = valid_doc()
    for dotted, value in changes.items():
        target = doc
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return doc


DELETE = object()


def test_valid_document_parses():
    cf = parse_control_file(json.dumps(valid_doc()))
    assert cf.channel == "stable" and cf.serial == 12 and cf.default_mode == "passive"
    assert cf.minimum_version == Version("5.0.0")
    assert cf.blocked_versions == frozenset({Version("5.2.1")})
    second = cf.releases[1]
    assert second.version.text == "5.3.0" and second.rollout_bp == 2000 and second.rollout_percent == Decimal(20)
    assert second.available_from == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert second.platforms == frozenset({"windows-x64", "macos-arm64"})
    assert cf.releases[0].platforms == frozenset()  # resolved at activation
    assert cf.releases[0].critical is False and cf.releases[0].available_from is None


def test_optional_fields_and_empty_releases():
    cf = parse_control_file(b'{"schema_version": 1, "channel": "beta", "default_mode": "dynamic", "releases": []}')
    assert cf.serial is None and cf.minimum_version is None and cf.blocked_versions == frozenset()
    assert cf.releases == () and cf.notes == ""


def test_example_file_is_valid_and_documented():
    cf = parse_control_file(EXAMPLE.read_bytes())
    assert cf.channel == "stable" and cf.releases
    assert cf.notes


@pytest.mark.parametrize(
    ("percent", "bp"),
    [("0", 0), ("100", 10000), ("12.5", 1250), ("12.50", 1250), ("0.07", 7), ("33.33", 3333), ("99.99", 9999),
     ("1e1", 1000), ("100.00", 10000)],
)  # fmt: skip
def test_percentages_are_exact_basis_points(percent, bp):
    text = json.dumps(valid_doc()).replace('"rollout_percent": 20', f'"rollout_percent": {percent}')
    assert parse_control_file(text).releases[1].rollout_bp == bp


@pytest.mark.parametrize(
    ("doc", "path", "says"),
    [
        (edited(releases__1__version="v5.3"), "releases[1].version", "must not start with 'v'"),
        (edited(minimum_version="5.0.x"), "minimum_version", "not a number"),
        (edited(blocked_versions=["5.2.1", "5.2.1.0"]), "blocked_versions[1]", "listed twice"),
        (edited(releases__1__rollout_percent=150), "releases[1].rollout_percent", "from 0 to 100"),
        (edited(releases__1__rollout_percent=-1), "releases[1].rollout_percent", "from 0 to 100"),
        (edited(releases__1__rollout_percent=12.345), "releases[1].rollout_percent", "more than 2 decimals"),
        (edited(releases__1__rollout_percent="20"), "releases[1].rollout_percent", "number"),
        (edited(releases__1__rollout_percent=True), "releases[1].rollout_percent", "number"),
        (edited(releases__1__available_from="2026-12-01"), "releases[1].available_from", "RFC 3339"),
        (edited(releases__1__available_from="2026-12-01T09:00:00"), "releases[1].available_from", "offset"),
        (edited(releases__1__available_from="2026-02-30T09:00:00Z"), "releases[1].available_from", "not a real"),
        (edited(releases__1__available_from="tomorrow"), "releases[1].available_from", "RFC 3339"),
        (edited(releases__1__critical="yes"), "releases[1].critical", "true or false"),
        (edited(releases__1__platforms=["linux-x64"]), "releases[1].platforms[0]", "Unknown platform"),
        (edited(releases__1__platforms=[]), "releases[1].platforms", "non-empty"),
        (edited(releases__1__platforms=["windows-x64", "windows-x64"]), "releases[1].platforms[1]", "twice"),
        (edited(releases__1__colour="red"), "releases[1].colour", "Unknown field 'colour'"),
        (edited(colour="red"), "colour", "Unknown field 'colour'"),
        (edited(releases__1__version=DELETE), "releases[1].version", "required"),
        (edited(releases__1__rollout_percent=DELETE), "releases[1].rollout_percent", "required"),
        (edited(channel=DELETE), "channel", "required"),
        (edited(releases=DELETE), "releases", "required"),
        (edited(channel="Stable!"), "channel", "lower-case"),
        (edited(serial=0), "serial", "out of range"),
        (edited(serial="12"), "serial", "whole number"),
        (edited(serial=12.0), "serial", "whole number"),
        (edited(default_mode="forced"), "default_mode", "passive, dynamic"),
        (edited(notes="x" * 2001), "notes", "2000"),
        (edited(releases=[{"version": "5.3", "rollout_percent": 1}] * 2), "releases[1].version", "listed twice"),
        (edited(releases__0__version="5.3.0.0"), "releases[1].version", "listed twice (also releases[0])"),
        (edited(releases__1__version="5.2.1"), "releases[1].version", "blocked_versions"),
        (edited(releases__1__version="4.9"), "releases[1].version", "below minimum_version"),
        (edited(releases="5.3.0"), "releases", "list"),
        (edited(releases=["5.3.0"]), "releases[0]", "object"),
        (edited(blocked_versions="5.2.1"), "blocked_versions", "list"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_invalid_field_is_named(doc, path, says):
    problems = problems_of(doc)
    assert any(p["path"] == path and says in p["message"] for p in problems), problems


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"schema_version": 1,\n "channel": "stable",\n}', "line 3, column 1"),
        ("", "line 1, column 1"),
        ("[1, 2]", "must be a JSON object"),
        ('{"schema_version": 1, "channel": "a", "channel": "b"}', "'channel' appears twice"),
        ('{"schema_version": 1, "releases": [{"version": "5.3", "rollout_percent": NaN}]}', "NaN"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("x" * 300_000, "larger than"),
    ],
    ids=["trailing-comma", "empty", "array", "duplicate-key", "nan", "not-utf8", "too-big"],
)
def test_malformed_documents_are_document_level_problems(raw, says):
    problems = problems_of(raw)
    assert any(p["path"] == "" and says in p["message"] for p in problems), problems


@pytest.mark.parametrize("schema", [2, "1", 1.0, True, None])
def test_unknown_schema_versions_are_reported_alone(schema):
    problems = problems_of(edited(schema_version=schema, colour="red"))
    assert len(problems) == 1 and problems[0]["path"] == "schema_version"
    assert "Unsupported schema_version" in problems[0]["message"] and "reads 1" in problems[0]["message"]


def test_a_missing_schema_version_is_reported_with_the_rest():
    problems = problems_of(edited(schema_version=DELETE, colour="red"))
    assert {p["path"] for p in problems} == {"schema_version", "colour"}


def test_a_utf8_bom_is_tolerated():
    assert parse_control_file(b"\xef\xbb\xbf" + json.dumps(valid_doc()).encode()).serial == 12


def test_several_problems_are_all_listed():
    doc = valid_doc()
    doc["serial"] = -3
    doc["colour"] = "red"
    doc["releases"][0]["version"] = "five"
    doc["releases"][1]["rollout_percent"] = 150
    doc["releases"][1]["available_from"] = "soon"
    doc["releases"].append({"version": "5.2.2", "rollout_percent": 5, "extra": 1})
    paths = {p["path"] for p in problems_of(doc)}
    assert paths >= {
        "serial",
        "colour",
        "releases[0].version",
        "releases[1].rollout_percent",
        "releases[1].available_from",
        "releases[2].extra",
    }
    with pytest.raises(ControlFileInvalid, match=r"and \d+ more"):
        parse_control_file(json.dumps(doc))


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


def test_round_trip_of_the_valid_document():
    cf = parse_control_file(json.dumps(valid_doc()))
    out = control_file_to_json(cf)
    assert parse_control_file(json.dumps(out)) == cf
    assert out["releases"][1]["available_from"] == "2026-12-01T09:00:00Z"
    assert "platforms" not in out["releases"][0]


def test_parsing_does_not_change_the_input():
    doc = valid_doc()
    before = copy.deepcopy(doc)
    parse_control_file(json.dumps(doc))
    assert doc == before


versions = st.builds(
    lambda nums, pre: ".".join(map(str, nums)) + (f"-rc.{pre}" if pre is not None else ""),
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.none() | st.integers(0, 9),
)
entries = st.builds(
    ReleaseEntry,
    version=versions.map(Version),
    rollout_bp=st.integers(0, 10_000),
    available_from=st.none() | st.datetimes(timezones=st.just(UTC)),
    critical=st.booleans(),
    platforms=st.frozensets(st.sampled_from(PLATFORMS)),
)
control_files = st.builds(
    ControlFile,
    schema_version=st.just(1),
    channel=st.sampled_from(["stable", "beta", "canary-2"]),
    serial=st.none() | st.integers(1, 2**31 - 1),
    default_mode=st.sampled_from(["passive", "dynamic"]),
    minimum_version=st.none(),
    blocked_versions=st.frozensets(versions.map(Version), max_size=3),
    releases=st.lists(entries, max_size=5, unique_by=lambda e: e.version).map(tuple),
    notes=st.text(max_size=50),
).filter(lambda cf: not any(e.version in cf.blocked_versions for e in cf.releases))


@settings(max_examples=200)
@given(control_files)
def test_round_trip_property(cf):
    assert parse_control_file(json.dumps(control_file_to_json(cf))) == cf


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
field_names = st.sampled_from(["version", "rollout_percent", "available_from", "critical", "platforms", "serial"])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1), field_names, json_values)
def test_any_value_anywhere_gives_a_control_file_or_problems(index, name, value):
    doc = valid_doc()
    target = doc["releases"][index] if name != "serial" else doc
    target[name] = value
    try:
        cf = parse_control_file(json.dumps(doc))
    except ControlFileInvalid as exc:
        assert all(set(p) == {"path", "message"} and p["message"] for p in exc.problems)
    else:
        assert parse_control_file(json.dumps(control_file_to_json(cf))) == cf


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_input_never_crashes(raw):
    with pytest.raises(ControlFileInvalid):
        parse_control_file(raw)
