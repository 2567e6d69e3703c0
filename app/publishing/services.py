"""Writing and removing static answers: a full rebuild, and incremental updates after each commit.

Files are written only when their bytes differ from what is there (compared by sha256), so an
unchanged file keeps its mtime, and with it nginx's ETag, S3's ETag and every CDN copy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from app.storage import ObjectStore

DISCOVERY_PREFIX = "discovery/"
MEDIA_TYPE = "application/json"
FULL_REBUILD_TOPICS = frozenset({"settings", "all"})
WRITERS = 8

log = logging.getLogger(__name__)


class Answers(Protocol):
    """What the publisher needs from the precomputed public answers (app/api/public/cache.py)."""

    def code(self, digest: str) -> Any: ...
    def code_valid(self, entry: Any, now: float) -> bool: ...
    def discovery(self, entry: Any) -> Any: ...
    def digests(self, *, partner_id: int | None = None, brand_id: int | None = None) -> Iterator[str]: ...


@dataclass(frozen=True)
class FileSource:
    """An extra kind of static file per code (e.g. upgrade manifests), under ``<namespace>/<digest>/``.

    ``files(digest, entry)`` gives {name: bytes}, every name one of ``names``; declaring the names
    lets a code's files be found without listing the store (one listing per code made a
    partner-wide republish quadratic).
    """

    names: frozenset[str]
    files: Callable[[str, Any], dict[str, bytes]]


@dataclass
class Counts:
    written: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        return f"{self.written} written, {self.unchanged} unchanged, {self.deleted} deleted"


class StaticPublisher:
    """Keeps a static root in step with the public answers of this process."""

    def __init__(self, store: ObjectStore, answers: Answers, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.answers = answers
        self.clock = clock
        self.sources: dict[str, FileSource] = {}

    def files_for(self, digest: str) -> dict[str, bytes]:
        """Every static file of one code; empty when the API would not answer it with 200."""
        entry = self.answers.code(digest)
        if entry is None or not self.answers.code_valid(entry, self.clock()):
            return {}
        files = {}
        answer = self.answers.discovery(entry)
        if answer is not None:
            files[f"{DISCOVERY_PREFIX}{digest}.json"] = answer.body
        for namespace, source in self.sources.items():
            for name, data in source.files(digest, entry).items():
                files[f"{namespace}/{digest}/{name}"] = data
        return files

    def _owned(self, digest: str) -> set[str]:
        keys = {f"{DISCOVERY_PREFIX}{digest}.json"}
        for namespace, source in self.sources.items():
            keys.update(f"{namespace}/{digest}/{name}" for name in source.names)
        return keys

    def publish_code(self, digest: str, counts: Counts | None = None) -> Counts:
        """Write one code's files (where changed) and delete the ones it no longer has."""
        counts = counts or Counts()
        wanted = self.files_for(digest)
        for key, data in wanted.items():
            written = self._write(key, data)
            counts.written += written
            counts.unchanged += not written
        for key in self._owned(digest) - wanted.keys():
            if self.store.stat(key) is not None:
                self.store.delete(key)
                counts.deleted += 1
        return counts

    def publish_all(self) -> Counts:
        """Full rebuild: every code's files, and every file under the managed prefixes removed unless wanted."""
        counts = Counts()
        wanted: dict[str, bytes] = {}
        for digest in self.answers.digests():
            wanted.update(self.files_for(digest))
        # writes wait on the disk or on S3, not on Python: a few threads overlap them
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for written in pool.map(lambda item: self._write(*item), wanted.items()):
                counts.written += written
                counts.unchanged += not written
        for prefix in (DISCOVERY_PREFIX, *(f"{ns}/" for ns in self.sources)):
            for key in list(self.store.keys(prefix)):
                if key not in wanted:
                    self.store.delete(key)
                    counts.deleted += 1
        return counts

    def publish_changes(self, changes: Iterable[tuple[str, str]]) -> Counts:
        """Bring the files that ``changes`` (topic, key) touch up to date."""
        changes = list(changes)
        if any(topic in FULL_REBUILD_TOPICS for topic, _key in changes):
            return self.publish_all()
        digests: dict[str, None] = {}
        for topic, key in changes:
            if topic == "code":
                digests[key] = None
            elif topic == "brand":
                digests.update(dict.fromkeys(self.answers.digests(brand_id=int(key))))
            elif topic in ("partner", "channel"):  # a channel's key is "<partner id>:<name>"
                partner_id = int(key.split(":", 1)[0])
                digests.update(dict.fromkeys(self.answers.digests(partner_id=partner_id)))
        counts = Counts()
        for digest in digests:
            self.publish_code(digest, counts)
        return counts

    def after_commit(self, changes: list[tuple[str, str]]) -> None:
        """Commit listener: publish, and never fail the request whose changes are already committed."""
        try:
            counts = self.publish_changes(changes)
            log.info("static publish: %s", counts)
        except Exception:  # storage, disk, a bug: the write is committed and must not become a 500
            # the database is the truth; `flask static-publish` (run from cron) repairs the root
            log.exception("static publish failed after commit; run `flask static-publish` to repair")

    def _write(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key`` unless it is already there; True when written."""
        return self.store.put_bytes(key, data, content_type=MEDIA_TYPE).written
