"""S3-compatible object store through boto3 (AWS, MinIO, Ceph, moto's server, ...).

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
profiles, instance roles); botocore exceptions never leave this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from app.availability import DependencyHealth
from app.storage import CHUNK, ObjectNotFound, ObjectStore, StorageError, StoredObject, StoreUnreachable, check_key

_MISSING = {"404", "NoSuchKey", "NotFound"}
# what says "the server cannot be reached" (as opposed to "it answered no"): the store is down
_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


@dataclass(frozen=True)
class S3Timeouts:
    """How long one call may wait: each attempt is bounded by the connect and read timeouts."""

    connect: float = 2.0
    read: float = 5.0
    max_attempts: int = 2

    @classmethod
    def from_settings(cls, settings) -> S3Timeouts:
        """The ``LIVERY_S3_*`` timeouts."""
        return cls(settings.s3_connect_timeout, settings.s3_read_timeout, settings.s3_max_attempts)


def object_store_health(timeouts: S3Timeouts) -> DependencyHealth:
    """A health tracker for one S3 server: retried at most every connect + read timeout."""
    return DependencyHealth("object store", StoreUnreachable, retry_max=timeouts.connect + timeouts.read)


class S3ObjectStore(ObjectStore):
    """Objects under ``s3://bucket/prefix/namespace/``; sha256 kept as object metadata."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        timeouts: S3Timeouts = S3Timeouts(),
        health: DependencyHealth | None = None,
    ) -> None:
        self.bucket = bucket
        # shared by the stores of one deployment: what one learns about the server, all know
        self.health = health or object_store_health(timeouts)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            # a hung server costs at most max_attempts x (connect + read) per call, never a worker
            config=Config(
                retries={"max_attempts": timeouts.max_attempts, "mode": "standard"},
                connect_timeout=timeouts.connect,
                read_timeout=timeouts.read,
            ),
        )
        self._transfer = TransferConfig(multipart_threshold=64 * CHUNK, multipart_chunksize=16 * CHUNK)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        """Around every call that goes to the server: fail fast while it is known to be unreachable,
        learn from refused connections and timeouts, and turn botocore's errors into StorageError."""
        self.health.gate()
        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            if isinstance(exc, _UNREACHABLE):
                self.health.failed(exc.__class__.__name__)
            raise StorageError(f"could not {what}: {exc}") from exc
        self.health.succeeded()

    def put_file(self, key: str, path: str, *, sha256: str, content_type: str) -> StoredObject:
        with self._reaching(f"store {key}"):
            self.client.upload_file(
                path,
                self.bucket,
                self._key(key),
                ExtraArgs={"ContentType": content_type, "Metadata": {"sha256": sha256}},
                Config=self._transfer,
            )
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return StoredObject(key, head["ContentLength"], sha256, content_type)

    def stat(self, key: str) -> StoredObject | None:
        with self._reaching(f"read {key}"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise
        return StoredObject(key, head["ContentLength"], head.get("Metadata", {}).get("sha256"), head.get("ContentType"))

    def open(self, key: str) -> Iterator[bytes]:
        with self._reaching(f"read {key}"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            except ClientError as exc:
                if _missing(exc):
                    raise ObjectNotFound(key) from None
                raise

        def chunks() -> Iterator[bytes]:
            try:
                with self._reaching(f"read {key}"):  # the body arrives as it is read: reads can time out too
                    yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def delete(self, key: str) -> None:
        with self._reaching(f"delete {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._reaching(f"list {prefix}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]

    def check(self) -> None:
        with self._reaching(f"reach bucket {self.bucket}"):
            self.client.head_bucket(Bucket=self.bucket)

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        # computed here, without a call to the server: installers keep redirecting while it is down
        try:
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_in
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not presign {key}: {exc}") from exc
