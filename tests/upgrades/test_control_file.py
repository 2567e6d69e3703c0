"""Control files: the schema, every problem at once and round trips."""

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
    control_file_to_json,
    parse_control_file,
)
from app.upgrades.versions import PLATFORMS, Version
from tests.upgrades.documents import DELETE, edited, valid_doc

EXAMPLE = Path(__file__).resolve().parents[2] / "control_files" / "example-stable.json"


def problems_of(raw) -> list[dict[str, str]]:
    with pytest.raises(ControlFileInvalid) as caught:
        parse_control_file(raw if isinstance(raw, str | bytes) else json.dumps(raw))
    assert caught.value.problems, "an invalid file must say why"
    return caught.value.problems


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
