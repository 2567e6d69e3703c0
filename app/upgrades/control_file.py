"""Control files: their versioned JSON schema, validation and the readiness gate (pure).

A control file says, for one channel, which releases are offered, from when, to what share of
installs, and how hard (see ``control_files/example-stable.json``). Validation never stops at
the first mistake: every problem comes back as ``{"path": "releases[0].version", "message": ...}``
(path "" for the document as a whole), so a partner fixes a file in one round trip.

``parse_control_file`` checks the document on its own; the second gate, against the partner's
releases just before activation, is ``upgrades/readiness.py``. Validation is plain code
rather than marshmallow because it needs JSON-exact types (``true`` is not ``1``, ``20.0`` is not
an integer serial), duplicate-key detection and one path syntax all the way down (the field
readers are in document_fields.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.formats import CHANNEL_NAME_HINT, is_channel_name
from app.upgrades.document_fields import (
    BAD,
    FieldProblem,
    Problems,
    check_fields,
    load_json,
    read_integer,
    read_platforms,
    read_rollout_bp,
    read_timestamp,
    read_version,
)
from app.upgrades.versions import PLATFORMS, Version

SCHEMA_VERSIONS = (1,)
MODES = ("passive", "dynamic")
FULL_ROLLOUT_BP = 10_000
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_NOTES = 2000
MAX_SERIAL = 2**31 - 1  # fits every SQL integer column
_TOP_FIELDS = {
    "schema_version", "channel", "serial", "default_mode", "minimum_version", "blocked_versions", "notes", "releases"
}  # fmt: skip
_TOP_REQUIRED = ("schema_version", "channel", "default_mode", "releases")
_RELEASE_FIELDS = {"version", "rollout_percent", "available_from", "critical", "platforms"}
_RELEASE_REQUIRED = ("version", "rollout_percent")


class ControlFileInvalid(ValueError):
    """A control file that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        first = problems[0]
        where = f"{first['path']}: " if first["path"] else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"Invalid control file: {where}{first['message']}{more}")


@dataclass(frozen=True)
class ReleaseEntry:
    """One offered version. An empty ``platforms`` means "every published platform", resolved at activation."""

    version: Version
    rollout_bp: int  # basis points, 0..10000: exact where a float percentage would not be
    available_from: datetime | None = None
    critical: bool = False
    platforms: frozenset[str] = frozenset()

    @property
    def rollout_percent(self) -> Decimal:
        """The rollout share as written, e.g. Decimal("12.5")."""
        return Decimal(self.rollout_bp) / 100


@dataclass(frozen=True)
class ControlFile:
    """A valid control file of one channel; ``releases`` keeps the document's order."""

    schema_version: int
    channel: str
    serial: int | None
    default_mode: str
    minimum_version: Version | None
    blocked_versions: frozenset[Version]
    releases: tuple[ReleaseEntry, ...]
    notes: str = ""


def _release(item: Any, path: str, problems: Problems) -> ReleaseEntry | None:
    if not isinstance(item, dict):
        problems.add(path, "Must be an object with at least version and rollout_percent.")
        return None
    before = len(problems)
    check_fields(item, path, _RELEASE_FIELDS, _RELEASE_REQUIRED, problems)
    version = read_version(item["version"], f"{path}.version", problems) if "version" in item else BAD
    bp = (
        read_rollout_bp(item["rollout_percent"], f"{path}.rollout_percent", problems)
        if "rollout_percent" in item
        else 0
    )
    available_from = read_timestamp(item.get("available_from"), f"{path}.available_from", problems)
    critical = item.get("critical", False)
    if not isinstance(critical, bool):
        problems.add(f"{path}.critical", "Must be true or false.")
    platforms = read_platforms(item["platforms"], f"{path}.platforms", problems) if "platforms" in item else frozenset()
    if len(problems) != before:
        return None
    return ReleaseEntry(version, bp, available_from, critical, platforms)


def _parse_v1(doc: dict[str, Any], problems: Problems) -> ControlFile | None:
    before = len(problems)
    check_fields(doc, "", _TOP_FIELDS, _TOP_REQUIRED, problems)
    channel = doc.get("channel")
    if "channel" in doc and not is_channel_name(channel):
        problems.add("channel", f"Must be a channel name: {CHANNEL_NAME_HINT}.")
    serial = doc.get("serial")
    if serial is not None:
        read_integer(serial, "serial", 1, MAX_SERIAL, problems)
    mode = doc.get("default_mode")
    if "default_mode" in doc and mode not in MODES:
        problems.add("default_mode", f"Must be one of: {', '.join(MODES)}.")
    minimum = doc.get("minimum_version")
    if minimum is not None:
        minimum = read_version(minimum, "minimum_version", problems)
    blocked_raw = doc.get("blocked_versions", [])
    blocked: dict[Version, int] = {}
    if not isinstance(blocked_raw, list):
        problems.add("blocked_versions", "Must be a list of version strings (may be empty).")
        blocked_raw = []
    for j, text in enumerate(blocked_raw):
        version = read_version(text, f"blocked_versions[{j}]", problems)
        if version is not BAD and version in blocked:
            problems.add(
                f"blocked_versions[{j}]", f"{text} is listed twice (also blocked_versions[{blocked[version]}])."
            )
        elif version is not BAD:
            blocked[version] = j
    notes = doc.get("notes", "")
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        problems.add("notes", f"Must be text of at most {MAX_NOTES} characters.")
    releases_raw = doc.get("releases", [])
    if not isinstance(releases_raw, list):
        problems.add("releases", "Must be a list of releases (may be empty: then nothing is offered).")
        releases_raw = []
    releases: list[ReleaseEntry] = []
    first_index: dict[Version, int] = {}
    for i, item in enumerate(releases_raw):
        entry = _release(item, f"releases[{i}]", problems)
        if entry is None:
            continue
        where = f"releases[{i}].version"
        if entry.version in first_index:
            problems.add(where, f"{entry.version} is listed twice (also releases[{first_index[entry.version]}]).")
        first_index.setdefault(entry.version, i)
        # Offering a blocked or too-old version would send clients to a version they must leave at once.
        if entry.version in blocked:
            problems.add(where, f"{entry.version} is in blocked_versions; it cannot also be offered.")
        if minimum not in (None, BAD) and entry.version < minimum:
            problems.add(where, f"{entry.version} is below minimum_version {minimum}; offer a newer version.")
        releases.append(entry)
    if len(problems) != before:
        return None
    return ControlFile(1, channel, serial, mode, minimum, frozenset(blocked), tuple(releases), notes)


_PARSERS = {1: _parse_v1}


def parse_control_file(raw: bytes | str) -> ControlFile:
    """The control file in ``raw``; raises ControlFileInvalid listing every problem."""
    problems = Problems()
    doc = load_json(raw, problems, MAX_DOCUMENT_BYTES)
    if doc is not BAD and not isinstance(doc, dict):
        problems.add("", 'The document must be a JSON object, e.g. {"schema_version": 1, ...}.')
    if problems:
        raise ControlFileInvalid(list(problems))
    schema = doc.get("schema_version")
    if "schema_version" in doc and (type(schema) is not int or schema not in _PARSERS):
        # Without a known schema the other fields have no defined meaning: report only this.
        supported = ", ".join(str(v) for v in SCHEMA_VERSIONS)
        message = f"Unsupported schema_version {json.dumps(schema, default=str)}; this server reads {supported}."
        raise ControlFileInvalid([{"path": "schema_version", "message": message}])
    control = _PARSERS[schema or 1](doc, problems)
    if problems or control is None:
        raise ControlFileInvalid(list(problems))
    return control


def _percent_json(bp: int) -> int | float:
    # A float is exact enough here: repr() of n/100 is the shortest text that reads back as n/100.
    return bp // 100 if bp % 100 == 0 else bp / 100


def _timestamp_json(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def control_file_to_json(cf: ControlFile) -> dict[str, Any]:
    """``cf`` as a JSON-ready mapping that parse_control_file reads back to an equal ControlFile."""
    releases = []
    for entry in cf.releases:
        item: dict[str, Any] = {
            "version": entry.version.text,
            "rollout_percent": _percent_json(entry.rollout_bp),
            "available_from": _timestamp_json(entry.available_from) if entry.available_from else None,
            "critical": entry.critical,
        }
        if entry.platforms:  # left out means "every published platform"; [] would be invalid
            item["platforms"] = sorted(entry.platforms, key=PLATFORMS.index)
        releases.append(item)
    return {
        "schema_version": cf.schema_version,
        "channel": cf.channel,
        "serial": cf.serial,
        "default_mode": cf.default_mode,
        "minimum_version": cf.minimum_version.text if cf.minimum_version else None,
        "blocked_versions": [v.text for v in sorted(cf.blocked_versions, key=lambda v: (v, v.text))],
        "notes": cf.notes,
        "releases": releases,
    }
