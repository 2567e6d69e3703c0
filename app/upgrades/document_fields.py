"""Reading a JSON document field by field (pure): JSON-exact types, every problem kept with its path.

Control files (control_file.py) are read with these: ``true`` is not ``1``, ``20.0`` is not an
integer, a key given twice is a problem, and a reader that finds one records it in ``Problems``
under the field's path (``releases[0].version``; "" for the whole document) and returns ``BAD``,
so that validation goes on and a partner sees every problem in one round trip.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.upgrades.versions import PLATFORMS, InvalidVersion, Version

BAD = object()  # a field whose problem is already recorded
_RFC3339_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)

FieldProblem = dict[str, str]  # {"path": "releases[0].version", "message": ...}


class Problems(list):
    """Problems found so far, each with the path of the field it is about."""

    def add(self, path: str, message: str) -> None:
        self.append({"path": path, "message": message})


def load_json(raw: bytes | str, problems: Problems, max_bytes: int) -> Any:
    """The JSON value in ``raw`` (numbers as int or Decimal); BAD after recording why it is not one."""
    if len(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")) > max_bytes:
        problems.add("", f"The document is larger than {max_bytes} bytes.")
        return BAD
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
        except UnicodeDecodeError as exc:
            problems.add("", f"The document is not UTF-8 text (bad byte at offset {exc.start}).")
            return BAD

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                problems.add("", f"Key {key!r} appears twice in the same object; keep one.")
            seen[key] = value
        return seen

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        # Decimal keeps 12.34 exact; floats would turn 0.07 into 7.000000000000001 basis points.
        return json.loads(
            raw.lstrip("\ufeff"), parse_float=Decimal, parse_constant=no_constant, object_pairs_hook=no_duplicates
        )
    except json.JSONDecodeError as exc:
        problems.add("", f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.")
    except ValueError as exc:
        problems.add("", f"Malformed JSON: {exc}.")
    return BAD


def check_fields(
    obj: dict[str, Any], path: str, allowed: set[str], required: tuple[str, ...], problems: Problems
) -> None:
    """Record unknown fields of ``obj`` and missing ``required`` ones."""
    prefix = f"{path}." if path else ""
    for key in sorted(set(obj) - allowed):
        problems.add(f"{prefix}{key}", f"Unknown field {key!r}; allowed fields are {', '.join(sorted(allowed))}.")
    for key in required:
        if key not in obj:
            problems.add(f"{prefix}{key}", "This field is required.")


def read_version(value: Any, path: str, problems: Problems) -> Any:
    """The Version in ``value``, else BAD."""
    try:
        return Version(value)
    except InvalidVersion as exc:
        problems.add(path, str(exc))
        return BAD


def read_integer(value: Any, path: str, low: int, high: int, problems: Problems) -> Any:
    """A whole number from ``low`` to ``high``, else BAD."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"Must be a whole number from {low} to {high}.")
        return BAD
    if not low <= value <= high:
        problems.add(path, f"{value} is out of range; must be from {low} to {high}.")
        return BAD
    return value


def read_rollout_bp(value: Any, path: str, problems: Problems) -> Any:
    """A percentage with at most 2 decimals, as basis points, else BAD."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        problems.add(path, "Must be a number from 0 to 100 (a percentage, up to 2 decimals).")
        return BAD
    if not 0 <= value <= 100:
        problems.add(path, f"{value} is not a percentage; must be from 0 to 100.")
        return BAD
    bp = Decimal(value) * 100
    if bp != bp.to_integral_value():
        problems.add(path, f"{value} has more than 2 decimals; round it, e.g. to {Decimal(value):.2f}.")
        return BAD
    return int(bp)


def read_timestamp(value: Any, path: str, problems: Problems) -> Any:
    """An RFC 3339 date-time with an offset (in UTC) or None, else BAD."""
    if value is None:
        return None
    message = "Must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T09:00:00Z, or null."
    if not isinstance(value, str) or not _RFC3339_RE.fullmatch(value):
        problems.add(path, message)
        return BAD
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        problems.add(path, f"{value!r} is not a real date-time ({exc}).")
        return BAD
    return parsed.astimezone(UTC)


def read_platforms(value: Any, path: str, problems: Problems) -> Any:
    """A non-empty list of distinct platforms, as a frozenset, else BAD."""
    if not isinstance(value, list) or not value:
        problems.add(path, "Must be a non-empty list of platforms; leave it out to mean every published platform.")
        return BAD
    before = len(problems)
    for j, item in enumerate(value):
        if item not in PLATFORMS:
            problems.add(f"{path}[{j}]", f"Unknown platform {item!r}; expected one of: {', '.join(PLATFORMS)}.")
        elif value.index(item) != j:
            problems.add(f"{path}[{j}]", f"Platform {item!r} is listed twice.")
    return frozenset(value) if len(problems) == before else BAD
