"""Upgrade services: load, decide with the pure rules, store."""

from __future__ import annotations

from sqlalchemy.orm import Session


def channel_ready(session: Session, partner_id: int, channel: str) -> bool:
    """Whether ``channel`` of ``partner_id`` has an active, valid control file (upgrades enabled)."""
    return False
