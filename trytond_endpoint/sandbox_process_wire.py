"""What travels between a server worker and its sandbox process.

Frames are a 4-byte big-endian length and that many bytes of UTF-8 JSON:
plain data only, so the server never unpickles, unmarshals or evaluates
anything the sandbox sends. Values JSON has no word for are one-key
objects whose key starts with NUL::

    {"\\u0000D": "12.30"}           Decimal
    {"\\u0000b": "aGk="}            bytes (base64)
    {"\\u0000d": "2024-01-31"}      date (T datetime, c time)
    {"\\u0000e": [days, s, us]}     timedelta
    {"\\u0000m": [[key, value]…]}   dict whose keys are not all text
    {"\\u0000s": [...]}             set (f frozenset)
    {"\\u0000i": "ff"}              int too long for JSON digits
    {"\\u0000h": [handle, …]}       an object that stays on the other side

Each side adds its own tags (the request view, facts, responses) through
``encoder(default)`` and ``decoder(tags)``. Tuples travel as lists.
"""
import base64
import datetime as dt
import decimal
import json
import os
import select
import struct
import time

# A frame longer than this is refused: the worker decodes what the
# sandbox sends, and JSON of many small values grows several times in
# memory when decoded.
MAX_FRAME = 16 * 2 ** 20
# Containers one frame may hold (as for a payload, see check_payload).
MAX_CONTAINERS = 1_000_000
_HEADER = struct.Struct('>I')
TAG = '\x00'


class WireError(Exception):
    "The other side broke the protocol, closed the pipe or timed out"


class Deadline(WireError):
    "No answer before the deadline"


def _plain_default(value):
    kind = type(value)
    if kind is decimal.Decimal:
        return {'\x00D': str(value)}
    if kind is bytes or kind is bytearray:
        return {'\x00b': base64.b64encode(value).decode('ascii')}
    if kind is dt.datetime:
        return {'\x00T': value.isoformat()}
    if kind is dt.date:
        return {'\x00d': value.isoformat()}
    if kind is dt.time:
        return {'\x00c': value.isoformat()}
    if kind is dt.timedelta:
        return {'\x00e': [value.days, value.seconds, value.microseconds]}
    if kind is set:
        return {'\x00s': list(value)}
    if kind is frozenset:
        return {'\x00f': list(value)}
    return None


def encoder(default=None):
    """``encode(value) -> bytes``; ``default(value)`` turns the side's own
    objects into tagged dicts (or raises TypeError)."""
    def hook(value):
        tagged = _plain_default(value)
        if tagged is not None:
            return tagged
        if default is not None:
            return default(value)
        raise TypeError(
            f'A value of type {type(value).__name__} can not be passed.')

    dumps = json.JSONEncoder(
        default=hook, ensure_ascii=False, separators=(',', ':'),
        check_circular=True).encode

    def encode(value):
        try:
            text = dumps(value)
        except ValueError as exception:
            if 'digits' not in str(exception):
                raise
            # An int longer than the conversion limit: written in hex.
            text = dumps(_hex_ints(value))
        return text.encode('utf-8')
    return encode


def _hex_ints(value):
    kind = type(value)
    if kind is int and value.bit_length() > 10_000:
        return {'\x00i': format(value, 'x')}
    if kind is list or kind is tuple:
        return [_hex_ints(v) for v in value]
    if kind is dict:
        if all(type(k) is str for k in value):
            return {k: _hex_ints(v) for k, v in value.items()}
        return {'\x00m': [[_hex_ints(k), _hex_ints(v)]
                for k, v in value.items()]}
    return value


def _dict_pairs(pairs):
    return {key: value for key, value in pairs}


_PLAIN_TAGS = {
    '\x00D': decimal.Decimal,
    '\x00b': lambda v: base64.b64decode(v, validate=True),
    '\x00T': dt.datetime.fromisoformat,
    '\x00d': dt.date.fromisoformat,
    '\x00c': dt.time.fromisoformat,
    '\x00e': lambda v: dt.timedelta(*v),
    '\x00s': set,
    '\x00f': frozenset,
    '\x00i': lambda v: int(v, 16),
    '\x00m': _dict_pairs,
    }


def decoder(tags=None):
    """``decode(bytes) -> value``; ``tags`` maps more tag keys to the
    function building the value from the tagged payload."""
    table = dict(_PLAIN_TAGS)
    table.update(tags or {})

    def hook(obj):
        if len(obj) == 1:
            key = next(iter(obj))
            if key[:1] == TAG:
                try:
                    build = table[key]
                except KeyError:
                    raise WireError(f'Unknown tag {key!r}.') from None
                return build(obj[key])
        return obj

    loads = json.JSONDecoder(object_hook=hook).decode

    def decode(data):
        if data.count(b'{') + data.count(b'[') > MAX_CONTAINERS:
            raise WireError('Too many values in one message.')
        try:
            return loads(data.decode('utf-8'))
        except WireError:
            raise
        except (ValueError, TypeError, KeyError, IndexError,
                RecursionError, OverflowError) as exception:
            raise WireError(f'Malformed message: {exception}') from None
    return decode


# Frames on raw file descriptors: no buffering object between the two
# processes, so a poll on the descriptor tells the truth.

def write_frame(fd, data):
    if len(data) > MAX_FRAME:
        raise WireError('The message is too large.')
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError as exception:
            raise WireError(f'The pipe is closed: {exception}') from None
        view = view[written:]


class FrameReader:
    """Frames read from a descriptor, as much as is there at each read:
    a frame and its header usually come in one system call."""
    __slots__ = ('_buffer', 'fd')

    def __init__(self, fd):
        self.fd = fd
        self._buffer = bytearray()

    def read(self, deadline=None):
        "One frame's bytes; ``deadline`` (monotonic) bounds the wait"
        buffer = self._buffer
        while True:
            if len(buffer) >= _HEADER.size:
                length, = _HEADER.unpack_from(buffer)
                if length > MAX_FRAME:
                    raise WireError('The message is too large.')
                end = _HEADER.size + length
                if len(buffer) >= end:
                    frame = bytes(buffer[_HEADER.size:end])
                    del buffer[:end]
                    return frame
            if deadline is not None:
                _wait_readable(self.fd, deadline)
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError as exception:
                raise WireError(f'The pipe is closed: {exception}') from None
            if not chunk:
                raise WireError('The pipe is closed.')
            buffer += chunk


def read_frame(fd, deadline=None):
    "One frame's bytes, read from fd alone (no buffer kept)"
    header = _read_exactly(fd, _HEADER.size, deadline)
    length, = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise WireError('The message is too large.')
    return _read_exactly(fd, length, deadline)


def _read_exactly(fd, size, deadline):
    chunks = []
    while size:
        if deadline is not None:
            _wait_readable(fd, deadline)
        try:
            chunk = os.read(fd, min(size, 1 << 20))
        except OSError as exception:
            raise WireError(f'The pipe is closed: {exception}') from None
        if not chunk:
            raise WireError('The pipe is closed.')
        chunks.append(chunk)
        size -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b''.join(chunks)


def _wait_readable(fd, deadline):
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline('No answer before the deadline.')
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        if poller.poll(max(int(remaining * 1000), 1)):
            return
