"""Proprietary licensing adapters: the interface, and where adapters come from.

An adapter is one module with a class that has a ``name``, a marshmallow ``settings_schema``
validating its own settings (admin input: its strings are the admin API's NUL-refusing
``String`` of app/api/admin/fields.py), and ``check(request, settings) -> Verdict`` (the method
contract, app/licensing/methods.py). Its class is constructed with Livery's :class:`~app.config.Settings`
(for the egress policy and timeouts of any call it makes).

Where they come from: Livery itself runs from a checkout, not as an installed distribution, so
its built-in adapters are listed in :data:`BUILT_IN`; adapters of other distributions are found
through the ``livery.licensing_adapters`` entry-point group (``name = "package.module:Class"``
in that package's ``pyproject.toml``). A built-in name cannot be taken by a plug-in.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Protocol

import marshmallow as ma

from app.config import Settings
from app.licensing.methods import CheckRequest, Verdict

ENTRY_POINT_GROUP = "livery.licensing_adapters"
BUILT_IN = {"jwt_assertion": "app.licensing.proprietary.jwt_assertion:JwtAssertionAdapter"}

log = logging.getLogger(__name__)


class LicensingAdapter(Protocol):
    """A proprietary way of deciding a licence check, configured by settings its schema validates."""

    name: str
    settings_schema: type[ma.Schema]

    def check(self, request: CheckRequest, settings: Mapping[str, Any]) -> Verdict:
        """The verdict for one user, given settings already loaded by ``settings_schema``."""
        ...


class UnknownAdapter(LookupError):
    """No built-in adapter and no installed plug-in has this name."""


def _load(reference: str) -> type:
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def adapter_classes() -> dict[str, str]:
    """Every available adapter name and where its class is (built-ins first, then plug-ins)."""
    found = dict(BUILT_IN)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILT_IN:
            log.warning("plug-in adapter %r ignored: a built-in adapter has that name", entry.name)
            continue
        found.setdefault(entry.name, entry.value)
    return found


def adapter_class(name: str) -> type:
    """The adapter class for ``name``; raise UnknownAdapter when there is none."""
    reference = adapter_classes().get(name)
    if reference is None:
        raise UnknownAdapter(f"No licensing adapter named {name!r}; available: {', '.join(sorted(adapter_classes()))}.")
    return _load(reference)


def validate_adapter_settings(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` loaded by the adapter's schema; raise marshmallow.ValidationError naming the field."""
    try:
        cls = adapter_class(name)
    except UnknownAdapter as exc:
        raise ma.ValidationError({"adapter": [str(exc)]}) from None
    return cls.settings_schema().load(dict(settings))


def build_adapter(name: str, config: Settings) -> LicensingAdapter:
    """A new adapter instance for ``name``."""
    return adapter_class(name)(config)
