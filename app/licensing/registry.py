"""Which object answers checks for a method name: ``portal``, ``web_service``, ``proprietary``.

The check answers ``portal``, ``web_service`` and ``proprietary`` with the app's own methods
(app/__init__.py builds them from the settings); a plug-in method registers an instance here
(``register(method)``) and the check asks ``method_for(name)`` for any other name, or to replace
nothing of the built-in ones. A name nobody answers for answers ``unavailable``.

Each method receives, as its ``settings`` mapping, the partner's licensing settings
(``app.licensing.services.settings_mapping``): ``partner_id``, ``licence_types``, ``lease_days``,
``grace_lease_hours``, ``grace_max_hours``, ``positive_cache_seconds``, ``negative_cache_seconds``,
``web_service_url_template``, ``web_service_secrets`` (newest first), ``proprietary_adapter``,
``proprietary_settings``, ``method_settings`` and ``egress_allow_private`` (LIVERY_EGRESS_ALLOW_PRIVATE).
"""

from __future__ import annotations

from app.licensing.methods import LicensingMethod

_METHODS: dict[str, LicensingMethod] = {}


def register(method: LicensingMethod) -> LicensingMethod:
    """Make ``method`` answer for ``method.name`` (a later registration replaces an earlier one)."""
    _METHODS[method.name] = method
    return method


def method_for(name: str) -> LicensingMethod | None:
    """The method registered for ``name``, or None."""
    return _METHODS.get(name)


def registered() -> list[str]:
    """Names of the registered methods (for the explain tool and tests)."""
    return sorted(_METHODS)
