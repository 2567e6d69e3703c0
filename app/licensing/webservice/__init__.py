"""The partner's own licensing web service ("own" licensing), docs/licensing-webservice.md.

- contract.py: pure: the URL for a user, the settings read from the check's mapping, the answer
  the partner must give.
- caller.py: one signed, bounded call (app.outbound: egress policy, HTTP client, signer).
- memory.py: pure: the per-worker answer cache, last good answers and circuit breaker.
- method.py: :class:`WebServiceMethod`, the ``web_service`` method the check dispatches to.
- verification.py and models.py: the go-live contract suite and its stored results.
"""

from app.licensing.webservice.method import WebServiceMethod

__all__ = ["WebServiceMethod"]
