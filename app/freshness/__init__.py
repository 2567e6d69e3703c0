"""Change announcements that keep every worker's precomputed public answers fresh.

Every write that changes what a client sees adds a row to ``change_events`` in the same
transaction; each worker reads the rows after the last one it has seen (at most once per
``LIVERY_FRESHNESS_INTERVAL``) and drops the answers they name. See docs/architecture.md.
"""
