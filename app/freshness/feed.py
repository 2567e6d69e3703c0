"""Reading the change log in order, without losing events that commit out of order.

``change_events.id`` comes from a sequence: on PostgreSQL two transactions can take ids 7 and 8
and commit 8 first. A reader that only asks for ``id > last`` would then skip 7 for ever. The
feed remembers the ids it jumped over ("gaps") for ``GAP_WINDOW`` seconds and asks for them
again on every poll; an id that never shows up belonged to a rolled-back transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.freshness.models import ChangeEvent
from app.freshness.services import changes_after, latest_change_id

GAP_WINDOW = 30.0  # seconds a writer's transaction may stay open after announcing a change
MAX_GAP_RUN = 200  # ids skipped in one jump that are still tracked (bigger jumps: sequence reset)
MAX_EVENTS_PER_POLL = 1000

Change = tuple[str, str]


class ChangeFeed:
    """One reader's position in the change log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_id = 0
        self._gaps: dict[int, float] = {}  # id -> when it was first missed

    def reset(self, session: Session) -> None:
        """Start reading after the newest event; ids just below it that are missing become gaps."""
        self.last_id = latest_change_id(session)
        floor = max(0, self.last_id - MAX_GAP_RUN)
        present = set(session.scalars(select(ChangeEvent.id).where(ChangeEvent.id > floor)))
        now = self._clock()
        self._gaps = {i: now for i in range(floor + 1, self.last_id) if i not in present}

    def behind(self, session: Session) -> bool:
        """Whether the log holds events this reader has not read (one max(id) query), or ids it awaits."""
        return bool(self._gaps) or latest_change_id(session) > self.last_id

    def poll(self, session: Session) -> list[Change] | None:
        """Changes since the last poll, oldest first; None when so many that reloading is cheaper."""
        events = changes_after(session, self.last_id, MAX_EVENTS_PER_POLL)
        late = []
        if self._gaps:
            late = session.execute(
                select(ChangeEvent.id, ChangeEvent.topic, ChangeEvent.key).where(ChangeEvent.id.in_(list(self._gaps)))
            ).all()
        if len(events) >= MAX_EVENTS_PER_POLL:
            self.reset(session)
            return None
        now = self._clock()
        for event_id, _topic, _key in late:
            self._gaps.pop(event_id, None)
        expected = self.last_id + 1
        for event_id, _topic, _key in events:
            if event_id - expected <= MAX_GAP_RUN:
                for missing in range(expected, event_id):
                    self._gaps[missing] = now
            expected = event_id + 1
        if events:
            self.last_id = events[-1][0]
        for event_id, seen in list(self._gaps.items()):
            if now - seen > GAP_WINDOW:
                del self._gaps[event_id]
        return [(topic, key) for _id, topic, key in [*late, *events]]

    @property
    def gaps(self) -> list[int]:
        """Ids skipped over and still awaited (for tests and diagnostics)."""
        return sorted(self._gaps)
