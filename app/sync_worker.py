"""gunicorn's sync worker, closing each connection at once when nothing of the request is left to read.

gunicorn 27 ends every sync-worker connection with ``util.close_graceful``: it half-closes, then
reads until the *client* closes, for up to 2 s (RFC 9112 § 9.6). That linger protects an answer
sent while request bytes are still unread — closing a socket with unread data sends RST, and the
client's kernel may drop the answer it has not read yet. But it is paid after every answer: the
worker waits one round trip for the client's FIN, and a client that reads its answer and keeps
the socket open holds the worker for 2 s (two such clients stall a two-worker machine).

This worker closes at once when the request was received whole (its body framing says no byte
of it is still to come, and nothing past it was read) and a non-blocking peek finds no byte
waiting; otherwise — a body answered before it was read (413, 408, early refusals), a client
sending more than its request, a request gunicorn could not parse, TLS — it lingers as gunicorn
does, for at most ``LINGER_SECONDS``. docs/deployment.md, "Closing connections".

``handle`` mirrors gunicorn 27.0.1's ``SyncWorker.handle`` with only its final close changed;
tests/test_sync_worker.py fails when gunicorn's ``handle`` changes, to force a review on upgrade.
The close after an error in the middle of an answer stays gunicorn's (in ``handle_request``).
"""

from __future__ import annotations

import errno
import socket
import ssl

from gunicorn import http, sock, util
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers import sync

# Long enough for a client to read an answer sent before its body (loopback, nginx, a LAN: ms);
# short enough that a client keeping the socket open holds the worker for little (gunicorn: 2 s)
LINGER_SECONDS = 0.5


def received_whole(req: http.Request | None) -> bool:
    """Whether every byte of ``req`` has been read off the socket, and not one byte more."""
    if req is None or req.body is None or req.body.failed:
        return False  # not parsed (a 400 on its head), or its body broke off: unknown framing
    with req.unreader.buf.getbuffer() as held:  # read off the socket, not yet handed to the body
        buffered = held.nbytes
    reader = req.body.reader
    if isinstance(reader, LengthReader):
        return reader.length == buffered  # less: more to come; more: bytes past the request
    if isinstance(reader, ChunkedReader):
        return reader.parser is None and buffered == 0  # read to the last chunk and its trailers
    return False


def nothing_waiting(client: socket.socket) -> bool:
    """Whether the socket has no byte waiting to be read (the client's FIN counts as none)."""
    try:
        # non-blocking first: with a timeout set (app/body_timeout.py), Python polls for that long
        # before it calls recv, MSG_DONTWAIT or not
        client.setblocking(False)
        return client.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return True
    except OSError:  # reset by the client: nothing it could still lose
        return True


def close_answered(client: socket.socket, req: http.Request | None) -> None:
    """Close at once when the client sent nothing still unread; else linger as gunicorn does, briefly."""
    if not isinstance(client, ssl.SSLSocket) and received_whole(req) and nothing_waiting(client):
        util.close(client)
    else:
        util.close_graceful(client, timeout=LINGER_SECONDS)


class SyncWorker(sync.SyncWorker):
    """gunicorn's sync worker whose connections close without waiting for the client when they can."""

    def handle(self, listener, client, addr):
        # gunicorn 27.0.1's SyncWorker.handle, line for line, but for the close in ``finally``
        req = None
        try:
            if self.cfg.is_ssl:
                client = sock.ssl_wrap_socket(client, self.cfg)
            parser = http.get_parser(self.cfg, client, addr)
            req = next(parser)
            self.handle_request(listener, req, client, addr)
        except http.errors.NoMoreData as e:
            self.log.debug("Ignored premature client disconnection. %s", e)
        except StopIteration as e:
            self.log.debug("Closing connection. %s", e)
        except ssl.SSLError as e:
            if e.args[0] == ssl.SSL_ERROR_EOF:
                self.log.debug("ssl connection closed")
                client.close()
            else:
                self.log.debug("Error processing SSL request.")
                self.handle_error(req, client, addr, e)
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            else:
                if e.errno == errno.ECONNRESET:
                    self.log.debug("Ignoring connection reset")
                elif e.errno == errno.ENOTCONN:
                    self.log.debug("Ignoring socket not connected")
                else:
                    self.log.debug("Ignoring EPIPE")
        except BaseException as e:  # noqa: BLE001 - as gunicorn: handle_error answers it
            self.handle_error(req, client, addr, e)
        finally:
            close_answered(client, req)
