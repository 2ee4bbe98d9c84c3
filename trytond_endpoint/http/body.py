"""Reading a request body within a limit, however it is framed.

The WSGI server hands the body as a stream: with ``Content-Length`` it ends
there, with ``Transfer-Encoding: chunked`` when the last chunk comes. Both
are read here a piece at a time, so no more than the limit (plus one
piece) is ever held, and a body that stops short of what it announced is
refused instead of being served cut.
"""
import time

from ..problem import Problem

# Where the mount's guard keeps the body stream away from everyone else.
INPUT_KEY = 'endpoint.input'
_PIECE = 64 * 1024


def declared_length(environ):
    """The body size announced by ``Content-Length``, None when absent;
    400 when it is not a number."""
    value = environ.get('CONTENT_LENGTH')
    if value is None or value == '':
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        raise Problem(400, "Content-Length must be a non-negative integer.")
    return int(value)


def is_chunked(environ):
    return 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower()


def has_body(environ):
    """Whether the request carries a body: a non-zero Content-Length or
    chunked framing (a request with neither has none, RFC 9112 6.3)."""
    if is_chunked(environ):
        return True
    return bool(declared_length(environ))


def too_large(limit):
    return Problem(413, f"The body is over {limit} bytes.")


def check_declared(environ, limit):
    "413 when the announced size is over the limit, before any byte is read"
    length = declared_length(environ)
    if length is not None and length > limit:
        raise too_large(limit)
    return length


def input_stream(environ):
    return environ.get(INPUT_KEY) or environ['wsgi.input']


def read_body(environ, limit, timeout=None):
    """The body's bytes: 413 past ``limit``, 400 when it ends before its
    ``Content-Length``, 408 when the client takes more than ``timeout``
    seconds to send it.
    """
    length = check_declared(environ, limit)
    chunked = is_chunked(environ)
    if not chunked and not length:
        return b''
    stream = input_stream(environ)
    # Without chunked framing only Content-Length bytes belong to the body.
    wanted = limit + 1 if chunked else length
    pieces = []
    size = 0
    with _deadline(environ, timeout) as remaining:
        while size < wanted:
            remaining()
            try:
                piece = stream.read(min(_PIECE, wanted - size))
            except TimeoutError:
                raise _slow()
            except Problem:
                raise
            except Exception as exception:
                # Broken chunked framing, a client gone away.
                raise Problem(400,
                    f"The body could not be read: {type(exception).__name__}.")
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
    if size > limit:
        raise too_large(limit)
    if not chunked and size < length:
        raise Problem(400, f"The body ended after {size} of its {length} "
            "announced bytes.")
    return b''.join(pieces)


def _slow():
    return Problem(408, "The body was not sent in time.")


class _deadline:
    """Bound the time the body takes to arrive: each read of the server's
    socket waits at most what is left of ``timeout``."""

    def __init__(self, environ, timeout):
        self.timeout = timeout
        # gunicorn hands its client socket to the application.
        self.sock = environ.get('gunicorn.socket') if timeout else None
        self.previous = None

    def __enter__(self):
        end = time.monotonic() + self.timeout if self.timeout else None

        def remaining():
            if end is None:
                return
            left = end - time.monotonic()
            if left <= 0:
                raise _slow()
            if self.sock is not None:
                self.sock.settimeout(left)
        if self.sock is not None:
            try:
                self.previous = self.sock.gettimeout()
            except OSError:
                self.sock = None
        return remaining

    def __exit__(self, *exc_info):
        if self.sock is not None:
            try:
                self.sock.settimeout(self.previous)
            except OSError:
                pass
