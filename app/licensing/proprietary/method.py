"""The ``proprietary`` licensing method: the partner's adapter decides, with its own settings."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from app.config import Settings
from app.licensing.methods import CheckRequest, Verdict
from app.licensing.proprietary.adapters import LicensingAdapter, UnknownAdapter, build_adapter
from app.licensing.webservice.memory import Lru

log = logging.getLogger(__name__)


class ProprietaryMethod:
    """Dispatches each check to the adapter the partner's settings name (``adapter``, ``adapter_settings``)."""

    name = "proprietary"

    def __init__(self, config: Settings | None = None) -> None:
        self._config = config or Settings()
        self._adapters: dict[str, LicensingAdapter] = {}
        # settings as the schema loaded them, keyed by their JSON: validated once, not per check
        self._loaded: Lru[tuple[str, str], dict[str, Any]] = Lru(1000)

    def adapter(self, name: str) -> LicensingAdapter:
        """The adapter instance for ``name`` in this worker (adapters keep caches, e.g. of JWKS)."""
        if name not in self._adapters:
            self._adapters[name] = build_adapter(name, self._config)
        return self._adapters[name]

    def check(self, request: CheckRequest, settings: Mapping[str, Any]) -> Verdict:
        """The adapter's verdict; ``unavailable`` when it is unknown, misconfigured or fails."""
        name = str(settings.get("adapter") or settings.get("proprietary_adapter") or "")
        raw = settings.get("adapter_settings") or settings.get("proprietary_settings") or {}
        try:
            adapter = self.adapter(name)
            key = (name, json.dumps(raw, sort_keys=True, default=str))
            loaded = self._loaded.get(key)
            if loaded is None:
                loaded = adapter.settings_schema().load(dict(raw))
                self._loaded.put(key, loaded)
            return adapter.check(request, loaded)
        except UnknownAdapter:
            return Verdict("unavailable", source={"kind": "adapter", "adapter": name, "reason": "unknown_adapter"})
        except ma.ValidationError:
            return Verdict("unavailable", source={"kind": "adapter", "adapter": name, "reason": "bad_settings"})
        except Exception:  # an adapter's bug must answer "unavailable", not fail the check
            log.exception("licensing adapter %r failed for partner %s", name, request.partner_id)
            return Verdict("unavailable", source={"kind": "adapter", "adapter": name, "reason": "error"})
