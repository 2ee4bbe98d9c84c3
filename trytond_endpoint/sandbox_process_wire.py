"""What travels between a server worker and its sandbox process.

Frames are a 4-byte big-endian length and that many bytes. Each way has
its own format, chosen for who must trust what:

* sandbox to server: UTF-8 JSON, plain data only, so the server never
  unpickles, unmarshals or evaluates anything the sandbox sends. Values
  JSON has no word for are one-key objects whose key starts with NUL::

    {"\\u0000D": "12.30"}           Decimal
    {"\\u0000b": "aGk="}            bytes (base64)
    {"\\u0000d": "2024-01-31"}      date (T datetime, c time)
    {"\\u0000e": [days, s, us]}     timedelta
    {"\\u0000m": [[key, value]…]}   dict whose keys are not all text
    {"\\u0000s": [...]}             set (f frozenset)
    {"\\u0000i": "ff"}              int too long for JSON digits
    {"\\u0000h": [handle, …]}       an object that stays on the other side

  A frame with no NUL key at all (most answers) is decoded by the JSON
  module's C code alone, with no hook.

* server to sandbox: a pickle, written by the server's :class:`Pickler`,
  which names no class but ``decimal.Decimal``, the ``datetime`` types
  and :func:`build`: anything else is turned into plain data or into a
  tagged value that the sandbox builds with its own functions
  (``BUILDERS``). The sandbox trusts the server; the server's C pickler
  walks the request's data in one pass instead of a Python hook per
  value.

``encode_shared`` and ``SHARED_TAGS`` are the sandbox types that both
sides pass as values (facts, the request's mappings, uploaded files,
responses). Tuples travel as lists from the sandbox, as tuples to it.
"""
import base64
import datetime as dt
import decimal
import io
import json
import json.encoder
import json.scanner
import os
import pickle
import select
import struct
import time
import types

from .sandbox_namespaces import (
    _EMPTY,
    Facts,
    FrozenMultiMapping,
    RequestView,
    Response,
    UploadedFile,
)

# A frame longer than this is refused: the worker decodes what the
# sandbox sends, and JSON of many small values grows several times in
# memory when decoded.
MAX_FRAME = 16 * 2 ** 20
# Containers one frame may hold (as for a payload, see check_payload).
MAX_CONTAINERS = 1_000_000
_HEADER = struct.Struct('>I')
TAG = '\x00'
_c_make_encoder = json.encoder.c_make_encoder
_encode_text = json.encoder.encode_basestring


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

    # The JSON module's C encoder, made once: json.JSONEncoder.encode
    # makes one per call, in Python. Its markers (the containers being
    # written, against cycles) are empty again after each message.
    markers = {}
    iterencode = _c_make_encoder(markers, hook, _encode_text, None, ':',
        ',', False, False, True) if _c_make_encoder else None
    if iterencode is None:
        iterencode = json.JSONEncoder(default=hook, ensure_ascii=False,
            separators=(',', ':'), check_circular=True).iterencode

    def dumps(value):
        try:
            return ''.join(iterencode(value, 0))
        except BaseException:
            markers.clear()
            raise

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

    loads = _scanner(json.JSONDecoder(object_hook=hook))
    plain_loads = _scanner(json.JSONDecoder())

    def decode(data):
        if data.count(b'{') + data.count(b'[') > MAX_CONTAINERS:
            raise WireError('Too many values in one message.')
        try:
            # A tag key can only be written with the escape \u0000 (the
            # decoder refuses a raw control character): without one, no
            # object needs the hook.
            if b'\\u0000' not in data:
                return plain_loads(data.decode('utf-8'))
            return loads(data.decode('utf-8'))
        except WireError:
            raise
        except (ValueError, TypeError, KeyError, IndexError,
                RecursionError, OverflowError) as exception:
            raise WireError(f'Malformed message: {exception}') from None
    return decode


def _scanner(decoder):
    """``loads(text)`` by the decoder's scanner alone (its C code), without
    the Python layers of ``decode``: a frame is one value, no space
    around it (the other side writes none)."""
    scan = json.scanner.make_scanner(decoder)

    def loads(text):
        try:
            value, end = scan(text, 0)
        except StopIteration:
            raise ValueError('Expecting a value') from None
        if end != len(text):
            raise ValueError('Extra data')
        return value
    return loads


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
    __slots__ = ('_buffer', '_poller', 'fd')

    def __init__(self, fd):
        self.fd = fd
        self._buffer = bytearray()
        self._poller = None

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
                if self._poller is None:
                    self._poller = select.poll()
                    self._poller.register(
                        self.fd, select.POLLIN | select.POLLHUP)
                _wait_readable(self.fd, deadline, self._poller)
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


def _wait_readable(fd, deadline, poller=None):
    if poller is None:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline('No answer before the deadline.')
        if poller.poll(max(int(remaining * 1000), 1)):
            return


# The sandbox types both sides pass as values, in JSON (from the sandbox)

def _multi_pairs(mapping):
    return [[name, value] for name in mapping
        for value in mapping.getlist(name)]


def encode_shared(value):
    "The JSON tag of a sandbox type both sides know, or None"
    kind = type(value)
    if kind is Response:
        return {'\x00R': [value.body, value.status, dict(value.headers),
                value.content_type]}
    if kind is Facts:
        return {'\x00F': [value._name, dict(value._names)]}
    if kind is FrozenMultiMapping:
        return {'\x00M': [value._fold, _multi_pairs(value)]}
    if kind is UploadedFile:
        return {'\x00U': [value.filename, value.content_type, value.data]}
    return None


SHARED_TAGS = {
    '\x00F': lambda v: Facts(v[0], **v[1]),
    '\x00M': lambda v: FrozenMultiMapping(v[1], fold_case=v[0]),
    '\x00U': lambda v: UploadedFile(*v),
    '\x00R': lambda v: Response(*v),
    }


# The server's messages (to the sandbox): a pickle

# What the sandbox builds the tagged values of a message with: its own
# functions, set by the sandbox process (the server never unpickles).
BUILDERS = {}


def build(tag, payload):
    "Unpickled in the sandbox: the value of a tag, by its builder"
    return BUILDERS[tag](payload)


_PLAIN_BASES = (str, int, float, dict, list, tuple)
_MODULE = __name__.encode('ascii')
# PROTO 4, build's module and name, STACK_GLOBAL, MEMOIZE (as 0), POP.
_PREFIX = (b'\x80\x04\x8c' + bytes([len(_MODULE)]) + _MODULE
    + b'\x8c\x05build\x93\x940')
_PREFIX_MEMO = {id(build): (0, build)}
# The classes a message may name: those of the reductions below (the
# values of decimal and datetime pickle as themselves, naming their own
# class only).
_BY_NAME = frozenset({decimal.Decimal, dt.date, dt.datetime, dt.time,
    dt.timedelta, dt.timezone, *_PLAIN_BASES, bytes})


class Pickler(pickle.Pickler):
    """Writes one message for the sandbox: plain data as pickle writes
    it, the sandbox types as tagged values, anything else as
    ``handle(value)`` (a tagged value too)."""

    def __init__(self, handle):
        self._file = io.BytesIO()
        super().__init__(self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._handle = handle

    def encode(self, value):
        file = self._file
        file.seek(0)
        # build is named once, by the prefix, and is the message's first
        # memo entry: looking a global up costs more than the rest of a
        # small message.
        file.write(_PREFIX)
        file.truncate()
        self.memo = _PREFIX_MEMO
        self.dump(value)
        return file.getvalue()

    def reducer_override(self, value):
        # Called for what pickle does not write by itself (its own
        # containers, text, numbers, bytes, None and booleans), mostly
        # handles: one dict look-up finds what to do with each type.
        kind = type(value)
        action = _ACTIONS.get(kind)
        if action is None:
            action = _ACTIONS[kind] = _action(kind)
        return action(self, value)


def _as_is(pickler, value):
    return NotImplemented


def _as_handle(pickler, value):
    return build, ('h', pickler._handle(value))


def _zoned(pickler, value):
    tzinfo = value.tzinfo
    if tzinfo is None or type(tzinfo) is dt.timezone:
        return NotImplemented
    # Another time zone (zoneinfo…): its fixed offset, as text.
    return build, ('T' if type(value) is dt.datetime else 'c',
        value.isoformat())


def _by_name(pickler, value):
    # A class or function as a value: a handle, unless a reduction names
    # it (those are the only ones a message may name).
    if value is build or value in _BY_NAME:
        return NotImplemented
    return _as_handle(pickler, value)


def _mapping_state(mapping):
    if mapping is _EMPTY:
        return None
    return mapping._lists, mapping._fold, mapping._arrays


def _mapping(pickler, value):
    return build, ('M', _mapping_state(value))


def _request_view(pickler, value):
    return build, ('Q', (value.method, value.path,
            _mapping_state(value.args), _mapping_state(value.headers),
            value.json, value.data, value.text, _mapping_state(value.form),
            _mapping_state(value.files), dict(value.path_params),
            value.content_type, value.xml is not None))


def _action(kind):
    "What to do with values of kind (a type pickle leaves to us)"
    if kind is type or kind is types.FunctionType:
        return _by_name
    for base in _PLAIN_BASES:
        if issubclass(kind, base):
            # A subclass of a plain type passes as its plain base, as
            # JSON writes it.
            return lambda pickler, value: (base, (base(value),))
    return _as_handle


_ACTIONS = {
    decimal.Decimal: _as_is,
    dt.date: _as_is,
    dt.timedelta: _as_is,
    dt.timezone: _as_is,
    dt.datetime: _zoned,
    dt.time: _zoned,
    FrozenMultiMapping: _mapping,
    RequestView: _request_view,
    UploadedFile: lambda pickler, value: (build, ('U', (
                value.filename, value.content_type, value.data))),
    Facts: lambda pickler, value: (build, ('F', (
                value._name, dict(value._names)))),
    bytearray: lambda pickler, value: (bytes, (bytes(value),)),
    # Written by pickle itself; here in case it ever asks.
    **dict.fromkeys((str, int, float, bool, type(None), bytes, dict, list,
            tuple, set, frozenset), _as_is),
    }
