"""Precomputed public answers, kept fresh from the change log (see docs/architecture.md).

Each worker holds every access code's digest in a dictionary and renders each brand's document
once per (brand, live/draft, channel); a request is a dictionary lookup plus a header compare.
At most once per ``freshness_interval`` a request reads the change events newer than the last
seen and drops exactly the entries they name. Writes made by this process are applied at commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.branding.document import RenderContext, render_discovery_document
from app.branding.models import AccessCode, Brand
from app.branding.services import brand_document_inputs
from app.freshness.services import changes_after, latest_change_id
from app.partners.models import Partner
from app.partners.services import SETTING_STANDARD_VIEWER_URL, get_setting
from app.upgrades.services import channel_ready

MAX_EVENTS_PER_POLL = 1000


@dataclass(frozen=True, slots=True)
class CodeEntry:
    partner_id: int
    brand_id: int
    live: bool
    revoked: bool
    expires_at: float | None
    channel: str | None

    def usable(self, now: float) -> bool:
        """Not revoked and not expired at ``now`` (epoch seconds)."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    etag: str


def _entry(row) -> CodeEntry:
    return CodeEntry(
        partner_id=row.partner_id,
        brand_id=row.brand_id,
        live=row.kind == "live",
        revoked=row.status == "revoked",
        expires_at=row.expires_at.timestamp() if row.expires_at else None,
        channel=row.channel,
    )


_CODE_COLUMNS = (
    AccessCode.digest,
    AccessCode.partner_id,
    AccessCode.brand_id,
    AccessCode.kind,
    AccessCode.status,
    AccessCode.expires_at,
    AccessCode.channel,
)


class PublicAnswers:
    """One worker's precomputed public state."""

    def __init__(
        self,
        make_session: sessionmaker,
        *,
        base_url: str,
        standard_viewer_url: str,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_session = make_session
        self._base_url = base_url
        self._default_viewer_url = standard_viewer_url
        self._interval = interval
        self._clock = clock
        self._lock = threading.RLock()
        self._loaded = False
        self._codes: dict[str, CodeEntry] = {}
        self._partners: dict[int, str] = {}
        self._documents: dict[tuple[int, bool, str | None], Answer | None] = {}
        self._last_change = 0
        self._next_poll = 0.0
        self.listeners: list[Callable[[Iterable[tuple[str, str]]], None]] = []

    # -- reading ---------------------------------------------------------------------------

    def code(self, digest: str) -> CodeEntry | None:
        """The access code with this digest, or None."""
        self._fresh()
        return self._codes.get(digest)

    def partner_status(self, partner_id: int) -> str | None:
        """The lifecycle status of a partner."""
        return self._partners.get(partner_id)

    def discovery(self, entry: CodeEntry) -> Answer | None:
        """The discovery answer for ``entry``; None when a live code's brand was never published."""
        key = (entry.brand_id, entry.live, entry.channel)
        try:
            return self._documents[key]
        except KeyError:
            pass
        with self._lock, self._make_session() as session:
            answer = self._render(session, *key)
            self._documents[key] = answer
            return answer

    def _render(self, session: Session, brand_id: int, live: bool, channel: str | None) -> Answer | None:
        inputs = brand_document_inputs(session, brand_id, live=live)
        if inputs is None:
            return None
        content, revision, assets = inputs
        partner_id = session.scalar(select(Brand.partner_id).where(Brand.id == brand_id))
        effective_channel = channel or content["upgrade_channel"]
        ctx = RenderContext(
            base_url=self._base_url,
            standard_viewer_url=get_setting(session, SETTING_STANDARD_VIEWER_URL, self._default_viewer_url),
            upgrade_enabled=channel_ready(session, partner_id, effective_channel),
        )
        body, etag = render_discovery_document(
            content, revision=revision, channel=effective_channel, assets=assets, ctx=ctx
        )
        return Answer(body, etag)

    # -- freshness -------------------------------------------------------------------------

    def _fresh(self) -> None:
        if self._loaded and self._clock() < self._next_poll:
            return
        with self._lock:
            if not self._loaded:
                self._load_all()
            elif self._clock() >= self._next_poll:
                self._poll()

    def _load_all(self) -> None:
        with self._make_session() as session:
            last = latest_change_id(session)
            self._codes = {row.digest: _entry(row) for row in session.execute(select(*_CODE_COLUMNS))}
            self._partners = {row[0]: row[1] for row in session.execute(select(Partner.id, Partner.status))}
        self._documents.clear()
        self._last_change = last
        self._loaded = True
        self._next_poll = self._clock() + self._interval

    def _poll(self) -> None:
        with self._make_session() as session:
            events = changes_after(session, self._last_change, MAX_EVENTS_PER_POLL)
        self._next_poll = self._clock() + self._interval
        if len(events) >= MAX_EVENTS_PER_POLL:
            self._load_all()  # a burst of changes: reloading is cheaper than replaying
            self._notify([("all", "")])
            return
        if events:
            self._last_change = events[-1][0]
            self.apply([(topic, key) for _id, topic, key in events])

    def apply(self, changes: Iterable[tuple[str, str]]) -> None:
        """Drop or reload what ``changes`` (topic, key) name. Idempotent."""
        changes = list(changes)
        if not self._loaded:
            return
        with self._lock, self._make_session() as session:
            for topic, key in changes:
                if topic == "code":
                    row = session.execute(select(*_CODE_COLUMNS).where(AccessCode.digest == key)).first()
                    if row is None:
                        self._codes.pop(key, None)
                        continue
                    entry = self._codes[key] = _entry(row)
                    if entry.partner_id not in self._partners:
                        self._partners[entry.partner_id] = session.scalar(
                            select(Partner.status).where(Partner.id == entry.partner_id)
                        )
                elif topic == "partner":
                    self._partners[int(key)] = session.scalar(select(Partner.status).where(Partner.id == int(key)))
                elif topic == "brand":
                    self._drop_documents(lambda k, b=int(key): k[0] == b)
                elif topic in ("settings", "channel"):
                    self._drop_documents(lambda k: True)
        self._notify(changes)

    def _drop_documents(self, doomed: Callable[[tuple], bool]) -> None:
        for key in [k for k in self._documents if doomed(k)]:
            del self._documents[key]

    def _notify(self, changes: list[tuple[str, str]]) -> None:
        for listener in self.listeners:
            listener(changes)
