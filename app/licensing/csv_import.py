"""CSV bulk import of licensed users (pure): parse and check the file's shape, line by line.

Format: UTF-8 (a BOM is allowed), comma-separated, a header line naming the columns, in any
order: ``user_id`` and ``customer_id`` (required), ``licence_type``, ``external_id``, ``status``
(optional; empty cells take the defaults). Each later line is one user. Lines are numbered as
in a text editor (the header is line 1). Database checks (customer, licence type) happen in the
service; this module reports what the file alone shows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from app.licensing.user_ids import InvalidUserId, normalise_user_id

COLUMNS = ("user_id", "customer_id", "licence_type", "external_id", "status")
REQUIRED = ("user_id", "customer_id")
MAX_ROWS = 100_000


class CsvRejected(ValueError):
    """The file as a whole cannot be read (encoding, header, size); the message says what to fix."""


@dataclass
class CsvRow:
    line: int
    fields: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)


def read_header(data: bytes) -> tuple[list[str], Any]:
    """The lower-cased column names of a UTF-8 CSV file (a BOM allowed) and a reader of its later lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvRejected("The file must be UTF-8 text.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [name.strip().lower() for name in next(reader)], reader
    except StopIteration:
        raise CsvRejected("The file is empty; the first line must name the columns.") from None
    except csv.Error as exc:
        raise CsvRejected(f"Line 1: {exc}") from None


def parse_users_csv(data: bytes) -> list[CsvRow]:
    """Every data line of ``data`` with its fields and the problems the file alone shows."""
    header, reader = read_header(data)
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise CsvRejected(
            f"The header must name each column once, from: {', '.join(COLUMNS)} "
            f"(required: {', '.join(REQUIRED)}); unknown: {unknown or 'none'}, missing: {missing or 'none'}."
        )
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvRejected(f"At most {MAX_ROWS} users per file; split it.")
            rows.append(_row(reader.line_num, header, cells, seen))
    except csv.Error as exc:
        raise CsvRejected(f"Line {reader.line_num}: {exc}") from None
    return rows


def _row(line: int, header: list[str], cells: list[str], seen: dict[str, int]) -> CsvRow:
    row = CsvRow(line, {})
    if len(cells) != len(header):
        row.errors["line"] = [f"Has {len(cells)} cells; the header names {len(header)} columns."]
        return row
    for name, cell in zip(header, cells, strict=True):
        value = cell.strip()
        if value:
            row.fields[name] = value
    for name in REQUIRED:
        if name not in row.fields:
            row.errors[name] = ["Required."]
    if "customer_id" in row.fields:
        if row.fields["customer_id"].isdigit():
            row.fields["customer_id"] = int(row.fields["customer_id"])
        else:
            row.errors["customer_id"] = ["Must be a customer id (a number)."]
    if "user_id" in row.fields:
        try:
            key = normalise_user_id(row.fields["user_id"])
        except InvalidUserId as exc:
            row.errors["user_id"] = [str(exc)]
        else:
            if key in seen:
                row.errors["user_id"] = [f"The same user as line {seen[key]} (ids match case-insensitively)."]
            seen.setdefault(key, line)
    return row
