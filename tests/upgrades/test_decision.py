"""The upgrade decision: one table row per rule, then the properties that must always hold."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.upgrades.control_file import ControlFile, ReleaseEntry
from app.upgrades.decision import Decision, decide_upgrade, rollout_bucket
from app.upgrades.signing import canonical_bytes
from app.upgrades.versions import PLATFORMS, Version

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
ALL = frozenset(PLATFORMS)


def entry(version: str, percent: float = 100, *, platforms=ALL, available_from=None, critical=False) -> ReleaseEntry:
    return ReleaseEntry(Version(version), round(percent * 100), available_from, critical, frozenset(platforms))


def control(*entries: ReleaseEntry, minimum=None, blocked=(), mode="passive", serial=7) -> ControlFile:
    return ControlFile(
        schema_version=1,
        channel="stable",
        serial=serial,
        default_mode=mode,
        minimum_version=Version(minimum) if minimum else None,
        blocked_versions=frozenset(Version(v) for v in blocked),
        releases=tuple(entries),
    )


def install_with(version: str, *, inside: int | None = None, outside: int | None = None) -> str:
    """An install id whose bucket for ``version`` is below ``inside`` or at/above ``outside`` basis points."""
    for n in itertools.count():
        install_id = f"install-{n}"
        bucket = rollout_bucket(install_id, version)
        if (inside is not None and bucket < inside) or (outside is not None and bucket >= outside):
            return install_id
    raise AssertionError("unreachable")


IN_20 = install_with("5.3.0", inside=2000)
OUT_20 = install_with("5.3.0", outside=2000)
TOMORROW, YESTERDAY = NOW + timedelta(days=1), NOW - timedelta(days=1)


def decide(cf, client="5.2.0", platform="windows-x64", install_id=IN_20, **kwargs) -> Decision:
    return decide_upgrade(
        cf, client_version=Version(client), platform=platform, install_id=install_id, now=NOW, **kwargs
    )


# (control file, decide() overrides, expected (action, target version or None, reason, mode_reason))
RULES = {
    "no control file: not configured": (None, {}, ("none", None, "not_configured", None)),
    "halted: nothing, whatever is offered": (control(entry("9.0")), {"halted": True}, ("none", None, "halted", None)),
    "halted beats not configured": (None, {"halted": True}, ("none", None, "halted", None)),
    "empty release list: up to date": (control(), {}, ("none", None, "up_to_date", None)),
    "full rollout of a newer release: offered": (
        control(entry("5.3.0")),
        {},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "the same version is never offered": (control(entry("5.2.0")), {}, ("none", None, "up_to_date", None)),
    "an equal version written differently is never offered": (
        control(entry("5.2")),
        {"client": "5.2.0.0"},
        ("none", None, "up_to_date", None),
    ),
    "an older version is never offered": (control(entry("5.1.9")), {}, ("none", None, "up_to_date", None)),
    "the release of a pre-release is newer": (
        control(entry("5.3.0")),
        {"client": "5.3.0-beta.2"},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "the highest eligible version wins": (
        control(entry("5.2.5"), entry("5.4.0"), entry("5.3.0")),
        {},
        ("passive", "5.4.0", "offered", "default_mode"),
    ),
    "inside a partial rollout: offered": (
        control(entry("5.2.2"), entry("5.3.0", 20)),
        {"install_id": IN_20},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "outside a partial rollout: the highest full release": (
        control(entry("5.2.1"), entry("5.2.2"), entry("5.3.0", 20)),
        {"install_id": OUT_20},
        ("passive", "5.2.2", "offered", "default_mode"),
    ),
    "outside a partial rollout with no full release: not in rollout": (
        control(entry("5.3.0", 20)),
        {"install_id": OUT_20},
        ("none", None, "not_in_rollout", None),
    ),
    "0% rollout offers nothing": (control(entry("5.3.0", 0)), {}, ("none", None, "not_in_rollout", None)),
    "no install id: only full releases": (
        control(entry("5.2.2"), entry("5.3.0", 99.99)),
        {"install_id": None},
        ("passive", "5.2.2", "offered", "default_mode"),
    ),
    "empty install id counts as none": (
        control(entry("5.3.0", 99.99)),
        {"install_id": ""},
        ("none", None, "not_in_rollout", None),
    ),
    "no install id and a full release: offered": (
        control(entry("5.3.0")),
        {"install_id": None},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "available_from in the future: invisible": (
        control(entry("5.2.2"), entry("5.3.0", available_from=TOMORROW)),
        {},
        ("passive", "5.2.2", "offered", "default_mode"),
    ),
    "available_from now: visible": (
        control(entry("5.3.0", available_from=NOW)),
        {},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "available_from in the past: visible": (
        control(entry("5.3.0", available_from=YESTERDAY)),
        {},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "other platforms only: invisible": (
        control(entry("5.3.0", platforms={"macos-arm64", "macos-x64"})),
        {},
        ("none", None, "up_to_date", None),
    ),
    "unresolved (empty) platforms: invisible": (
        control(entry("5.3.0", platforms=())),
        {},
        ("none", None, "up_to_date", None),
    ),
    "platform listed: visible": (
        control(entry("5.3.0", platforms={"macos-arm64"})),
        {"platform": "macos-arm64"},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "default mode dynamic": (
        control(entry("5.3.0"), mode="dynamic"),
        {},
        ("dynamic", "5.3.0", "offered", "default_mode"),
    ),
    "below minimum: dynamic": (
        control(entry("5.3.0"), minimum="5.2.1"),
        {},
        ("dynamic", "5.3.0", "offered", "below_minimum"),
    ),
    "at minimum: default mode": (
        control(entry("5.3.0"), minimum="5.2"),
        {},
        ("passive", "5.3.0", "offered", "default_mode"),
    ),
    "blocked client version: dynamic": (
        control(entry("5.3.0"), blocked=["5.2.0"]),
        {},
        ("dynamic", "5.3.0", "offered", "blocked_version"),
    ),
    "blocked matches by version equality": (
        control(entry("5.3.0"), blocked=["5.2"]),
        {"client": "5.2.0.0"},
        ("dynamic", "5.3.0", "offered", "blocked_version"),
    ),
    "critical target: dynamic": (
        control(entry("5.3.0", critical=True)),
        {},
        ("dynamic", "5.3.0", "offered", "critical"),
    ),
    "a critical release not offered does not make the offer dynamic": (
        control(entry("5.2.2"), entry("5.3.0", 20, critical=True)),
        {"install_id": OUT_20},
        ("passive", "5.2.2", "offered", "default_mode"),
    ),
    "below minimum wins over blocked and critical": (
        control(entry("5.3.0", critical=True), minimum="5.3", blocked=["5.2.0"]),
        {},
        ("dynamic", "5.3.0", "offered", "below_minimum"),
    ),
    "below minimum with nothing to offer: none": (
        control(entry("5.3.0", 20), minimum="5.3"),
        {"install_id": OUT_20},
        ("none", None, "not_in_rollout", None),
    ),
}


@pytest.mark.parametrize(("cf", "overrides", "expected"), list(RULES.values()), ids=list(RULES))
def test_rule(cf, overrides, expected):
    decision = decide(cf, **overrides)
    target = decision.target.version.text if decision.target else None
    assert (decision.action, target, decision.reason, decision.details["mode_reason"]) == expected
    assert canonical_bytes(decision.details)  # JSON-ready: no floats, no objects
    assert json.loads(json.dumps(decision.details)) == decision.details


def test_details_explain_the_decision():
    cf = control(entry("5.2.2"), entry("5.3.0", 12.5, platforms={"windows-x64"}), entry("5.1"), minimum="5.0")
    decision = decide(cf, install_id=OUT_20, halt_reason=None)
    details = decision.details
    assert details["serial"] == 7 and details["halted"] is False and details["minimum_version"] == "5.0"
    by_version = {c["version"]: c for c in details["candidates"]}
    assert [c["version"] for c in details["candidates"]] == ["5.3.0", "5.2.2", "5.1"]
    assert by_version["5.3.0"]["rollout_percent"] == "12.5" and by_version["5.3.0"]["rollout_bp"] == 1250
    assert by_version["5.3.0"]["excluded_because"] == "not_in_rollout" and by_version["5.3.0"]["in_rollout"] is False
    assert by_version["5.2.2"]["excluded_because"] is None and by_version["5.2.2"]["rollout_percent"] == "100"
    assert by_version["5.1"]["excluded_because"] == "not_newer" and by_version["5.1"]["newer"] is False
    assert details["bucket"] == rollout_bucket(OUT_20, "5.2.2")
    assert by_version["5.3.0"]["bucket"] == rollout_bucket(OUT_20, "5.3.0")


def test_halt_reason_is_reported():
    decision = decide(control(entry("9.0")), halted=True, halt_reason="bad build")
    assert decision.details["halted"] is True and decision.details["halt_reason"] == "bad build"
    assert decision.details["serial"] == 7 and decision.target is None


def test_not_in_rollout_reports_the_bucket_that_was_too_high():
    decision = decide(control(entry("5.3.0", 20)), install_id=OUT_20)
    assert decision.details["bucket"] == rollout_bucket(OUT_20, "5.3.0") >= 2000


@pytest.mark.parametrize(
    ("percent", "text"), [(0.05, "0.05"), (0.5, "0.5"), (12.05, "12.05"), (12.5, "12.5"), (12, "12"), (100, "100")]
)
def test_rollout_percent_is_exact_text(percent, text):
    decision = decide(control(entry("5.3.0", percent)))
    assert decision.details["candidates"][0]["rollout_percent"] == text


def test_bucket_is_the_documented_hash():
    digest = hashlib.sha256(b"abc\n5.3.0").digest()
    assert rollout_bucket("abc", "5.3.0") == int.from_bytes(digest[:8], "big") % 10000
    assert rollout_bucket("abc", "5.3.0") != rollout_bucket("abc", "5.3")  # by the text as written


def test_buckets_spread_evenly():
    buckets = [rollout_bucket(f"install-{n}", "5.3.0") for n in range(20_000)]
    assert all(0 <= b < 10_000 for b in buckets)
    share = sum(b < 2000 for b in buckets) / len(buckets)
    assert 0.18 < share < 0.22


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_upgrade(
            control(),
            client_version=Version("1"),
            platform="windows-x64",
            install_id=None,
            now=NOW.replace(tzinfo=None),
        )


# --- properties -------------------------------------------------------------------------------

versions = st.builds(
    lambda nums, pre: ".".join(map(str, nums)) + (f"-rc.{pre}" if pre is not None else ""),
    st.lists(st.integers(0, 3), min_size=1, max_size=3),
    st.none() | st.integers(0, 2),
).map(Version)
moments = st.sampled_from([None, None, YESTERDAY, NOW, TOMORROW])
entries = st.builds(
    ReleaseEntry,
    version=versions,
    rollout_bp=st.sampled_from([10_000, 5000, 2500, 1000, 9999, 1, 0]) | st.integers(0, 10_000),
    available_from=moments,
    critical=st.booleans(),
    platforms=st.just(ALL) | st.frozensets(st.sampled_from(PLATFORMS), min_size=1),
)
controls = st.builds(
    ControlFile,
    schema_version=st.just(1),
    channel=st.just("stable"),
    serial=st.integers(1, 100),
    default_mode=st.sampled_from(["passive", "dynamic"]),
    minimum_version=st.none() | versions,
    blocked_versions=st.frozensets(versions, max_size=2),
    releases=st.lists(entries, min_size=1, max_size=6, unique_by=lambda e: e.version).map(tuple),
)
clients = st.fixed_dictionaries(
    {
        "client_version": st.sampled_from(["0", "1.0-rc.1", "1", "2.1"]).map(Version) | versions,
        "platform": st.sampled_from(PLATFORMS),
        "install_id": st.none() | st.uuids().map(str),
        "now": st.just(NOW),
    }
)


@settings(max_examples=200, deadline=None)
@given(controls, clients)
def test_never_a_downgrade_or_the_same_version(cf, client):
    decision = decide_upgrade(cf, **client)
    if decision.action != "none":
        assert decision.target is not None and decision.target.version > client["client_version"]
        assert decision.target in cf.releases
    else:
        assert decision.target is None


@settings(max_examples=200, deadline=None)
@given(controls, clients)
def test_deterministic(cf, client):
    assert decide_upgrade(cf, **client) == decide_upgrade(cf, **client)


@settings(max_examples=200, deadline=None)
@given(controls, clients, st.data())
def test_raising_a_rollout_never_removes_a_client(cf, client, data):
    if not cf.releases:
        return
    index = data.draw(st.integers(0, len(cf.releases) - 1))
    raised = cf.releases[index]
    raised = replace(raised, rollout_bp=data.draw(st.integers(raised.rollout_bp, 10_000)))
    after_cf = replace(cf, releases=(*cf.releases[:index], raised, *cf.releases[index + 1 :]))
    before, after = decide_upgrade(cf, **client), decide_upgrade(after_cf, **client)
    if before.target is not None:
        assert after.target is not None and after.target.version >= before.target.version


@settings(max_examples=200, deadline=None)
@given(st.none() | controls, clients, st.none() | st.text(max_size=20))
def test_a_halted_channel_never_offers_anything(cf, client, reason):
    decision = decide_upgrade(cf, halted=True, halt_reason=reason, **client)
    assert (decision.action, decision.target, decision.reason) == ("none", None, "halted")


@settings(max_examples=200, deadline=None)
@given(controls, clients)
def test_without_install_id_only_full_releases(cf, client):
    decision = decide_upgrade(cf, **(client | {"install_id": None}))
    assert decision.target is None or decision.target.rollout_bp == 10_000


@settings(max_examples=200, deadline=None)
@given(controls, clients)
def test_a_full_newer_release_is_always_offered_something(cf, client):
    full = [
        e
        for e in cf.releases
        if e.rollout_bp == 10_000
        and e.version > client["client_version"]
        and client["platform"] in e.platforms
        and (e.available_from is None or e.available_from <= NOW)
    ]
    decision = decide_upgrade(cf, **client)
    assert decision.reason != "not_in_rollout" or not full
    if full:
        assert decision.target is not None and decision.target.version >= max(e.version for e in full)
