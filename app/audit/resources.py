"""Which rows are audited, and how: registered beside each model (see its models.py).

A registration says how a row is named in the audit log (type, id, partner), what its snapshot
is (the ``before``/``after`` of an event) and which public answers change with it (the change
announcements that keep every worker fresh). ``announces`` is required: a resource that nothing
public shows says so with ``NOTHING_PUBLIC``, so a new resource cannot forget its announcement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

Snapshot = dict[str, Any]
# (session, row, before) -> the (topic, key) pairs of app.freshness whose answers the change touches
Announces = Callable[[Session, Any, Snapshot | None], Iterable[tuple[str, object]]]


def NOTHING_PUBLIC(_session: Session, _row: Any, _before: Snapshot | None) -> Iterable[tuple[str, object]]:
    """For resources no public answer shows (API keys, unreferenced assets, ...)."""
    return ()


def fields_snapshot(*names: str) -> Callable[[Any], Snapshot]:
    """A snapshot of the attributes ``names``, JSON-ready (times as ISO 8601, mappings copied)."""

    def snapshot(row: Any) -> Snapshot:
        values = {name: getattr(row, name) for name in names}
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = value.isoformat()
            elif isinstance(value, dict):
                values[name] = dict(value)
        return values

    return snapshot


@dataclass(frozen=True)
class AuditedResource:
    """How one model is audited."""

    type: str  # audit log resource_type, also the admin ETag's kind
    snapshot: Callable[[Any], Snapshot]
    announces: Announces
    ident: Callable[[Any], object]
    partner_of: Callable[[Any], int | None]


_RESOURCES: dict[type, AuditedResource] = {}


def audited_resource(
    model: type,
    type_name: str,
    *,
    snapshot: Callable[[Any], Snapshot],
    announces: Announces,
    ident: Callable[[Any], object] = lambda row: row.id,
    partner_of: Callable[[Any], int | None] = lambda row: row.partner_id,
) -> None:
    """Register how rows of ``model`` are audited and announced."""
    _RESOURCES[model] = AuditedResource(type_name, snapshot, announces, ident, partner_of)


def resource_of(row: Any) -> AuditedResource:
    """The registration of ``row``'s model; KeyError names a model nobody registered."""
    try:
        return _RESOURCES[type(row)]
    except KeyError:
        raise KeyError(f"{type(row).__name__} is not an audited resource: register it in its models.py") from None
