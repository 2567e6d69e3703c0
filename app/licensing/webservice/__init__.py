"""The partner's own licensing web service ("own" licensing), docs/licensing-webservice.md.

- contract.py: pure: the URL for a user, the settings read from the check's mapping, the answer
  the partner must give.
- caller.py: one signed, bounded call (app.outbound: egress policy, HTTP client, signer).
- memory.py: pure: the per-worker answer cache, last good answers and circuit breaker.
- last_good.py: last licensed answers shared by all workers through the database (for grace).
- method.py: :class:`WebServiceMethod`, the ``web_service`` method the check dispatches to;
  :func:`build_web_service_method` makes it as the service runs it.
- verification.py, services.py and models.py: the go-live contract suite, its stored results
  and the rule that reads them (``last_verification_passed``).
"""

from app.licensing.webservice.method import WebServiceMethod, build_web_service_method

__all__ = ["WebServiceMethod", "build_web_service_method"]
