"""Livery's gunicorn worker (app/sync_worker.py): its copy of gunicorn's ``handle`` stays gunicorn's, and
what it calls "received whole" (the behaviour itself is tested on a real gunicorn:
tests/e2e/test_connection_close.py)."""

from __future__ import annotations

import hashlib
import inspect
import socket
from collections.abc import Iterator

import gunicorn
import pytest
from gunicorn.config import Config
from gunicorn.http.errors import InvalidChunkSize
from gunicorn.http.parser import RequestParser
from gunicorn.workers import sync

from app import sync_worker

# sha256 of gunicorn 27.0.1's SyncWorker.handle: when an upgrade changes it, read the new one, carry
# its changes into app/sync_worker.py (or drop the class if gunicorn no longer lingers), update this
HANDLE_27_0_1 = "dde5313b59db58250f56e87006491b8f506e03079b16787d4ddbee27a9ef8991"


def _code_lines(function) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in inspect.getsource(function).splitlines())
    return [line for line in lines if line]


def test_gunicorn_handle_is_the_one_the_copy_mirrors():
    source = inspect.getsource(sync.SyncWorker.handle)
    assert hashlib.sha256(source.encode()).hexdigest() == HANDLE_27_0_1, (
        f"gunicorn {gunicorn.__version__} changed SyncWorker.handle: review app/sync_worker.py"
    )


def test_the_copy_differs_from_gunicorn_only_in_its_close():
    theirs, ours = _code_lines(sync.SyncWorker.handle), _code_lines(sync_worker.SyncWorker.handle)
    assert theirs[-1] == "util.close_graceful(client)"
    assert ours[-1] == "close_answered(client, req)"
    assert theirs[:-1] == ours[:-1]


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    yield client, server
    client.close()
    server.close()


def _request(pair, sent: bytes):
    client, server = pair
    client.sendall(sent)
    return next(RequestParser(Config(), server, ("127.0.0.1", 1)))


def test_a_request_without_a_body_is_whole(pair):
    assert sync_worker.received_whole(_request(pair, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))


def test_a_body_that_came_with_the_head_is_whole_even_unread(pair):
    req = _request(pair, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert sync_worker.received_whole(req)


def test_a_body_still_to_come_is_not_whole_until_read(pair):
    req = _request(pair, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{}")
    assert not sync_worker.received_whole(req)
    pair[0].sendall(b"[]")
    assert req.body.read() == b"{}[]"
    assert sync_worker.received_whole(req)


def test_bytes_past_the_request_are_not_whole(pair):
    req = _request(pair, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\n")  # pipelined
    assert not sync_worker.received_whole(req)


def test_a_chunked_body_is_whole_once_read_to_its_end(pair):
    req = _request(pair, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert not sync_worker.received_whole(req)  # not parsed yet: its end is unknown
    assert req.body.read() == b"{}"
    assert sync_worker.received_whole(req)


def test_a_body_that_failed_is_not_whole(pair):
    req = _request(pair, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    with pytest.raises(InvalidChunkSize):
        req.body.read()
    assert not sync_worker.received_whole(req)


def test_an_unparsed_request_is_not_whole():
    assert not sync_worker.received_whole(None)
