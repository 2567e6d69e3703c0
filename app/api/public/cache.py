"""Precomputed public answers, kept fresh from the change log (see docs/architecture.md).

Each worker holds every access code's digest in a compact table (code_table.py: ~40 bytes per
code) and renders each brand's document once per (brand, live/draft, channel); a request is a
table lookup, a dictionary lookup and a header compare.
At most once per ``freshness_interval`` a request starts a poll of the change events newer than
the last seen (one indexed query, never one per request, in a thread of its own) and drops
exactly the entries they name. Writes made by this process are applied at commit.

When the database is down or hung, requests never wait on it: what is held keeps being answered
(stale-if-error: a document dropped by a change is kept aside and answered when it cannot be
rendered again), polls follow DatabaseHealth's back-off, one at a time per worker.

An unknown code starts a poll at once (at most once per ``miss_poll_interval`` per worker, waiting
at most ``miss_poll_timeout``) and looks again, so a code answers on every worker as soon as the
call that issued it has returned; a flood of unknown codes costs at most one small query per
interval, and none while the database is down.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.api.public.answers import Answer
from app.api.public.code_table import CodeTable
from app.branding.document import RenderContext, render_discovery_document
from app.branding.models import AccessCode, Asset, Brand
from app.branding.services import brand_document_inputs
from app.db import utcnow
from app.db_health import DATABASE_DOWN, DatabaseHealth, DatabaseUnavailable
from app.freshness.feed import ChangeFeed
from app.freshness.services import prune_changes
from app.metrics import freshness_polled
from app.onboarding.launches import record_test_launches
from app.partners.models import Partner
from app.partners.services import SETTING_STANDARD_VIEWER_URL, get_setting
from app.upgrades.models import Release
from app.upgrades.services import channel_ready

WARM_BUDGET = 10.0  # seconds a starting worker may spend rendering (gunicorn's timeout is 30 s)
GLOBAL_TOPICS = frozenset({"settings", "all"})  # topics that drop every rendered document
POLL_WAIT = 1.0  # seconds the request that starts a poll waits for it (not at all while the database is down)
# seconds a request waits for the very first load of the codes: before it nothing can be answered
# but 503, so a slow first load (a busy machine, a large table) is worth waiting for, within a bound
# well below gunicorn's 30 s worker timeout. Under gunicorn the load runs before a worker accepts
# (post_worker_init), so this only counts when that failed or for an in-process app (3 s was once
# exceeded on a loaded CI machine); on a hung database the load itself gives up sooner (connect
# and statement deadlines) and the back-off then answers 503 at once
FIRST_LOAD_WAIT = 8.0
PRUNE_EVERY = 600.0  # seconds (+ up to 50 % jitter) between one worker's prunes of old change events
PRUNE_BATCH = 500  # events deleted per prune: a short transaction, never a long lock
ASSET_BYTES_HELD = 32 * 1024 * 1024  # per worker: recently served asset bodies (content-addressed, never stale)
LAUNCH_GATHER_SECONDS = 0.25  # the launch writer writes at most once per this many seconds
LOAD_BATCH = 10_000  # code rows read at a time at a full load: a million codes never sit in memory as rows

log = logging.getLogger(__name__)


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
    return _entry_of(tuple(row)[1:])


def _entry_of(values: tuple) -> CodeEntry:
    """The entry of a code row's values after its digest (the order of _CODE_COLUMNS)."""
    partner_id, brand_id, kind, status, expires_at, channel = values
    return CodeEntry(partner_id, brand_id, kind == "live", status == "revoked",
                     expires_at.timestamp() if expires_at else None, channel)  # fmt: skip


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


def _published_installers(session: Session) -> dict[str, str | None]:
    """Published stored installers: digest -> the file name the partner set (or None)."""
    rows = session.execute(
        select(Release.sha256, Release.file_name).where(Release.source == "stored", Release.status == "published")
    )
    return {row.sha256: row.file_name for row in rows}


class PublicAnswers:
    """One worker's precomputed public state."""

    def __init__(
        self,
        make_session: sessionmaker,
        *,
        base_url: str,
        standard_viewer_url: str,
        interval: float,
        health: DatabaseHealth | None = None,
        retention_hours: int = 168,
        miss_poll_interval: float = 0.02,
        miss_poll_timeout: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._make_session = make_session
        self._base_url = base_url
        self._default_viewer_url = standard_viewer_url
        self._interval = interval
        self._clock = clock
        self.wall_clock = wall_clock  # epoch seconds: when a code expires (tests move it)
        self._health = health or DatabaseHealth(10.0)
        self._retention_hours = retention_hours
        self._lock = threading.RLock()
        self._loaded = False
        self._codes: CodeTable[CodeEntry] = CodeTable()
        self._partners: dict[int, str] = {}
        self._documents: dict[tuple[int, bool, str | None], Answer | None] = {}
        self._stale: dict[tuple[int, bool, str | None], Answer | None] = {}  # dropped, answered if a render fails
        # what assets and installers need, so that they need no query: asset -> media type (rows
        # are only ever added), published stored installers (kept fresh by channel changes)
        self._assets: dict[str, str] = {}
        self._installers: dict[str, str | None] = {}
        self._asset_bodies: OrderedDict[str, bytes] = OrderedDict()
        self._asset_body_bytes = 0
        self._asset_lock = threading.Lock()
        self._feed = ChangeFeed(clock)
        self._next_poll = 0.0
        self._next_prune = clock() + PRUNE_EVERY * random.uniform(0.5, 1.5)
        self._refresher: threading.Thread | None = None
        self._refresher_lock = threading.Lock()
        self._miss_poll_interval = miss_poll_interval
        self._miss_poll_timeout = miss_poll_timeout
        self._next_miss_poll = 0.0
        # test codes this worker has seen launch; the first sight queues it for the launch writer
        self._launched: set[str] = set()
        self._launches_pending: list[str] = []
        self._launches_lock = threading.Lock()
        self._launches_due = threading.Event()
        self._launches_writing = threading.Lock()  # one write of launches at a time (the writer, a poll)
        self._launch_writer: threading.Thread | None = None
        # called with every batch of changes applied here, whoever made them
        self.listeners: list[Listener] = []
        # called only with changes committed by this process (static publishing hooks in here)
        self.commit_listeners: list[Listener] = []

    # -- reading ---------------------------------------------------------------------------

    def warm(self, budget: float = WARM_BUDGET) -> None:
        """Load every access code, then render documents for up to ``budget`` seconds.

        gunicorn calls this before a worker accepts connections, so the first clients of a new
        worker do not pay the renders; what the budget leaves out is rendered on first use. With
        the database down it returns within the budget: the worker starts, /readyz says why it
        is not ready, and the codes load at the next reconnect attempt.
        """
        deadline = self._clock() + budget
        self._fresh(wait=budget)
        if not self._loaded:
            log.error("starting without public answers: the database did not answer; retrying with back-off")
            return
        keys = {(e.brand_id, e.live, e.channel) for e in self._codes.entries()} - self._documents.keys()
        try:
            with self._lock, self._make_session() as session:
                for key in sorted(keys, key=lambda k: (k[0], k[1], k[2] or "")):
                    if self._clock() > deadline:
                        break
                    self._documents[key] = self._render(session, *key)
        except DATABASE_DOWN:
            pass  # rendered on first use

    def entries(self) -> list[CodeEntry]:
        """The distinct code entries held (what upgrade answers are loaded for at worker start)."""
        return self._codes.entries()

    @property
    def loaded(self) -> bool:
        """Whether the access codes are held (false only until the first successful load)."""
        return self._loaded

    def code(self, digest: str) -> CodeEntry | None:
        """The access code with this digest, or None; DatabaseUnavailable before the codes ever loaded."""
        if not self._loaded or self._clock() >= self._next_poll:
            self._fresh()
            if not self._loaded:  # "unknown" would tell the client its code is wrong: it is not
                raise DatabaseUnavailable(self._health.retry_after())
        entry = self._codes.get(digest)
        if entry is None:
            return self._look_again(digest, self._miss_poll_timeout)
        return entry

    def _look_again(self, digest: str, timeout: float) -> CodeEntry | None:
        """On a miss, poll the change log now (rate-limited per worker) and look again; None when still unknown.

        A code issued on another worker is known here as soon as its issue call has returned. It
        goes through the one-poll-at-a-time refresher, so the database's back-off applies and the
        wait is bounded by ``timeout``: a slow or unreachable database answers the miss as unknown.
        """
        now = self._clock()
        if now < self._next_miss_poll:
            return None
        self._next_miss_poll = now + self._miss_poll_interval
        deadline = now + timeout
        with self._refresher_lock:
            running = self._refresher
        if running is not None and running.is_alive():
            # a poll already in flight may have read the log before the code was issued: wait
            # for it, then start one of our own
            running.join(timeout)
            if (entry := self._codes.get(digest)) is not None:
                return entry
        remaining = deadline - self._clock()
        if remaining > 0:
            self._next_poll = 0.0  # due now
            self._fresh(wait=remaining)
        return self._codes.get(digest)

    def known_asset(self, sha256: str) -> str | None:
        """The media type of an asset this worker knows (asset rows are only ever added)."""
        return self._assets.get(sha256)

    def remember_asset(self, sha256: str, media_type: str) -> None:
        """Note an asset found in the database."""
        self._assets[sha256] = media_type

    def asset_body(self, sha256: str, read: Callable[[], bytes]) -> bytes:
        """An asset's bytes: held ones, else ``read()``'s, then held (up to ASSET_BYTES_HELD per worker),
        so that an object-store outage or hang does not stop the images clients ask for."""
        body = self._asset_bodies.get(sha256)
        if body is not None:
            return body
        body = read()
        if len(body) <= ASSET_BYTES_HELD // 8:
            with self._asset_lock:
                if sha256 not in self._asset_bodies:
                    self._asset_bodies[sha256] = body
                    self._asset_body_bytes += len(body)
                while self._asset_body_bytes > ASSET_BYTES_HELD:  # the oldest go first
                    _old, dropped = self._asset_bodies.popitem(last=False)
                    self._asset_body_bytes -= len(dropped)
        return body

    def known_installer(self, sha256: str) -> bool:
        """Whether this installer is published, as far as this worker knows (kept fresh by channel changes)."""
        return sha256 in self._installers

    def installer_file_name(self, sha256: str) -> str | None:
        """The file name the partner set for a known published installer (None: not set or not known)."""
        return self._installers.get(sha256)

    def remember_installer(self, sha256: str, file_name: str | None) -> None:
        """Note a published installer found in the database."""
        self._installers[sha256] = file_name

    def code_valid(self, entry: CodeEntry, now: float) -> bool:
        """Whether ``entry`` may be answered at ``now``: usable, and its partner not suspended."""
        return entry.usable(now) and self._partners.get(entry.partner_id) != "suspended"

    def partner_live(self, entry: CodeEntry) -> bool:
        """Whether ``entry``'s partner has gone live (live codes of an onboarding partner answer 403)."""
        return self._partners.get(entry.partner_id) != "onboarding"

    def note_test_launch(self, digest: str) -> None:
        """Note that a test code launched (go-live readiness reads it): a set lookup, then a queue.

        This worker's first sight of the code queues it and wakes the launch writer, a thread that
        writes it moments later: the answer never waits for a database write (when many test codes
        launch at once, a transaction each would hold every request of the worker behind them).
        While the database is down, or when the write fails, the next freshness poll writes it.
        """
        if digest in self._launched:
            return
        with self._launches_lock:
            if digest in self._launched:
                return
            self._launched.add(digest)
            self._launches_pending.append(digest)
            if self._launch_writer is None or not self._launch_writer.is_alive():
                # started on first use, so in the worker process (after gunicorn's fork)
                self._launch_writer = threading.Thread(target=self._write_launches_when_due,
                                                       name="livery-test-launches", daemon=True)  # fmt: skip
                self._launch_writer.start()
        self._launches_due.set()

    def _write_launches_when_due(self) -> None:
        # asleep on the event (no polling) until a first sight, written at once; at most one write per
        # LAUNCH_GATHER_SECONDS though, each writing what queued meanwhile: many test codes seen at once
        # (a worker's first minute) cost a few writes, not one each, and no GIL hand-off per request
        last_write = -LAUNCH_GATHER_SECONDS
        while True:
            self._launches_due.wait()
            time.sleep(max(0.0, last_write + LAUNCH_GATHER_SECONDS - time.monotonic()))
            last_write = time.monotonic()
            self._launches_due.clear()
            with self._launches_writing:
                with self._launches_lock:
                    batch, self._launches_pending = self._launches_pending, []
                if batch and not (self._health.up and self._write_launches(batch)):
                    with self._launches_lock:
                        self._launches_pending[:0] = batch  # the next freshness poll tries again

    def flush_launches(self) -> None:
        """Write the test launches whose write waited (go-live readiness reads them)."""
        with self._launches_writing:
            with self._launches_lock:
                pending, self._launches_pending = self._launches_pending, []
            if pending and not self._write_launches(pending):
                # readiness only; never fail a public answer for it: forget them, the next sight retries
                with self._launches_lock:
                    self._launched.difference_update(pending)
                log.warning("recording %d test launches failed; they are retried when seen again", len(pending))

    def _write_launches(self, digests: list[str]) -> bool:
        """Write the launches in one transaction (one each after a clash); False when the database failed."""
        try:
            try:
                self._record_launches(digests)
            except IntegrityError:  # another worker recorded one of them at the same moment
                for digest in digests:
                    with contextlib.suppress(IntegrityError):
                        self._record_launches([digest])
        except Exception:  # noqa: BLE001 - any database error: readiness only, never the answer
            return False
        return True

    def _record_launches(self, digests: list[str]) -> None:
        with self._make_session() as session:
            record_test_launches(session, digests)
            session.commit()

    def discovery(self, entry: CodeEntry) -> Answer | None:
        """The discovery answer for ``entry``; None when a live code's brand was never published."""
        key = (entry.brand_id, entry.live, entry.channel)
        try:
            return self._documents[key]
        except KeyError:
            pass
        # a poll stuck on a hung database holds the lock for at most its statement deadline
        if not self._lock.acquire(timeout=POLL_WAIT):
            return self._stale_answer(key, None)
        try:
            with self._make_session() as session:
                answer = self._render(session, *key)
            self._documents[key] = answer
            return answer
        except DATABASE_DOWN as exc:
            return self._stale_answer(key, exc)
        finally:
            self._lock.release()

    def _stale_answer(self, key: tuple[int, bool, str | None], exc: Exception | None) -> Answer | None:
        if key in self._stale:
            return self._stale[key]
        if isinstance(exc, DatabaseUnavailable):
            raise exc
        raise DatabaseUnavailable(self._health.retry_after()) from exc

    def digests(self, *, partner_id: int | None = None, brand_id: int | None = None) -> Iterator[str]:
        """Digests of every known code, or of one partner's or one brand's (O(codes): not for requests)."""
        self._fresh()
        for digest, entry in self._codes.items():  # (a poll may update the table meanwhile: harmless here)
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

    def refresh(self, wait: float = POLL_WAIT) -> None:
        """Start a poll (or the first load) when one is due, and wait for it at most ``wait`` seconds."""
        self._fresh(wait)

    def _fresh(self, wait: float = POLL_WAIT) -> None:
        if self._loaded and self._clock() < self._next_poll:
            return
        with self._refresher_lock:
            thread = self._refresher
            if thread is not None and thread.is_alive():
                if self._loaded:
                    return  # one poll at a time: this request answers with what is held
            elif not self._health.attempt_due():
                return  # down: the back-off schedule says when to try again
            else:
                thread = self._refresher = threading.Thread(target=self._refresh, name="livery-freshness", daemon=True)
                thread.start()
        if not self._loaded:  # nothing held to answer with: every request waits for the first load
            thread.join(max(wait, FIRST_LOAD_WAIT))
        elif self._health.up:
            thread.join(wait)

    def _refresh(self) -> None:
        try:
            if not self._loaded:
                self._load_all()
            else:
                self._poll()
        except DATABASE_DOWN:
            pass  # DatabaseHealth logged the state change and scheduled the next attempt
        except Exception:
            log.exception("freshness poll failed")
        finally:
            self._next_poll = self._clock() + self._interval

    def _load_all(self) -> None:
        with self._make_session() as session:
            self._feed.reset(session)
            codes: CodeTable[CodeEntry] = CodeTable(session.scalar(select(func.count()).select_from(AccessCode)))
            # identical entries (same brand, kind, status...) share one object: 100 000 codes over
            # 1 000 brands are ~2 000 distinct entries; rows stream in batches (never all at once),
            # as plain Core rows (the ORM's row handling doubled the load's time at a million codes)
            found = session.connection().execute(select(*_CODE_COLUMNS).execution_options(yield_per=LOAD_BATCH))
            codes.load(((row[0], row[1:]) for row in found), _entry_of)
            partners = {row[0]: row[1] for row in session.execute(select(Partner.id, Partner.status))}
            assets = {row[0]: row[1] for row in session.execute(select(Asset.sha256, Asset.media_type))}
            installers = _published_installers(session)
        self._codes, self._partners = codes, partners
        self._assets, self._installers = assets, installers
        self._drop_documents(list(self._documents))
        self._loaded = True
        self._next_poll = self._clock() + self._interval
        freshness_polled()

    def _poll(self) -> None:
        self.flush_launches()
        with self._make_session() as session:
            changes = self._feed.poll(session)
        self._next_poll = self._clock() + self._interval
        freshness_polled()
        if self._clock() >= self._next_prune:
            self._prune()
        if changes is None:  # a burst of changes: reloading is cheaper than replaying
            self._load_all()
            self._notify(self.listeners, [("all", "")])
        elif changes:
            self.apply(changes)

    def _prune(self) -> None:
        """Delete a small batch of change events older than the retention (each worker, now and then)."""
        self._next_prune = self._clock() + PRUNE_EVERY * random.uniform(1.0, 1.5)
        older_than = utcnow() - timedelta(hours=self._retention_hours)
        with self._make_session() as session:
            prune_changes(session, older_than, limit=PRUNE_BATCH)
            session.commit()

    def _drop_documents(self, keys: list[tuple[int, bool, str | None]]) -> None:
        for key in keys:
            with contextlib.suppress(KeyError):  # dropped meanwhile by another thread
                self._stale[key] = self._documents.pop(key)

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
                self._codes.pop(key)
                return
            entry = _entry(row)
            self._codes.set(key, entry)
            if entry.partner_id not in self._partners:
                self._partners[entry.partner_id] = session.scalar(
                    select(Partner.status).where(Partner.id == entry.partner_id)
                )
        elif topic == "channel":  # release publications and yanks announce their partner's channels
            self._installers = _published_installers(session)
            self._drop_documents(self._channel_documents(key))
        elif topic == "partner":
            self._partners[int(key)] = session.scalar(select(Partner.status).where(Partner.id == int(key)))
        elif topic == "brand":
            brand_id = int(key)
            self._drop_documents([k for k in self._documents if k[0] == brand_id])
        if topic in GLOBAL_TOPICS:
            self._drop_documents(list(self._documents))

    def _channel_documents(self, key: str) -> list[tuple[int, bool, str | None]]:
        """The documents a change of channel ``key`` ("<partner id>:<name>") may alter: its partner's.

        A document says whether its channel is ready for upgrades; other partners' documents stay.
        """
        partner, _, _name = key.partition(":")
        if not partner.isdigit():
            return list(self._documents)
        brands = {e.brand_id for e in self._codes.entries() if e.partner_id == int(partner)}
        return [k for k in self._documents if k[0] in brands]

    @staticmethod
    def _notify(listeners: list[Listener], changes: list[tuple[str, str]]) -> None:
        for listener in listeners:
            listener(changes)
