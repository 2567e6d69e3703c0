"""Billing fixtures: users licensed through the admin API, their allocation history back-dated
(the one thing the API cannot do), and usage facts written by the recorder the checks use."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from app.db import session
from app.licensing.models import AllocationEvent, is_allocated
from app.licensing.usage import UsageRecorder
from tests.licensing.world import LicensingWorld

CSV = {"Accept": "text/csv"}


def t(month: int, day: int, hour: int = 12) -> datetime:
    """A moment of 2026 in UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


class BillingWorld(LicensingWorld):
    """A licensing partner whose history is written at chosen times."""

    def history(self, user_id: str, *changes: tuple[datetime, dict | None]) -> int:
        """License ``user_id`` then apply ``changes`` (None removes it), the n-th event dated the n-th time."""
        _first_at, fields = changes[0]
        user = self.license(user_id, **(fields or {}))
        for _when, change in changes[1:]:
            if change is None:
                response = self.admin.delete(f"/licensed-users/{user['id']}", etag=user["etag"])
                assert response.status_code == 204, response.json
            else:
                response = self.admin.patch(f"/licensed-users/{user['id']}", change, etag=user["etag"])
                assert response.status_code == 200, response.json
                user = response.json
        self.backdate(user["id"], [when for when, _ in changes])
        return user["id"]

    def backdate(self, licensed_user_id: int, moments: list[datetime]) -> None:
        with self.app.app_context():
            events = (
                session()
                .scalars(
                    select(AllocationEvent)
                    .where(AllocationEvent.licensed_user_id == licensed_user_id)
                    .order_by(AllocationEvent.id.desc())  # SQLite may reuse a removed user's id: the newest
                    .limit(len(moments))
                )
                .all()[::-1]
            )
            assert len(events) == len(moments)
            for event, moment in zip(events, moments, strict=True):
                event.at = moment
            # each interval ends where the next event begins, as the services write it
            chain = (
                session()
                .scalars(
                    select(AllocationEvent)
                    .where(AllocationEvent.licensed_user_id == licensed_user_id, AllocationEvent.id >= events[0].id)
                    .order_by(AllocationEvent.at, AllocationEvent.id)
                )
                .all()
            )
            for event, after in zip(chain, [*chain[1:], None], strict=True):
                allocated = is_allocated(event.action, event.status)
                event.allocated_until = (after.at if after else None) if allocated else event.at
            session().commit()

    def checked(self, user_key: str, when: datetime, method: str = "web_service") -> None:
        """A licensed check of ``user_key`` at ``when``, recorded as the check records it."""
        with self.app.app_context():
            factory = self.app.extensions["livery.sessionmaker"]
            UsageRecorder(factory, flush_seconds=30, clock=time.monotonic).record(
                self.partner.id, user_key, method, None, when, written=False
            )


def make(app: Flask, slug: str = "acme", operator=None) -> BillingWorld:
    return BillingWorld(app, slug, operator=operator)
