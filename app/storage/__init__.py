"""Object storage behind one small interface: brand assets, installers, control files.

Two implementations: ``LocalObjectStore`` (a folder) and ``S3ObjectStore`` (any S3-speaking
service through boto3). Keys are relative, slash-separated paths; content-addressed writes use the
sha256 of the bytes as the key, so writing the same bytes twice is a no-op.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

CHUNK = 1024 * 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class StorageError(Exception):
    """The object store failed (unreachable, denied, ...). Never carries backend types."""


class StoreUnreachable(StorageError):
    """The store is known to be unreachable (refused or timed out just before); retry after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"object store unreachable; retry in {retry_after} s")
        self.retry_after = retry_after


class ObjectNotFound(StorageError):
    """No object under that key."""


class TooLarge(StorageError):
    """The stream was longer than the caller allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str | None = None
    content_type: str | None = None
    written: bool = field(default=False, compare=False)  # put_*: False when an equal object was there


def check_key(key: str) -> str:
    """Refuse keys that could escape a folder or mean different things on different backends."""
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class SpooledUpload:
    """A stream copied to a temporary file while hashed: bounded memory, known digest and size."""

    path: str
    sha256: str
    size: int

    @classmethod
    def from_stream(cls, stream: BinaryIO, max_bytes: int | None = None) -> SpooledUpload:
        """Copy ``stream`` to disk in chunks, hashing as it goes; raise TooLarge past ``max_bytes``."""
        digest = hashlib.sha256()
        size = 0
        fd, path = tempfile.mkstemp(prefix="livery-upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(path)
            raise
        return cls(path, digest.hexdigest(), size)

    def discard(self) -> None:
        """Remove the temporary file."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class ObjectStore(ABC):
    """Where Livery keeps bytes. Implementations must make ``put`` idempotent and atomic."""

    @abstractmethod
    def put_file(self, key: str, path: str, *, sha256: str, content_type: str) -> StoredObject:
        """Store the file at ``path`` under ``key`` (atomically: readers see all or nothing)."""

    @abstractmethod
    def stat(self, key: str) -> StoredObject | None:
        """Size and recorded sha256 of ``key``, or None when absent."""

    @abstractmethod
    def open(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks; ObjectNotFound when absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are fine."""

    @abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError unless the store is reachable and writable."""

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        """A time-limited URL a client can download ``key`` from directly, if the backend has one."""
        return None

    def local_path(self, key: str) -> str | None:
        """A file on this machine holding ``key``'s bytes, if the backend keeps one (else None)."""
        return None

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        """Store ``data`` under ``key``; the same bytes again is a no-op (``written`` False)."""
        sha = hashlib.sha256(data).hexdigest()
        existing = self.stat(key)
        if existing is not None and existing.size == len(data) and existing.sha256 == sha:
            return existing
        fd, path = tempfile.mkstemp(prefix="livery-put-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return replace(self.put_file(key, path, sha256=sha, content_type=content_type), written=True)
        finally:
            os.unlink(path)

    def put_content_addressed(
        self, data: bytes, *, content_type: str = "application/octet-stream", prefix: str = ""
    ) -> StoredObject:
        """Store ``data`` under ``prefix + sha256(data)``."""
        return self.put_bytes(prefix + hashlib.sha256(data).hexdigest(), data, content_type=content_type)

    def put_spooled(self, upload: SpooledUpload, *, content_type: str, prefix: str = "") -> StoredObject:
        """Store a spooled upload under ``prefix + its sha256``, unless an equal object is there."""
        key = prefix + upload.sha256
        existing = self.stat(key)
        if existing is not None and existing.size == upload.size:
            return existing
        return replace(self.put_file(key, upload.path, sha256=upload.sha256, content_type=content_type), written=True)

    def read(self, key: str) -> bytes:
        """The whole object (for small objects only)."""
        return b"".join(self.open(key))


class LocalObjectStore(ObjectStore):
    """A folder on disk. Digests are kept beside each object in a ``.sha256`` sidecar."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def put_file(self, key: str, path: str, *, sha256: str, content_type: str) -> StoredObject:
        target = self._path(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        with open(target + ".sha256", "w") as sidecar:
            sidecar.write(sha256)
        return StoredObject(key, os.path.getsize(target), sha256, content_type)

    def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            return None
        try:
            with open(path + ".sha256") as sidecar:
                sha = sidecar.read().strip() or None
        except FileNotFoundError:
            sha = None
        return StoredObject(key, size, sha)

    def local_path(self, key: str) -> str | None:
        path = self._path(key)
        return path if os.path.isfile(path) else None

    def open(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        return chunks()

    def delete(self, key: str) -> None:
        for path in (self._path(key), self._path(key) + ".sha256"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def keys(self, prefix: str = "") -> Iterator[str]:
        # walk only the folder the prefix names, not the whole root: a root may hold 100 000s of files
        start = os.path.join(self.root, *prefix.split("/")[:-1])
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                if name.endswith(".sha256") or name.startswith((".tmp-", ".")):
                    continue
                key = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    yield key

    def check(self) -> None:
        try:
            os.makedirs(self.root, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".tmp-ready-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StorageError(f"folder {self.root} is not writable: {exc}") from exc


@dataclass(frozen=True)
class Stores:
    """The object stores of one deployment, one per kind of object."""

    assets: ObjectStore
    installers: ObjectStore
    control_files: ObjectStore

    def all(self) -> dict[str, ObjectStore]:
        """Each store by name (for readiness checks)."""
        return {"assets": self.assets, "installers": self.installers, "control_files": self.control_files}


def build_stores(settings) -> Stores:
    """The stores that ``settings`` describe: three folders, or three prefixes of one bucket."""
    if settings.storage_backend == "s3":
        from app.storage.s3 import S3ObjectStore, S3Timeouts, object_store_health

        timeouts = S3Timeouts.from_settings(settings)
        health = object_store_health(timeouts)

        def s3(namespace: str) -> ObjectStore:
            prefix = f"{settings.s3_prefix.strip('/')}/{namespace}" if settings.s3_prefix.strip("/") else namespace
            return S3ObjectStore(
                bucket=settings.s3_bucket,
                prefix=prefix,
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                timeouts=timeouts,
                health=health,
            )

        return Stores(assets=s3("assets"), installers=s3("installers"), control_files=s3("control_files"))
    return Stores(
        assets=LocalObjectStore(settings.static_brands_dir),
        installers=LocalObjectStore(settings.installers_dir),
        control_files=LocalObjectStore(settings.control_files_dir),
    )
