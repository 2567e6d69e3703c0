"""Where static answers go: ``LIVERY_STATIC_PUBLISH_ROOT`` parsed into an object store."""

from __future__ import annotations

from app.storage import LocalObjectStore, ObjectStore


def publish_store(root: str, *, s3_endpoint_url: str = "", s3_region: str = "us-east-1") -> ObjectStore | None:
    """The object store for ``root``: ``s3://bucket/prefix`` or a local folder; None when empty (off)."""
    if not root:
        return None
    if root.startswith("s3://"):
        from app.storage.s3 import S3ObjectStore

        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        return S3ObjectStore(bucket=bucket, prefix=prefix, endpoint_url=s3_endpoint_url, region=s3_region)
    return LocalObjectStore(root)
