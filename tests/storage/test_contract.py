"""One contract, every ObjectStore: the local folder and S3 (moto's server over HTTP)."""

from __future__ import annotations

import hashlib
import io

import pytest

from app.storage import LocalObjectStore, ObjectNotFound, SpooledUpload, StorageError, TooLarge
from app.storage.s3 import S3ObjectStore


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request, tmp_path):
    if request.param == "local":
        return LocalObjectStore(str(tmp_path / "objects"))
    server = request.getfixturevalue("s3_server")
    return S3ObjectStore(bucket=server.create_bucket(), prefix="livery/assets", endpoint_url=server.endpoint_url)


def test_put_then_read_back(store):
    stored = store.put_bytes("a/b.txt", b"hello", content_type="text/plain")
    assert stored.size == 5
    assert stored.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert store.read("a/b.txt") == b"hello"
    assert store.stat("a/b.txt").sha256 == stored.sha256


def test_content_addressed_put_is_idempotent(store):
    first = store.put_content_addressed(b"icon bytes", content_type="image/png")
    second = store.put_content_addressed(b"icon bytes", content_type="image/png")
    assert first.key == second.key == hashlib.sha256(b"icon bytes").hexdigest()
    assert list(store.keys()) == [first.key]


def test_overwrite_replaces_atomically(store):
    store.put_bytes("doc.json", b"one")
    store.put_bytes("doc.json", b"two!")
    assert store.read("doc.json") == b"two!"
    assert store.stat("doc.json").size == 4


def test_missing_object(store):
    assert store.stat("nope") is None
    with pytest.raises(ObjectNotFound):
        store.read("nope")


def test_delete_is_quiet_for_missing_keys(store):
    store.put_bytes("gone.txt", b"x")
    store.delete("gone.txt")
    store.delete("gone.txt")
    assert store.stat("gone.txt") is None


def test_keys_by_prefix(store):
    for key in ("discovery/a.json", "discovery/b.json", "upgrade/c.json"):
        store.put_bytes(key, b"{}")
    assert sorted(store.keys("discovery/")) == ["discovery/a.json", "discovery/b.json"]


def test_keys_by_nested_and_partial_prefixes(store):
    for key in ("upgrade/ab/manifest.json", "upgrade/abc/manifest.json", "upgrade/b/manifest.json", "up.json"):
        store.put_bytes(key, b"{}")
    assert sorted(store.keys("upgrade/ab/")) == ["upgrade/ab/manifest.json"]
    assert sorted(store.keys("upgrade/ab")) == ["upgrade/ab/manifest.json", "upgrade/abc/manifest.json"]
    assert sorted(store.keys("up")) == [
        "up.json",
        "upgrade/ab/manifest.json",
        "upgrade/abc/manifest.json",
        "upgrade/b/manifest.json",
    ]
    assert list(store.keys("nothing/here/")) == []


def test_large_streams_are_spooled_with_bounded_memory_and_stored(store):
    payload = b"x" * (3 * 1024 * 1024 + 17)
    upload = SpooledUpload.from_stream(io.BytesIO(payload))
    try:
        stored = store.put_spooled(upload, content_type="application/octet-stream", prefix="installers/")
    finally:
        upload.discard()
    assert stored.key == "installers/" + hashlib.sha256(payload).hexdigest()
    assert store.stat(stored.key).size == len(payload)
    assert sum(len(chunk) for chunk in store.open(stored.key)) == len(payload)


def test_spooling_stops_past_the_limit():
    with pytest.raises(TooLarge):
        SpooledUpload.from_stream(io.BytesIO(b"y" * 1000), max_bytes=999)


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/../b", "", "with space"])
def test_unsafe_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")


def test_check_passes_on_a_usable_store(store):
    store.check()


def test_unreachable_s3_raises_storage_error():
    dead = S3ObjectStore(bucket="b", endpoint_url="http://127.0.0.1:9", region="us-east-1")
    dead.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StorageError):
        dead.check()


def test_put_bytes_says_whether_it_wrote(store):
    assert store.put_bytes("written/a", b"one").written
    assert not store.put_bytes("written/a", b"one").written
    assert store.put_bytes("written/a", b"two").written
