"""Per-worker state behind ``GET /v1/upgrade``: channel states, brand channels and signed answers.

A poll is a few dictionary lookups, one pure decision and, for an answer not seen before, one
Ed25519 signature. Entries are dropped when the change log names what they depend on
(``PublicAnswers.listeners``): ``channel`` → that channel, ``brand`` → that brand's channel,
anything global → everything. Signed answers are keyed by their payload, so they are never stale,
only bounded in number; ``decided`` finds them without building the payload, by what it is made of.
A state or brand channel dropped by a change is kept aside and answered while it cannot be loaded
again because the database is down (stale-if-error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.orm import sessionmaker

from app.api.public.answers import Answer
from app.api.public.cache import CodeEntry
from app.branding.services import brand_document_inputs
from app.db_health import DATABASE_DOWN
from app.formats import strong_etag
from app.freshness.models import LICENSING_TOPICS
from app.problems import Problem
from app.storage import StorageError, Stores
from app.upgrades.channel_state import ChannelState, load_channel_state
from app.upgrades.decision import Decision
from app.upgrades.signing import KeyRing, canonical_bytes, sign_payload

MAX_SIGNED = 20_000


class UpgradeAnswers:
    """One worker's cached upgrade state."""

    def __init__(self, make_session: sessionmaker, stores: Stores, ring: KeyRing) -> None:
        self._make_session = make_session
        self._stores = stores
        self.ring = ring
        self._lock = threading.RLock()
        self._channels: dict[tuple[int, str], ChannelState] = {}
        self._brand_channels: dict[tuple[int, bool], str | None] = {}
        # dropped by changes; answered while the database is down
        self._stale_channels: dict[tuple[int, str], ChannelState] = {}
        self._stale_brand_channels: dict[tuple[int, bool], str | None] = {}
        self._signed: dict[bytes, Answer] = {}
        # (id(state), client version, platform, action, reason, target, warnings) -> (state, answer)
        self._decided: dict[tuple, tuple[ChannelState, Answer]] = {}
        keys = canonical_bytes({"keys": ring.public_keys()})
        self._keys = Answer(keys, strong_etag(keys))

    @classmethod
    def attach(cls, app: Flask, ring: KeyRing) -> UpgradeAnswers:
        """Create the cache for ``app`` and subscribe it to the public answers' change notices."""
        answers = cls(app.extensions["livery.sessionmaker"], app.extensions["livery.stores"], ring)
        app.extensions["livery.public"].listeners.append(answers.forget)
        return answers

    def warm(self, entries: Iterable[CodeEntry], budget: float) -> None:
        """Load the channel state of every code's channel for up to ``budget`` seconds (at worker start),
        so that a database outage finds every channel's answers in memory."""
        deadline = time.monotonic() + budget
        for entry in entries:
            if time.monotonic() > deadline:
                return
            try:
                self.state_of(entry)
            except DATABASE_DOWN:
                return
            except (StorageError, Problem):
                continue  # this channel's file cannot be read now: loaded on first use

    def brand_channel(self, brand_id: int, live: bool) -> str | None:
        """The upgrade channel a brand's content names (published for live codes, draft for test)."""
        key = (brand_id, live)
        try:
            return self._brand_channels[key]
        except KeyError:
            pass
        try:
            with self._lock, self._make_session() as session:
                inputs = brand_document_inputs(session, brand_id, live=live)
        except DATABASE_DOWN:
            if key not in self._stale_brand_channels:
                raise
            return self._stale_brand_channels[key]
        channel = inputs.content.get("upgrade_channel") if inputs else None
        self._brand_channels[key] = channel
        return channel

    def state_of(self, entry: CodeEntry) -> ChannelState | None:
        """The state of the channel a code follows (its own, else its brand's); None when it has none
        (a live code whose brand was never published)."""
        name = entry.channel or self.brand_channel(entry.brand_id, entry.live)
        return None if name is None else self.channel(entry.partner_id, name)

    def channel(self, partner_id: int, name: str) -> ChannelState:
        """The state of channel ``name`` of ``partner_id`` (loaded once, until a change names it)."""
        key = (partner_id, name)
        try:
            return self._channels[key]
        except KeyError:
            pass
        try:
            with self._lock, self._make_session() as session:
                state = load_channel_state(session, self._stores, partner_id, name)
        except DATABASE_DOWN:
            if key not in self._stale_channels:
                raise
            return self._stale_channels[key]
        self._channels[key] = state
        return state

    def sign(self, payload: dict[str, Any]) -> Answer:
        """The signed answer for ``payload``: canonical JSON bytes of the envelope and their strong ETag."""
        key = canonical_bytes(payload)
        answer = self._signed.get(key)
        if answer is None:
            body = canonical_bytes(sign_payload(self.ring, payload))
            answer = Answer(body, strong_etag(body))
            if len(self._signed) >= MAX_SIGNED:
                self._signed.clear()  # crude but bounded; refilling costs one signature per answer
            self._signed[key] = answer
        return answer

    def decided(
        self,
        state: ChannelState,
        version: str,
        platform: str,
        decision: Decision,
        payload: Callable[[], dict[str, Any]],
        *,
        warnings: tuple[str, ...] = (),
    ) -> Answer:
        """The signed answer of ``decision``, memoised by what its payload is made of.

        A payload is fixed by the channel state (serial, name, installers), the client's version
        text and platform, the decision's action, reason and target, and its ``warnings``; the
        install id matters only through the decision (and its absence through a warning).
        ``payload()`` builds it on a miss. The state is part of the key by identity (a reloaded
        state is a new object) and kept in the value, so a reused id() never answers for another
        state.
        """
        target = decision.target.version.text if decision.target is not None else None
        key = (id(state), version, platform, decision.action, decision.reason, target, warnings)
        hit = self._decided.get(key)
        if hit is not None and hit[0] is state:
            return hit[1]
        answer = self.sign(payload())
        if len(self._decided) >= MAX_SIGNED:
            self._decided.clear()
        self._decided[key] = (state, answer)
        return answer

    @property
    def published_key_count(self) -> int:
        """How many public keys /v1/keys publishes (go-live readiness needs at least one)."""
        return len(self.ring.public_keys())

    def keys_document(self) -> Answer:
        """``{"keys": [...]}``: every public key of the ring (not itself signed: clients pin keys)."""
        return self._keys

    def forget(self, changes: Iterable[tuple[str, str]]) -> None:
        """Drop what ``changes`` (topic, key) name; a listener of PublicAnswers."""
        with self._lock:
            for topic, key in changes:
                if topic == "channel":
                    partner, _, name = key.partition(":")
                    if partner.isdigit():
                        _set_aside(self._channels, self._stale_channels, [(int(partner), name)])
                    else:
                        _set_aside(self._channels, self._stale_channels)
                elif topic == "brand" and key.isdigit():
                    _set_aside(self._brand_channels, self._stale_brand_channels, [(int(key), True), (int(key), False)])
                elif topic not in ("code", "partner", *LICENSING_TOPICS):  # codes carry their own channel override in
                    # CodeEntry; a partner's status decides whether its codes answer, not what they answer
                    _set_aside(self._channels, self._stale_channels)
                    _set_aside(self._brand_channels, self._stale_brand_channels)
                if topic not in ("brand", "code", "partner", *LICENSING_TOPICS):
                    self._decided.clear()  # drops the references to states no longer served


def _set_aside(held: dict, stale: dict, keys: Iterable | None = None) -> None:
    """Move ``keys`` (every key when None) of ``held`` into ``stale``."""
    for key in list(held) if keys is None else keys:
        if key in held:
            stale[key] = held.pop(key)
