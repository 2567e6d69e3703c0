"""Outbound events to partners: a per-partner https webhook, signed (Standard Webhooks), retried.

- models.py: the partner's endpoint and the delivery table (one row per event, its attempts).
- services.py: configure the endpoint, queue an event in the caller's unit of work (outbox),
  list deliveries.
- delivery.py: send due deliveries from a scheduler or ``flask webhooks deliver`` (never on a
  request thread), with back-off for up to three days.
"""
