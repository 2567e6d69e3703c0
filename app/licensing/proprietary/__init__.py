"""The ``proprietary`` licensing method: pluggable adapters (docs/licensing-webservice.md).

- adapters.py: the adapter interface, built-in adapters and plug-ins from the
  ``livery.licensing_adapters`` entry-point group, settings validation by each adapter's schema.
- method.py: :class:`ProprietaryMethod`, which hands each check to the partner's adapter.
- jwt_assertion.py: the built-in ``jwt_assertion`` adapter (partner-signed JWTs as proof).
"""

from app.licensing.proprietary.method import ProprietaryMethod

__all__ = ["ProprietaryMethod"]
