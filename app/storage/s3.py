"""S3-compatible object store through boto3 (AWS, MinIO, Ceph, moto's server, ...).

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
profiles, instance roles); botocore exceptions never leave this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.storage import CHUNK, ObjectNotFound, ObjectStore, StorageError, StoredObject, check_key

_MISSING = {"404", "NoSuchKey", "NotFound"}


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
    ) -> None:
        self.bucket = bucket
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

    def put_file(self, key: str, path: str, *, sha256: str, content_type: str) -> StoredObject:
        try:
            self.client.upload_file(
                path,
                self.bucket,
                self._key(key),
                ExtraArgs={"ContentType": content_type, "Metadata": {"sha256": sha256}},
                Config=self._transfer,
            )
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc
        return StoredObject(key, head["ContentLength"], sha256, content_type)

    def stat(self, key: str) -> StoredObject | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise StorageError(f"could not read {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc
        return StoredObject(key, head["ContentLength"], head.get("Metadata", {}).get("sha256"), head.get("ContentType"))

    def open(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise ObjectNotFound(key) from None
            raise StorageError(f"could not read {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not delete {key}: {exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not list {prefix}: {exc}") from exc

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} is not reachable: {exc}") from exc

    def presigned_url(self, key: str, expires_in: int) -> str | None:
        try:
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_in
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not presign {key}: {exc}") from exc
