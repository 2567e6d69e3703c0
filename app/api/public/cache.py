"""Precomputed public answers, kept fresh from the change log (see docs/architecture.md).

Each worker holds every access code's digest in a dictionary and renders each brand's document
once per (brand, live/draft, channel); a request is a dictionary lookup plus a header compare.
At most once per ``freshness_interval`` a request reads the change events newer than the last
seen (one indexed query, never one per request) and drops exactly the entries they name. Writes
made by this process are applied at commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.api.public.answers import Answer
from app.branding.document import RenderContext, render_discovery_document
from app.branding.models import AccessCode, Brand
from app.branding.services import brand_document_inputs
from app.freshness.feed import ChangeFeed
from app.metrics import freshness_polled
from app.onboarding.launches import record_test_launches
from app.partners.models import Partner
from app.partners.services import SETTING_STANDARD_VIEWER_URL, get_setting
from app.upgrades.services import channel_ready

log = logging.getLogger(__name__)
WARM_BUDGET = 10.0  # seconds a starting worker may spend rendering (gunicorn's timeout is 30 s)
GLOBAL_TOPICS = frozenset({"settings", "channel", "all"})  # topics that drop every rendered document


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """What a worker knows of one access code (keyed by its digest; never the code itself).

    ``live`` is the code's kind: live codes see the brand's published revision, test codes its
    draft. ``expires_at`` is epoch seconds or None; ``channel`` overrides the brand's upgrade
    channel when set. Equal entries are shared (interned) across codes to save memory.
    """

    partner_id: int
    brand_id: int
    live: bool
    revoked: bool
    expires_at: float | None
    channel: str | None

    def usable(self, now: float) -> bool:
        """Not revoked and not expired at ``now`` (epoch seconds)."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


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

Listener = Callable[[list[tuple[str, str]]], None]


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
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._make_session = make_session
        self._base_url = base_url
        self._default_viewer_url = standard_viewer_url
        self._interval = interval
        self._clock = clock
        self.wall_clock = wall_clock  # epoch seconds: when a code expires (tests move it)
        self._lock = threading.RLock()
        self._loaded = False
        self._codes: dict[str, CodeEntry] = {}
        self._interned: dict[CodeEntry, CodeEntry] = {}
        self._partners: dict[int, str] = {}
        self._documents: dict[tuple[int, bool, str | None], Answer | None] = {}
        self._feed = ChangeFeed(clock)
        self._next_poll = 0.0
        # test codes this worker has seen launch; the new ones are written at the next poll
        self._launched: set[str] = set()
        self._launches_pending: list[str] = []
        # called with every batch of changes applied here, whoever made them
        self.listeners: list[Listener] = []
        # called only with changes committed by this process (static publishing hooks in here)
        self.commit_listeners: list[Listener] = []

    # -- reading ---------------------------------------------------------------------------

    def warm(self, budget: float = WARM_BUDGET) -> None:
        """Load every access code, then render documents for up to ``budget`` seconds.

        gunicorn calls this before a worker accepts connections, so the first clients of a new
        worker do not pay the renders; what the budget leaves out is rendered on first use.
        """
        self._fresh()
        deadline = self._clock() + budget
        keys = {(e.brand_id, e.live, e.channel) for e in self._interned} - self._documents.keys()
        with self._lock, self._make_session() as session:
            for key in sorted(keys, key=lambda k: (k[0], k[1], k[2] or "")):
                if self._clock() > deadline:
                    break
                self._documents[key] = self._render(session, *key)

    def code(self, digest: str) -> CodeEntry | None:
        """The access code with this digest, or None."""
        if not self._loaded or self._clock() >= self._next_poll:
            self._fresh()
        return self._codes.get(digest)

    def code_valid(self, entry: CodeEntry, now: float) -> bool:
        """Whether ``entry`` may be answered at ``now``: usable, and its partner not suspended."""
        return entry.usable(now) and self._partners.get(entry.partner_id) != "suspended"

    def partner_live(self, entry: CodeEntry) -> bool:
        """Whether ``entry``'s partner has gone live (live codes of an onboarding partner answer 403)."""
        return self._partners.get(entry.partner_id) != "onboarding"

    def note_test_launch(self, digest: str) -> None:
        """Remember that a test code launched; written once per worker, in batches at the next poll."""
        if digest not in self._launched:
            self._launched.add(digest)
            self._launches_pending.append(digest)

    def flush_launches(self) -> None:
        """Write the test launches noted since the last flush (go-live readiness reads them)."""
        pending, self._launches_pending = self._launches_pending, []
        if not pending:
            return
        try:
            with self._make_session() as session:
                record_test_launches(session, pending)
                session.commit()
        except Exception:  # noqa: BLE001 - any database error: readiness only
            # readiness only; never fail a public answer for it: forget them, the next sight retries
            self._launched.difference_update(pending)
            log.warning("recording %d test launches failed; they are retried when seen again", len(pending))

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

    def digests(self, *, partner_id: int | None = None, brand_id: int | None = None) -> Iterator[str]:
        """Digests of every known code, or of one partner's or one brand's (O(codes): not for requests)."""
        self._fresh()
        for digest, entry in list(self._codes.items()):
            if (partner_id is None or entry.partner_id == partner_id) and (
                brand_id is None or entry.brand_id == brand_id
            ):
                yield digest

    def _render(self, session: Session, brand_id: int, live: bool, channel: str | None) -> Answer | None:
        inputs = brand_document_inputs(session, brand_id, live=live)
        if inputs is None:
            return None
        content, revision, assets = inputs
        partner_id, brand_slug = session.execute(select(Brand.partner_id, Brand.slug).where(Brand.id == brand_id)).one()
        effective_channel = channel or content["upgrade_channel"]
        ctx = RenderContext(
            base_url=self._base_url,
            standard_viewer_url=get_setting(session, SETTING_STANDARD_VIEWER_URL, self._default_viewer_url),
            upgrade_enabled=channel_ready(session, partner_id, effective_channel),
            brand_slug=brand_slug,
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
            self._feed.reset(session)
            interned: dict[CodeEntry, CodeEntry] = {}
            # identical entries (same brand, kind, status...) share one object: 100 000 codes over
            # 1 000 brands are ~2 000 distinct entries
            codes = {
                row.digest: interned.setdefault(e := _entry(row), e) for row in session.execute(select(*_CODE_COLUMNS))
            }
            partners = {row[0]: row[1] for row in session.execute(select(Partner.id, Partner.status))}
        self._codes, self._interned, self._partners = codes, interned, partners
        self._documents.clear()
        self._loaded = True
        self._next_poll = self._clock() + self._interval
        freshness_polled()

    def _poll(self) -> None:
        self.flush_launches()
        with self._make_session() as session:
            changes = self._feed.poll(session)
        self._next_poll = self._clock() + self._interval
        freshness_polled()
        if changes is None:  # a burst of changes: reloading is cheaper than replaying
            self._load_all()
            self._notify(self.listeners, [("all", "")])
        elif changes:
            self.apply(changes)

    def apply(self, changes: Iterable[tuple[str, str]], *, committed_here: bool = False) -> None:
        """Drop or reload what ``changes`` (topic, key) name. Idempotent.

        ``committed_here`` marks changes this process committed: commit listeners hear of them too.
        """
        changes = list(changes)
        if self._loaded:
            with self._lock, self._make_session() as session:
                for topic, key in changes:
                    self._apply_one(session, topic, key)
            self._notify(self.listeners, changes)
        if committed_here:
            self._notify(self.commit_listeners, changes)

    def _apply_one(self, session: Session, topic: str, key: str) -> None:
        if topic == "code":
            row = session.execute(select(*_CODE_COLUMNS).where(AccessCode.digest == key)).first()
            if row is None:
                self._codes.pop(key, None)
                return
            entry = _entry(row)
            self._codes[key] = self._interned.setdefault(entry, entry)
            if entry.partner_id not in self._partners:
                self._partners[entry.partner_id] = session.scalar(
                    select(Partner.status).where(Partner.id == entry.partner_id)
                )
        elif topic == "partner":
            self._partners[int(key)] = session.scalar(select(Partner.status).where(Partner.id == int(key)))
        elif topic == "brand":
            brand_id = int(key)
            for doc_key in [k for k in self._documents if k[0] == brand_id]:
                del self._documents[doc_key]
        if topic in GLOBAL_TOPICS:
            self._documents.clear()

    @staticmethod
    def _notify(listeners: list[Listener], changes: list[tuple[str, str]]) -> None:
        for listener in listeners:
            listener(changes)
