"""Snippets run in a sandbox process of their own, the server's side.

::

    pool = SandboxPool(memory=512 * 2 ** 20)
    run_isolated(pool, source, names, timeout=5)   # as run_snippet

Each server worker keeps warm sandbox processes
(:mod:`.sandbox_process_child`), one per request running at once, started
by a thread of its own (the processes die with it, hence with the
worker). A run sends the snippet's source and its names; plain data
travels as data, anything else (the ``pool`` and ``rest`` helpers, the
``log`` function, records, REST answers) stays here and the sandbox gets
a handle: its attribute reads, item reads and calls come back as requests
that this side serves, in the request's thread and transaction, through
the same attribute guard as inline. The deadline is kept here: past it
the process is killed and replaced and the run raises BudgetExceeded; a
process that dies raises SandboxCrashed; either way the worker goes on.
"""
import ast
import functools
import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import nullcontext

from . import sandbox_process_wire as wire
from .sandbox import BudgetExceeded, Response
from .sandbox_guards import SAFE_BUILTINS, guarded_getattr
from .sandbox_namespaces import UserError as SnippetUserError
from .sandbox_namespaces import exceptions
from .sandbox_policy import SnippetError

logger = logging.getLogger(__name__)

# The process's own check of the budget answers first; this side waits a
# little longer before it kills.
GRACE = 0.1
# Seconds a process waits for its start, and CPU seconds it may use in
# its life (it is replaced after half of them).
STARTUP_TIMEOUT = 60
CPU_LIFETIME = 600
# Where the sandbox processes write: nowhere, unless debugging.
_STDERR = (None if os.environ.get('TRYTOND_ENDPOINT_SANDBOX_DEBUG')
    else subprocess.DEVNULL)
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOT = ('import sys; sys.path.insert(0, sys.argv.pop(1)); '
    'from trytond_endpoint.sandbox_process_child import main; '
    'main(sys.argv[1:])')
_BUILTIN_ERRORS = {name: value for name, value in SAFE_BUILTINS.items()
    if isinstance(value, type) and issubclass(value, BaseException)}
_SNIPPET_ERRORS = {name: getattr(exceptions, name) for name in dir(exceptions)}

# Attribute values sent with a handle, by the object's exact type: what
# is cheap and never changes (a record's id and text). Registered by the
# modules that define the types.
PREFETCH = {
    Response: lambda r: {'status': r.status, 'headers': dict(r.headers),
        'content_type': r.content_type},
    }


class SandboxCrashed(Exception):
    "The sandbox process died or broke the protocol during a run"


class SandboxUnavailable(Exception):
    "No sandbox process could be started"


@functools.lru_cache(maxsize=64)
def _failure_class(name):
    # What the snippet raised, under its own name in the server's log.
    return type(name, (Exception,), {})


_TYPE_IDS = {}
_METHODS = {}
_TYPES_LOCK = threading.Lock()


def _type_id(kind):
    type_id = _TYPE_IDS.get(kind)
    if type_id is None:
        with _TYPES_LOCK:
            type_id = _TYPE_IDS.get(kind)
            if type_id is None:
                # The methods a sandbox may call without asking first
                # whether the attribute is one.
                _METHODS[len(_TYPE_IDS) + 1] = sorted(
                    name for name in dir(kind) if not name.startswith('_')
                    and inspect.isfunction(
                        inspect.getattr_static(kind, name)))
                type_id = _TYPE_IDS[kind] = len(_TYPE_IDS) + 1
    return type_id


@functools.lru_cache(maxsize=4096)
def _used_names(source):
    """The names source reads, or None when it does not parse.

    A snippet reaches the names of its run only by writing them (no
    ``globals``, ``vars`` or frame in the sandbox): the others are not
    sent, nor built on the other side.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return frozenset(node.id for node in ast.walk(tree)
        if isinstance(node, ast.Name))


def command(*args):
    "The command line of a sandbox process (a benchmark may wrap it)"
    return [sys.executable, '-I', '-c', _BOOT, _ROOT, *args]


class SandboxProcess:
    "One sandbox process and the conversation of its runs"

    def __init__(self, memory, cpu=CPU_LIFETIME):
        from_parent, to_child = os.pipe()
        from_child, to_parent = os.pipe()
        try:
            self.process = subprocess.Popen(
                command(str(os.getpid()), str(from_parent), str(to_parent),
                    str(memory or 0), str(cpu)),
                env={}, cwd='/', stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=_STDERR,
                pass_fds=(from_parent, to_parent), close_fds=True)
        finally:
            os.close(from_parent)
            os.close(to_parent)
        self.fd_out, self.fd_in = to_child, from_child
        self.reader = wire.FrameReader(from_child)
        self.pid = self.process.pid
        self.enforced = None
        # Whether it may serve another run: set by each run.
        self.healthy = True
        self.types = set()
        self._objects = []
        self._handles = {}
        self.encode = wire.Pickler(self._handle).encode
        self.decode = wire.decoder({'\x00h': self._object, **wire.SHARED_TAGS})

    def wait_ready(self, timeout=None):
        if timeout is None:
            timeout = STARTUP_TIMEOUT
        message = self.decode(self.reader.read(time.monotonic() + timeout))
        if message[0] != 'ready':
            raise wire.WireError('The sandbox did not start.')
        self.enforced = message[2]
        return self

    def kill(self):
        for fd in (self.fd_out, self.fd_in):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()

    # Values

    def _object(self, value):
        try:
            return self._objects[value[0]]
        except (IndexError, TypeError):
            raise wire.WireError('Unknown handle.') from None

    def _handle(self, value):
        handle = self._handles.get(id(value))
        if handle is None:
            handle = self._handles[id(value)] = len(self._objects)
            self._objects.append(value)
        kind = type(value)
        type_id = _TYPE_IDS.get(kind) or _type_id(kind)
        methods = None
        if type_id not in self.types:
            self.types.add(type_id)
            methods = _METHODS[type_id]
        prefetch = PREFETCH.get(kind)
        return [handle, type_id, prefetch(value) if prefetch else None,
            methods]

    # Runs

    def run(self, source, names, timeout, memo=()):
        """Run source with names; fill ``names['result']``.

        ``memo`` holds ``(object, method, args, value, always)`` of calls
        made here beforehand (``pool.get('party.party')``): the first
        such call of the snippet gets its value with no round trip; one
        not ``always`` only while the snippet has made no other call.

        Raises what the snippet raised (the server's own exception when
        it came from here), BudgetExceeded past the deadline (the process
        is then dead), SandboxCrashed when the process died. ``healthy``
        says afterwards whether the process may serve another run.
        """
        self.healthy = False
        deadline = time.monotonic() + timeout + GRACE
        result = names.get('result')
        used = _used_names(source)
        sent = {k: v for k, v in names.items() if k != 'result'
            and (used is None or k in used)}
        try:
            self._send(['run', source, timeout, sent,
                    [list(entry) for entry in memo]])
            while True:
                message = self.decode(self.reader.read(deadline))
                kind = message[0]
                if kind in {'done', 'fail'}:
                    outcome = message[1]
                    if kind == 'fail':
                        outcome = self._failure(outcome)
                    self.healthy = not message[2].get('recycle')
                    if kind == 'fail':
                        raise outcome
                    if isinstance(result, dict):
                        result.clear()
                        result.update(outcome)
                    return
                self._send(self._serve(message))
                if time.monotonic() > deadline:
                    raise wire.Deadline('The run is past its deadline.')
        except wire.Deadline:
            self.kill()
            raise BudgetExceeded(
                f'The snippet ran longer than its {timeout:g} s budget.'
                ) from None
        except wire.WireError as exception:
            try:
                # Dying already, most likely: its end tells why.
                self.process.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
            self.kill()
            raise SandboxCrashed(
                f'The sandbox process ended ({self._end()}): '
                f'{exception}') from None
        finally:
            self._objects = []
            self._handles = {}

    def _end(self):
        code = self.process.returncode
        if code is None:
            return 'running'
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f'signal {-code}'
        return f'exit {code}'

    def _send(self, message):
        wire.write_frame(self.fd_out, self.encode(message))

    def _serve(self, message):
        try:
            return ['ok', self._answer(message)]
        except wire.WireError:
            raise
        except Exception as exception:
            return ['err', self._error(exception)]

    def _answer(self, message):
        kind, target = message[0], self._object([message[1]])
        if kind == 'get':
            name, siblings = message[2], message[3]
            value = guarded_getattr(target, name)
            values = []
            for handle in siblings:
                other = self._object([handle])
                try:
                    if type(other) is not type(target):
                        raise TypeError
                    other_value = guarded_getattr(other, name)
                    if callable(other_value):
                        raise TypeError
                    values.append([True, other_value])
                except Exception:
                    values.append([False, None])
            return [value, values]
        if kind == 'call':
            name, args, kwargs = message[2], message[3], message[4]
            if name is not None:
                target = guarded_getattr(target, name)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise wire.WireError('Malformed call.')
            return target(*args, **kwargs)
        if kind == 'item':
            return target[message[2]]
        if kind == 'op':
            operation = message[2]
            if operation == 'repr':
                return repr(target)
            if operation == 'str':
                return str(target)
            if operation == 'len':
                return len(target)
            if operation == 'list':
                return list(target)
            if operation == 'contains':
                return message[3] in target
            if operation == 'eq':
                return target == message[3]
        raise wire.WireError(f'Unknown request {kind!r}.')

    def _error(self, exception):
        "An exception raised here, for the snippet; the original is kept"
        handle = self._handle(exception)[0]
        name = type(exception).__name__
        if isinstance(exception, BudgetExceeded):
            return ['budget', name, _text(exception), None, None, handle]
        if isinstance(exception, SnippetUserError):
            return ['snippet', name, _text(exception.message), None,
                exception.errors, handle]
        if _BUILTIN_ERRORS.get(name) is type(exception):
            return ['builtin', name, _first_arg(exception), None, None,
                handle]
        return ['other', name,
            _text(getattr(exception, 'message', None) or exception),
            _attributes(exception), None, handle]

    def _failure(self, data):
        "The exception to raise for what a run ended with"
        exception = self._exception(data)
        facts = data[3]
        if isinstance(facts, dict) and isinstance(facts.get('line'), int):
            exception.snippet_line = facts['line']
        return exception

    def _exception(self, data):
        kind, name, message, _, errors, handle = data
        if kind == 'remote':
            original = self._object([handle])
            if isinstance(original, BaseException):
                return original
            raise wire.WireError('Unknown exception handle.')
        message = str(message)
        if kind == 'budget':
            return BudgetExceeded(message)
        if kind == 'snippet' and name in _SNIPPET_ERRORS:
            return _SNIPPET_ERRORS[name](message, errors)
        if kind == 'builtin' and name in _BUILTIN_ERRORS:
            return _BUILTIN_ERRORS[name](message)
        if name == 'SnippetError':
            return SnippetError(message)
        if not (isinstance(name, str) and name.isidentifier()
                and len(name) <= 64):
            name = 'SnippetFailure'
        return _failure_class(name)(message)


def _first_arg(exception):
    args = exception.args
    if len(args) == 1 and isinstance(args[0], str):
        return _text(args[0])
    return _text(exception)


def _text(value):
    return str(value)[:4000]


_PLAIN = (str, int, float, bool, type(None))


def _plain(value, depth=0):
    if isinstance(value, _PLAIN):
        return value if not isinstance(value, str) else _text(value)
    if isinstance(value, (list, tuple)) and depth < 4 and len(value) < 100:
        items = [_plain(v, depth + 1) for v in value]
        if all(i is not _SKIP for i in items):
            return items
    return _SKIP


_SKIP = object()


def _attributes(exception):
    "The public attributes and args of an exception that are plain text"
    attributes = {}
    for name, value in [('args', exception.args), *vars(exception).items()]:
        if not name.startswith('_'):
            value = _plain(value)
            if value is not _SKIP:
                attributes[name] = value
    return attributes


class SandboxPool:
    """The warm sandbox processes of one server process.

    A run takes an idle one or waits for one being started; a process
    killed or crashed is replaced at once, in the background.
    """

    def __init__(self, memory):
        self.memory = memory
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._idle = []
        self._starting = 0
        self._waiting = 0
        self._failure = None
        self._orders = deque()
        self._thread = None

    def acquire(self):
        with self._lock:
            # The usual case, without the condition's Python layers.
            if self._idle:
                return self._idle.pop()
        with self._condition:
            while not self._idle:
                if self._starting <= self._waiting:
                    self._start()
                self._waiting += 1
                try:
                    self._condition.wait(STARTUP_TIMEOUT)
                finally:
                    self._waiting -= 1
                if not self._idle and self._failure is not None:
                    failure, self._failure = self._failure, None
                    raise SandboxUnavailable(
                        f'No sandbox process could be started: {failure}')
            return self._idle.pop()

    def release(self, sandbox, reusable):
        if reusable:
            with self._lock:
                self._idle.append(sandbox)
                if self._waiting:
                    self._condition.notify()
        else:
            if sandbox.process.returncode is None:
                sandbox.kill()
            with self._condition:
                if self._starting <= self._waiting:
                    self._start()

    def _start(self):
        # With the condition held.
        self._starting += 1
        self._orders.append(None)
        if self._thread is None:
            # The processes are started from this thread, and die with it
            # (PR_SET_PDEATHSIG): it lives as long as the server process.
            self._thread = threading.Thread(
                target=self._starter, name='sandbox-starter', daemon=True)
            self._thread.start()
        self._condition.notify_all()

    def _starter(self):
        while True:
            with self._condition:
                while not self._orders:
                    self._condition.wait()
                self._orders.popleft()
            try:
                sandbox = SandboxProcess(self.memory)
                try:
                    sandbox.wait_ready()
                except BaseException:
                    sandbox.kill()
                    raise
            except Exception as exception:
                logger.exception('Could not start a sandbox process')
                sandbox, failure = None, exception
            with self._condition:
                self._starting -= 1
                if sandbox is not None:
                    self._idle.append(sandbox)
                else:
                    self._failure = failure
                self._condition.notify_all()

    def close(self):
        with self._condition:
            idle, self._idle = self._idle, []
        for sandbox in idle:
            sandbox.kill()


_POOLS = {}
_POOLS_LOCK = threading.Lock()


def pool_for(memory):
    "The pool of this process (a forked child makes its own)"
    key = (os.getpid(), memory)
    pool = _POOLS.get(key)
    if pool is None:
        with _POOLS_LOCK:
            pool = _POOLS.get(key)
            if pool is None:
                for old in [k for k in _POOLS if k[0] != key[0]]:
                    # Inherited from the parent process: not ours to kill.
                    del _POOLS[old]
                pool = _POOLS[key] = SandboxPool(memory)
    return pool


def run_isolated(source, names, timeout=5.0, memory=None, limit=None,
        memo=()):
    """run_snippet in a sandbox process; the same exceptions and result.

    ``limit()``, when given, is a context entered once a process is ready
    (the run's SQL deadline): waiting for a process to start is not the
    snippet's time. ``memo``: see :meth:`SandboxProcess.run`, or a
    function giving it, called inside ``limit()``.
    """
    pool = pool_for(memory)
    sandbox = pool.acquire()
    try:
        with limit() if limit is not None else nullcontext():
            sandbox.run(source, names, timeout,
                memo() if callable(memo) else memo)
    finally:
        pool.release(sandbox, sandbox.healthy)
