"""Requests Livery sends out: to partners' web services, JWKS endpoints and (later) webhooks.

- egress.py: where a request may go (https only; public addresses only unless
  ``LIVERY_EGRESS_ALLOW_PRIVATE``), resolving the host once and checking every address.
- http.py: one bounded request to a checked address (connect timeout, total deadline, body cap,
  no redirects followed), so a hung or hostile endpoint costs a known, small time.
- signing.py: Standard Webhooks signatures (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``) and their verification, shared by every signed outbound request.

Nothing here knows about licensing: it sits outside the domain packages so that licensing and
outbound webhooks use one policy, one client and one signer.
"""
