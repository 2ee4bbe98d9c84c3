"""The sandbox process: compiles and runs snippets for one server worker.

Started by :mod:`.sandbox_process` as a fresh interpreter (``python -I``,
empty environment), never forked from the server: no database
connection, configuration, key or environment variable of the server is
in its memory. It imports what snippets may use, puts the operating
system's walls up (:mod:`.sandbox_process_limits`), says it is ready and
then serves runs, one at a time, until its pipe closes.

The snippet runs in the same sandbox as inline (every language-level
guard stays on); what it is given that lives in the server (``pool``,
``rest``, ``log``, ``user``, records, REST answers) is a :class:`Remote`:
reading its attributes, calling it or its methods are round trips to the
server worker, which runs them in the request's transaction.
"""
import datetime
import decimal
import functools
import gc
import os
import pickle
import sys
import types

from . import sandbox_process_limits as limits
from . import sandbox_process_wire as wire
from .sandbox import (
    BudgetExceeded,
    FrozenMultiMapping,
    RequestView,
    UploadedFile,
    compile_snippet,
    run_snippet,
    snippet_line,
)
from .sandbox_guards import PROXY_TYPES, SAFE_BUILTINS
from .sandbox_namespaces import _EMPTY, Facts, exceptions
from .sandbox_namespaces import UserError as SnippetUserError

# Attribute reads of records fetched for their siblings in one round trip.
MAX_SIBLINGS = 1000
_BUILTIN_ERRORS = {name: value for name, value in SAFE_BUILTINS.items()
    if isinstance(value, type) and issubclass(value, BaseException)}
_SNIPPET_ERRORS = {name: getattr(exceptions, name) for name in dir(exceptions)}


class RemoteError(Exception):
    """A failure of the server side (access refused, Tryton's UserError,
    a database failure…), as the snippet sees it: ``message``, ``args``
    and the other attributes of the original that are plain text."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@functools.lru_cache(maxsize=64)
def _remote_error_class(name):
    return type(name, (RemoteError,), {})


class _Channel:
    "The run's conversation with the server worker"

    def __init__(self, fd_in, fd_out):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.reader = wire.FrameReader(fd_in)
        self.types = {}
        # Bumped by each call: attribute values read before may be stale.
        self.generation = 0
        # (handle, method, args) -> value of calls the server made first
        self.memo = {}
        self._group = None
        self.encode = wire.encoder(self._default)
        # What the server's messages are built with (one channel serves
        # the process's runs).
        wire.BUILDERS.update({
                'h': self._remote,
                'Q': _request_view,
                'F': lambda v: Facts(v[0], **v[1]),
                'M': _frozen_mapping,
                'U': lambda v: UploadedFile(*v),
                'T': datetime.datetime.fromisoformat,
                'c': datetime.time.fromisoformat,
                })

    def decode(self, data):
        # The Remotes of one message are siblings: a field read on one is
        # fetched for all of them at once.
        self._group = []
        try:
            # From the server, which the sandbox trusts (see the wire).
            return pickle.loads(data)
        except Exception as exception:
            raise wire.WireError(f'Malformed message: {exception}') from None
        finally:
            self._group = None

    def _remote(self, value):
        handle, type_id, fixed, methods = value
        if methods is not None:
            self.types[type_id] = frozenset(methods)
        # Built without a call of __init__: a run makes several.
        remote = _new_remote(Remote)
        _set_channel(remote, self)
        _set_handle(remote, handle)
        _set_type(remote, type_id)
        _set_fixed(remote, fixed or _NO_FACTS)
        _set_group(remote, self._group)
        _set_cache(remote, {})
        self._group.append(remote)
        return remote

    def _default(self, value):
        if type(value) is Remote:
            return {'\x00h': [value._handle]}
        tagged = wire.encode_shared(value)
        if tagged is not None:
            return tagged
        raise TypeError(
            f'A value of type {type(value).__name__} can not be passed.')

    def request(self, message):
        wire.write_frame(self.fd_out, self.encode(message))
        answer = self.decode(self.reader.read())
        if answer[0] == 'ok':
            return answer[1]
        raise _error(answer[1])


def _request_view(fields):
    # Built as the server's view was, from its parts (already checked
    # there): no copy, no header filtering again.
    (method, path, args, headers, json, data, text, form, files,
        path_params, content_type, xml) = fields
    view = object.__new__(RequestView)
    for setter, value in zip(_VIEW_SETTERS, (
            method, path, _frozen_mapping(args), _frozen_mapping(headers),
            json, data, text, _frozen_mapping(form), _frozen_mapping(files),
            types.MappingProxyType(path_params), content_type, None)):
        setter(view, value)
    if xml:
        # Parsed here again: its queries (find, iter…) are C code the
        # budget cannot interrupt in the server.
        from .xmlsafe import element_view, parse_xml
        object.__setattr__(view, 'xml', element_view(parse_xml(data)))
    return view


_VIEW_SETTERS = tuple(getattr(RequestView, name).__set__ for name in (
        'method', 'path', 'args', 'headers', 'json', 'data', 'text', 'form',
        'files', 'path_params', 'content_type', 'xml'))


def _frozen_mapping(state):
    if state is None:
        return _EMPTY
    mapping = object.__new__(FrozenMultiMapping)
    lists, fold, arrays = state
    _set_lists(mapping, lists)
    _set_fold(mapping, fold)
    _set_arrays(mapping, arrays)
    return mapping


_set_lists = FrozenMultiMapping._lists.__set__
_set_fold = FrozenMultiMapping._fold.__set__
_set_arrays = FrozenMultiMapping._arrays.__set__


def _error(data):
    kind, name, message, attributes, errors, handle = data
    if kind == 'builtin' and name in _BUILTIN_ERRORS:
        error = _BUILTIN_ERRORS[name](message)
    elif kind == 'snippet' and name in _SNIPPET_ERRORS:
        error = _SNIPPET_ERRORS[name](message, errors)
    elif kind == 'budget':
        error = BudgetExceeded(message)
    else:
        error = _remote_error_class(
            name if name.isidentifier() else 'RemoteError')(message)
        for key, value in (attributes or {}).items():
            if key.isidentifier() and not key.startswith('_'):
                setattr(error, key, value)
    if handle is not None:
        # Uncaught, the server raises its own original.
        error._endpoint_handle_ = handle
    return error


class Remote:
    """An object of the server worker: attribute reads, item reads and
    calls are round trips; ``id`` and the text of records come along."""
    __slots__ = ('_cache', '_channel', '_fixed', '_group', '_handle',
        '_type')

    def __init__(self, channel, handle, type_id, fixed, group):
        object.__setattr__(self, '_channel', channel)
        object.__setattr__(self, '_handle', handle)
        object.__setattr__(self, '_type', type_id)
        object.__setattr__(self, '_fixed', fixed)
        object.__setattr__(self, '_group', group)
        object.__setattr__(self, '_cache', {})

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        fixed = self._fixed
        if name in fixed:
            return fixed[name]
        channel = self._channel
        cached = self._cache.get(name)
        if cached is not None and cached[0] == channel.generation:
            return cached[1]
        if name in channel.types.get(self._type, ()):
            return RemoteMethod(self, name)
        siblings = []
        for other in self._group:
            if len(siblings) >= MAX_SIBLINGS:
                break
            if (other is not self and other._type == self._type
                    and name not in other._fixed):
                entry = other._cache.get(name)
                if entry is None or entry[0] != channel.generation:
                    siblings.append(other)
        value, values = channel.request(
            ['get', self._handle, name, [s._handle for s in siblings]])
        generation = channel.generation
        self._cache[name] = (generation, value)
        for sibling, (ok, other_value) in zip(siblings, values):
            if ok:
                sibling._cache[name] = (generation, other_value)
        return value

    def __setattr__(self, name, value):
        raise AttributeError('This object is read-only.')

    __delattr__ = __setattr__

    def __call__(self, *args, **kwargs):
        return self._channel.call(self._handle, None, args, kwargs)

    def __getitem__(self, key):
        return self._channel.request(['item', self._handle, key])

    def _op(self, name, *args):
        return self._channel.request(['op', self._handle, name, *args])

    def __iter__(self):
        return iter(self._op('list'))

    def __len__(self):
        return self._op('len')

    def __contains__(self, item):
        return self._op('contains', item)

    def __repr__(self):
        text = self._fixed.get('$repr')
        return text if text is not None else self._op('repr')

    def __str__(self):
        text = self._fixed.get('$repr')
        return text if text is not None else self._op('str')

    def __eq__(self, other):
        if type(other) is not Remote:
            return False
        if other._handle == self._handle:
            return True
        key, other_key = self._fixed.get('$repr'), other._fixed.get('$repr')
        if key is not None and other_key is not None:
            return self._type == other._type and key == other_key
        return self._op('eq', other)

    def __hash__(self):
        key = self._fixed.get('$repr')
        return hash(key if key is not None else self._handle)


_new_remote = object.__new__
_set_channel = Remote._channel.__set__
_set_handle = Remote._handle.__set__
_set_type = Remote._type.__set__
_set_fixed = Remote._fixed.__set__
_set_group = Remote._group.__set__
_set_cache = Remote._cache.__set__
# The prefetched values of a handle sent without any (shared, read only).
_NO_FACTS = types.MappingProxyType({})


class RemoteMethod:
    "A method of a Remote, called in one round trip"
    __slots__ = ('_name', '_owner')

    def __init__(self, owner, name):
        object.__setattr__(self, '_owner', owner)
        object.__setattr__(self, '_name', name)

    def __setattr__(self, name, value):
        raise AttributeError('This object is read-only.')

    def __call__(self, *args, **kwargs):
        owner = self._owner
        channel = owner._channel
        if channel.memo and not kwargs:
            try:
                always, value = channel.memo.pop(
                    (owner._handle, self._name, _memo_key(args)), _MISSED)
            except TypeError:  # unhashable arguments: never in the memo
                always = None
            if always or (always is False and channel.generation == 0):
                return value
        return channel.call(owner._handle, self._name, args, kwargs)

    def __repr__(self):
        return f'<method {self._name}>'


_MISSED = (None, None)


def _memo_key(value):
    # Of exact types: read([True]) is not read([1]).
    kind = type(value)
    if kind is list or kind is tuple:
        return (kind, tuple(_memo_key(v) for v in value))
    return (kind, value)


def _call(self, handle, name, args, kwargs):
    self.generation += 1
    return self.request(['call', handle, name, list(args), kwargs])


_Channel.call = _call
PROXY_TYPES.update({Remote, RemoteMethod})


def _failure(exception):
    "What the server needs to answer as it would have inline"
    failure = _failure_data(exception)
    line = snippet_line(exception)
    if line is not None:
        # The attributes slot: the line the admin's log quotes.
        failure[3] = {'line': line}
    return failure


def _failure_data(exception):
    handle = getattr(exception, '_endpoint_handle_', None)
    if handle is not None:
        return ['remote', '', '', None, None, handle]
    name = type(exception).__name__
    text = str(exception)[:4000]
    if isinstance(exception, BudgetExceeded):
        return ['budget', name, text, None, None, None]
    if isinstance(exception, SnippetUserError):
        errors = exception.errors
        return ['snippet', name, exception.message[:4000], None,
            errors if isinstance(errors, list) else None, None]
    if _BUILTIN_ERRORS.get(name) is type(exception):
        return ['builtin', name, _first_arg(exception), None, None, None]
    return ['other', name, text, None, None, None]


def _first_arg(exception):
    args = exception.args
    if len(args) == 1 and isinstance(args[0], str):
        return args[0][:4000]
    return str(exception)[:4000]


@functools.lru_cache(maxsize=1024)
def _compile(source):
    return compile_snippet(source, '<endpoint>')


def _warm():
    """Run what imports or opens files on first use, while it still may:
    afterwards no file can be opened."""
    import _strptime  # noqa: F401  time.strptime imports it on first use
    import encodings  # noqa: F401
    for codec in _CODECS:
        try:
            'x'.encode(codec)
        except LookupError:
            pass
    from .sandbox_namespaces import HASHES, hmac_digest
    for new in HASHES.values():
        new(b'x').hexdigest()
    hmac_digest(b'k', b'm', 'sha256')
    from .xmlsafe import element_view, parse_xml
    element_view(parse_xml(b'<a><b/></a>')).find('b')
    channel = _Channel(-1, -1)
    run_snippet(_compile(
            "result['payload'] = {'at': datetime.datetime.now(), "
            "'t': time.strptime('2024', '%Y').tm_year, "
            "'j': json.dumps({'d': Decimal('1.5')}), "
            "'s': '{!r:>3}'.format(1) + '%s' % 2}"),
        {'result': {}}, timeout=5, memory=None)
    channel.encode({'x': [decimal.Decimal(1), b'1']})
    # The server's values, as its pickles name them.
    channel.decode(wire.Pickler(lambda value: [0, 0, None, None]).encode([
            decimal.Decimal(1), datetime.datetime.now(), datetime.date(1, 1, 1),
            datetime.time(), datetime.timedelta(1), {1}, frozenset(), b'x',
            object()]))


_CODECS = ('ascii', 'latin-1', 'utf-8', 'utf-8-sig', 'utf-16', 'utf-32',
    'utf-16-le', 'utf-16-be', 'cp1252', 'iso8859-15', 'punycode', 'idna',
    'unicode_escape', 'raw_unicode_escape', 'cp437', 'cp850', 'mac-roman')


def main(argv):
    parent_pid, fd_in, fd_out, memory, cpu = (int(a) for a in argv)
    limits.die_with_parent(parent_pid)
    _warm()
    # What the process holds once warm lives as long as it does: the
    # collector need not walk it again after each run's garbage.
    gc.freeze()
    limits.load_seccomp_library()
    enforced = limits.set_rlimits(memory or None, cpu)
    enforced['landlock'] = limits.landlock()
    enforced['seccomp'] = limits.seccomp()
    channel = _Channel(fd_in, fd_out)
    wire.write_frame(fd_out, channel.encode(['ready', os.getpid(), enforced]))
    cpu_recycle = cpu / 2
    while True:
        try:
            message = channel.decode(channel.reader.read())
        except wire.WireError:
            return
        _, source, budget, names = message[:4]
        memo = message[4] if len(message) > 4 else ()
        used = limits.set_cpu_budget(budget)
        channel.generation = 0
        channel.memo = {
            (target._handle, name, _memo_key(tuple(args))): (always, value)
            for target, name, args, value, always in memo
            if type(target) is Remote}
        recycle = used > cpu_recycle
        try:
            result = names.setdefault('result', {})
            run_snippet(_compile(source), names, timeout=budget,
                memory=None)
            answer = ['done', result]
        except BaseException as exception:
            if isinstance(exception, (MemoryError, BudgetExceeded)):
                recycle = True
            answer = ['fail', _failure(exception)]
        answer.append({'recycle': recycle})
        try:
            data = channel.encode(answer)
        except BaseException as exception:
            data = channel.encode(['fail', _failure(exception),
                    {'recycle': True}])
        wire.write_frame(fd_out, data)

if __name__ == '__main__':
    main(sys.argv[1:])
