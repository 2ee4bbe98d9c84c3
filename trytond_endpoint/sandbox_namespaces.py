"""The data a snippet sees: helper namespaces, the request view, Response.

Every object here is data-only: no attribute leads to a module, a loader,
``sys`` or ``builtins`` (CVE-2020-29396 reached ``sys`` through the
``datetime`` *module* handed to snippets; we hand out namespaces holding only
the classes and functions listed).
"""
import base64 as _base64
import datetime as _datetime
import decimal
import hashlib as _hashlib
import hmac as _hmac
import json as _json
import re
import secrets
import time as _time
import types
from collections.abc import Mapping

from .http.etag import check_etag
from .sandbox_guards import MAX_LENGTH, PROXY_TYPES, BudgetExceeded


class Namespace:
    "A read-only bag of names, such as ``json`` or ``hashlib`` in snippets."
    __slots__ = ('_name', '_names')

    def __init__(self, _name, /, **names):
        object.__setattr__(self, '_name', _name)
        object.__setattr__(self, '_names', types.MappingProxyType(names))

    def __getattr__(self, name):
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(
                f'{self._name} has no attribute {name!r}') from None

    def __setattr__(self, name, value):
        raise AttributeError(f'{self._name} is read-only')

    __delattr__ = __setattr__

    def __dir__(self):
        return sorted(self._names)

    def __repr__(self):
        return f'<{self._name}: {", ".join(sorted(self._names))}>'


class Facts(Namespace):
    "Read-only facts (``user``, ``endpoint``): ``user.login`` or ``user['login']``"
    __slots__ = ()

    def __getitem__(self, name):
        try:
            return self._names[name]
        except KeyError:
            raise KeyError(name) from None

    def get(self, name, default=None):
        return self._names.get(name, default)

    def to_dict(self):
        return dict(self._names)


# Plain data check, shared by json.dumps and the caller's payload check.

PAYLOAD_TYPES = frozenset({
    dict, list, tuple, str, bytes, int, float, bool, type(None),
    decimal.Decimal, _datetime.date, _datetime.datetime, _datetime.time,
    _datetime.timedelta,
    })
_KEY_TYPES = frozenset({str, int, float, bool, type(None)})
MAX_PAYLOAD_NODES = 1_000_000
MAX_PAYLOAD_SIZE = 4 * MAX_LENGTH


def _path(link):
    parts = []
    while link is not None:
        link, key = link
        parts.append(f'[{key!r}]')
    return 'payload' + ''.join(reversed(parts))


def check_payload(value):
    """Return value if it is plain data, else raise TypeError.

    Plain data is dict (with str, int, float, bool or None keys), list,
    tuple, str, bytes, int, float, bool, None, Decimal, date, datetime, time
    and timedelta, by exact type: nothing is converted and no method of the
    values is called, so a payload cannot run code while it is serialised.
    Shared references count once per use: a payload too large to answer
    raises BudgetExceeded.
    """
    # An explicit stack: deep nesting must not exhaust the C stack.
    stack = [(value, None)]
    nodes = size = 0
    while stack:
        item, link = stack.pop()
        kind = type(item)
        if kind not in PAYLOAD_TYPES:
            raise TypeError(
                f'{_path(link)} is a {kind.__name__}: a payload may only '
                'hold dict, list, tuple, str, bytes, numbers, bool, None, '
                'Decimal, date, datetime, time and timedelta.')
        nodes += 1
        if kind is str or kind is bytes:
            size += len(item)
        elif kind is dict:
            for key, child in item.items():
                if type(key) not in _KEY_TYPES:
                    raise TypeError(
                        f'{_path(link)} has a key of type '
                        f'{type(key).__name__}: keys must be str.')
                stack.append((child, (link, key)))
        elif kind is list or kind is tuple:
            stack.extend(
                (child, (link, i)) for i, child in enumerate(item))
        if nodes > MAX_PAYLOAD_NODES or size > MAX_PAYLOAD_SIZE:
            raise BudgetExceeded('The payload is too large to answer.')
    return value


# json

def _duration(delta):
    sign = '-' if delta < _datetime.timedelta(0) else ''
    delta = abs(delta)
    seconds = delta.seconds + delta.microseconds / 1e6
    return f'{sign}P{delta.days}DT{seconds:g}S'


def json_dumps(obj, *, indent=None, sort_keys=False, ensure_ascii=False,
        separators=None):
    """JSON text of plain data: dates in ISO 8601, Decimal as exact numbers,
    timedelta as ISO 8601 durations, bytes in base64."""
    check_payload(obj)
    if isinstance(indent, int) and not isinstance(indent, bool):
        indent = min(indent, 16)
    elif indent is not None and (
            not isinstance(indent, str) or len(indent) > 16):
        raise ValueError('indent must be a small number or a short text.')
    if separators is not None and any(
            not isinstance(s, str) or len(s) > 16 for s in separators):
        raise ValueError('separators must be short texts.')
    # Decimals are written as a marked string and unquoted afterwards: the
    # random mark cannot occur in the snippet's own strings.
    marks = []

    def default(value):
        if isinstance(value, decimal.Decimal):
            if not value.is_finite():
                raise ValueError(f'{value} is not a JSON number.')
            if not marks:
                marks.append(secrets.token_hex(16))
            return marks[0] + str(value)
        if isinstance(value, (_datetime.date, _datetime.time)):
            return value.isoformat()
        if isinstance(value, _datetime.timedelta):
            return _duration(value)
        if isinstance(value, bytes):
            return _base64.b64encode(value).decode('ascii')
        raise TypeError(f'{type(value).__name__} is not JSON serialisable.')

    text = _json.dumps(
        obj, default=default, indent=indent, sort_keys=sort_keys,
        ensure_ascii=ensure_ascii, separators=separators, allow_nan=False)
    if marks:
        text = re.sub(f'"{marks[0]}([^"]*)"', r'\1', text)
    return text


def json_loads(text, *, use_decimal=False):
    "Parse JSON text; ``use_decimal=True`` reads fractions as Decimal."
    return _json.loads(
        text, parse_float=decimal.Decimal if use_decimal else None)


# hashlib and hmac: constructors only.

HASHES = {
    name: getattr(_hashlib, name) for name in (
        'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512',
        'sha3_256', 'sha3_512', 'blake2b', 'blake2s')}


def hash_new(name, data=b''):
    "hashlib.new limited to the listed algorithms."
    if name not in HASHES:
        raise ValueError(f'Unknown hash algorithm {name!r}.')
    return HASHES[name](data)


def hmac_new(key, msg=None, digestmod='sha256'):
    return _hmac.new(key, msg, digestmod)


def hmac_digest(key, msg, digest='sha256'):
    return _hmac.digest(key, msg, digest)


SAFE_MODULES = {
    'datetime': Namespace(
        'datetime', date=_datetime.date, datetime=_datetime.datetime,
        time=_datetime.time, timedelta=_datetime.timedelta,
        timezone=_datetime.timezone, UTC=_datetime.UTC,
        MINYEAR=_datetime.MINYEAR, MAXYEAR=_datetime.MAXYEAR),
    'time': Namespace(
        'time', time=_time.time, time_ns=_time.time_ns,
        monotonic=_time.monotonic, perf_counter=_time.perf_counter,
        strftime=_time.strftime, strptime=_time.strptime,
        gmtime=_time.gmtime, localtime=_time.localtime, mktime=_time.mktime),
    'json': Namespace('json', dumps=json_dumps, loads=json_loads),
    'Decimal': decimal.Decimal,
    'hashlib': Namespace(
        'hashlib', new=hash_new, algorithms=tuple(HASHES), **HASHES),
    'hmac': Namespace(
        'hmac', new=hmac_new, digest=hmac_digest,
        compare_digest=_hmac.compare_digest),
    'base64': Namespace('base64', **{
        name: getattr(_base64, name) for name in (
            'b64encode', 'b64decode', 'standard_b64encode',
            'standard_b64decode', 'urlsafe_b64encode', 'urlsafe_b64decode',
            'b32encode', 'b32decode', 'b32hexencode', 'b32hexdecode',
            'b16encode', 'b16decode', 'b85encode', 'b85decode')}),
    }


# Responses and errors

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FORBIDDEN_IN_VALUE = re.compile(r'[\r\n\x00]')


def check_headers(headers):
    """Return headers as a new dict of str to str, or raise ValueError.

    Names must be HTTP tokens and values may hold no CR, LF or NUL: a
    snippet cannot inject headers or split the response.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError('Headers must be a dict of text to text.')
    checked = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValueError(f'Invalid header name {name!r}.')
        if not isinstance(value, str) or _FORBIDDEN_IN_VALUE.search(value):
            raise ValueError(f'Invalid value for header {name}.')
        checked[name] = value
    return checked


# Framing and hop-by-hop headers belong to the server: a snippet's
# Content-Length next to the server's Transfer-Encoding desynchronises a
# keep-alive connection (RFC 9112 section 6.1, RFC 9110 section 7.6.1).
_SERVER_HEADERS = frozenset({
        'content-length', 'transfer-encoding', 'connection', 'keep-alive',
        'te', 'trailer', 'upgrade'})
# Cookies named like Tryton's session are never planted by a snippet.
_SESSION_COOKIE_PREFIX = 'tryton'


class AnswerHeaderError(ValueError):
    "A header a snippet's answer may not carry (the server answers 500)"


def check_answer_headers(headers, mount):
    """Raise AnswerHeaderError for a header of a snippet's answer that
    is the server's to set, or a cookie outside ``mount`` (the
    database's mount path, as the client sees it)."""
    for name, value in headers.items():
        lower = name.lower()
        if lower in _SERVER_HEADERS or lower.startswith('proxy-'):
            raise AnswerHeaderError(
                f"The answer may not carry {name}: framing and hop-by-hop "
                "headers are the server's.")
        if _FORBIDDEN_IN_VALUE.search(name) or _FORBIDDEN_IN_VALUE.search(
                value):
            raise AnswerHeaderError(
                f"The header {name!r} holds a CR, LF or NUL.")
        if lower == 'set-cookie':
            _check_cookie(value, mount)


def _check_cookie(value, mount):
    pair, *attributes = value.split(';')
    cookie = pair.partition('=')[0].strip()
    if cookie.lower().startswith(_SESSION_COOKIE_PREFIX):
        raise AnswerHeaderError(
            f"Set-Cookie may not set {cookie!r}: the name is reserved "
            "for Tryton's session.")
    for attribute in attributes:
        key, _, path = attribute.partition('=')
        if key.strip().lower() != 'path':
            continue
        path = path.strip()
        if path != mount and not path.startswith(mount + '/'):
            raise AnswerHeaderError(
                f"Set-Cookie {cookie!r} has Path {path!r}, outside the "
                f"mount {mount}.")


class Response:
    """A complete answer built by a snippet; checked when built, read-only.

    ``etag`` is the answer's entity tag (quoted when it is not): a GET or
    HEAD whose ``If-None-Match`` names it is answered ``304``.
    """
    __slots__ = ('body', 'content_type', 'headers', 'status')

    def __init__(self, body=b'', status=200, headers=None,
            content_type=None, etag=None):
        if body is None:
            body = b''
        if type(body) not in {str, bytes, dict, list}:
            raise ValueError('The body must be text, bytes, a dict or a list.')
        if type(status) is not int or not 100 <= status <= 599:
            raise ValueError('The status must be an integer from 100 to 599.')
        if content_type is not None and (
                not isinstance(content_type, str)
                or _FORBIDDEN_IN_VALUE.search(content_type)):
            raise ValueError('Invalid content type.')
        headers = check_headers(headers)
        if etag is not None:
            headers['ETag'] = check_etag(etag)
        for name, value in (
                ('body', body), ('status', status),
                ('headers', types.MappingProxyType(headers)),
                ('content_type', content_type)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError('A Response is read-only.')

    __delattr__ = __setattr__

    def __repr__(self):
        return f'<Response {self.status} {self.content_type or ""}>'


class UserError(Exception):
    """An error for the HTTP client, answered as problem+json.

    ``errors`` is an optional list of ``{"pointer": …, "detail": …}``.
    """
    status = 400

    def __init__(self, message='', errors=None):
        if not isinstance(message, str):
            raise TypeError('The message must be text.')
        super().__init__(message)
        self.message = message
        self.errors = check_payload(list(errors)) if errors else None


class BadRequest(UserError):
    status = 400


class NotFound(UserError):
    status = 404


class Forbidden(UserError):
    status = 403


class Conflict(UserError):
    status = 409


exceptions = Namespace(
    'exceptions', UserError=UserError, BadRequest=BadRequest,
    NotFound=NotFound, Forbidden=Forbidden, Conflict=Conflict)


# The request

class FrozenMultiMapping(Mapping):
    """A read-only mapping of name to value, keeping repeated values.

    ``m[name]`` and ``m.get(name)`` give the first value,
    ``m.getlist(name)`` all of them. From a dict (values already
    converted by a schema), a list value is the array itself: ``m[name]``
    gives the list, ``m.getlist(name)`` its items.
    """
    __slots__ = ('_arrays', '_fold', '_lists')

    def __init__(self, source=None, *, fold_case=False, drop=()):
        lists = {}
        arrays = set()
        converted = isinstance(source, dict) and not hasattr(source, 'lists')
        for name, value in _pairs(source):
            key = name.lower() if fold_case else name
            if key in drop:
                continue
            values = lists.setdefault(key, (name, []))[1]
            if converted and isinstance(value, list):
                arrays.add(key)
                values.extend(value)
            else:
                values.append(value)
        object.__setattr__(self, '_lists', lists)
        object.__setattr__(self, '_fold', fold_case)
        object.__setattr__(self, '_arrays', frozenset(arrays))

    def _key(self, name):
        return name.lower() if self._fold and isinstance(name, str) else name

    def __getitem__(self, name):
        key = self._key(name)
        values = self._lists[key][1]
        return list(values) if key in self._arrays else values[0]

    def __contains__(self, name):
        return self._key(name) in self._lists

    def __iter__(self):
        return (name for name, _ in self._lists.values())

    def __len__(self):
        return len(self._lists)

    def getlist(self, name):
        entry = self._lists.get(self._key(name))
        return list(entry[1]) if entry else []

    def to_dict(self):
        return {name: self[name] for name, _ in self._lists.values()}

    def __setattr__(self, name, value):
        raise AttributeError('This mapping is read-only.')

    def __repr__(self):
        return repr(self.to_dict())


def _pairs(source):
    if source is None:
        return
    if hasattr(source, 'lists'):  # werkzeug MultiDict
        for name, values in source.lists():
            for value in values:
                yield name, value
    elif hasattr(source, 'items'):
        yield from source.items()
    else:
        yield from source


class UploadedFile:
    "An uploaded file: its name, content type and content (bytes)."
    __slots__ = ('content_type', 'data', 'filename')

    def __init__(self, filename, content_type, data):
        for name, value in (
                ('filename', filename), ('content_type', content_type),
                ('data', bytes(data))):
            object.__setattr__(self, name, value)

    @classmethod
    def from_any(cls, value):
        if isinstance(value, cls):
            return value
        if isinstance(value, tuple):
            return cls(*value)
        if isinstance(value, Mapping):
            return cls(
                value.get('filename'), value.get('content_type'),
                value.get('data', b''))
        # werkzeug FileStorage: read it once, hand out bytes only.
        return cls(value.filename, value.content_type, value.read())

    def __setattr__(self, name, value):
        raise AttributeError('An uploaded file is read-only.')

    def __repr__(self):
        return f'<UploadedFile {self.filename!r} {len(self.data)} bytes>'


# Read-only, so one serves every request with no query, form or file.
_EMPTY = FrozenMultiMapping()
HIDDEN_HEADERS = frozenset({'authorization', 'cookie', 'proxy-authorization'})


class RequestView:
    """What a snippet knows of the HTTP request: copies, read-only.

    Credentials headers are left out; nothing leads to the WSGI environ,
    the Werkzeug request or the body stream.
    """
    __slots__ = (
        'args',
        'content_type',
        'data',
        'files',
        'form',
        'headers',
        'json',
        'method',
        'path',
        'path_params',
        'text',
        'xml',
    )

    def __init__(self, *, method, path, args=None, headers=(), json=None,
            data=b'', text='', form=None, files=None, path_params=None,
            content_type=None, xml=None):
        values = {
            'method': str(method),
            'path': str(path),
            'args': FrozenMultiMapping(args) if args else _EMPTY,
            'headers': FrozenMultiMapping(
                headers, fold_case=True, drop=HIDDEN_HEADERS),
            'json': json,
            'data': bytes(data or b''),
            'text': str(text or ''),
            'form': FrozenMultiMapping(form) if form else _EMPTY,
            'files': FrozenMultiMapping(
                (name, UploadedFile.from_any(f))
                for name, f in _pairs(files)) if files else _EMPTY,
            'path_params': types.MappingProxyType(dict(path_params or {})),
            'content_type': content_type,
            'xml': xml,
            }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError('The request is read-only.')

    __delattr__ = __setattr__

    def __repr__(self):
        return f'<RequestView {self.method} {self.path}>'


PROXY_TYPES.update({
        Namespace, Facts, FrozenMultiMapping, RequestView, UploadedFile,
        Response})
