"""Run-time half of the snippet sandbox: guards, limits and builtins.

The compiled snippet calls these functions instead of touching objects
directly (see :mod:`trytond_endpoint.sandbox_policy`). They are plain
functions shared by every run; per-run state (the deadline) lives in the
run's own globals, and for the builtins that loop in C, in a thread-local
(:data:`RUN`), so concurrent runs in threads do not interfere.
"""
import datetime as _datetime
import decimal
import functools
import operator
import os
import re
import string
import threading
import types
import unicodedata
from itertools import islice
from numbers import Number
from time import monotonic

from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)

from .sandbox_policy import (
    FORBIDDEN_ATTRIBUTE_PREFIXES,
    FORBIDDEN_ATTRIBUTES,
    SnippetError,
)

# One operation may not build a str/bytes/list/tuple longer than this, nor
# a range longer than this: it bounds both memory and the time of the C
# loops (sum, sorted, join…) that the budget check cannot interrupt.
MAX_LENGTH = 10_000_000
# Bits of an int built by *, ** or << (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
# Width or precision in a format spec or a %-format.
MAX_WIDTH = 10_000
# Growth of the worker's resident memory a run may cause, by default.
MEMORY_BUDGET = 512 * 2 ** 20
# How often a run's memory is looked at, in seconds: reading it costs a
# few microseconds, so short runs never do.
MEMORY_EVERY = 0.01
# Items a chunked builtin (sum, max, min) handles between budget checks.
CHUNK = 1024
SEQUENCES = (str, bytes, list, tuple)


class BudgetExceeded(Exception):
    "A snippet ran out of time or tried to build something too large."


def _too_large(what):
    return BudgetExceeded(
        f'{what} is larger than the sandbox allows.')


def make_budget(timeout, memory=MEMORY_BUDGET):
    """Return the ``_tick_`` function of one run and its state.

    The deadline is in the closure, not in a module global: each run has
    its own. ``state['exceeded']`` keeps the reason once the budget is
    overrun, so the runner can refuse a snippet that caught the exception.
    ``memory`` bounds the growth of the process's resident memory (bytes,
    None for no bound), measured from the run's first check: a loop can
    allocate gigabytes within its time budget.
    """
    start = monotonic()
    deadline = start + timeout
    state = {'exceeded': None}
    watch = [start + MEMORY_EVERY, None]  # next look, resident at first

    def exceeded(reason):
        state['exceeded'] = reason
        return BudgetExceeded(reason)

    def tick():
        now = monotonic()
        if now > deadline:
            raise exceeded(
                f'The snippet ran longer than its {timeout:g} s budget.')
        if memory is not None and now > watch[0]:
            watch[0] = now + MEMORY_EVERY
            resident = _resident()
            if watch[1] is None:
                watch[1] = resident
            elif resident - watch[1] > memory:
                raise exceeded('The snippet used more memory than its '
                    f'{memory // 2 ** 20} MB budget.')
    return tick, state


def _resident():
    "Resident memory of this process in bytes; 0 where it is not known"
    try:
        with open('/proc/self/statm', 'rb') as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096

# The ``_tick_`` of the run in this thread, for the builtins below that
# would otherwise loop in C where no deadline is checked.
RUN = threading.local()


def _check_budget():
    tick = getattr(RUN, 'tick', None)
    if tick is not None:
        tick()


# Size guards for operators

def _check_length(value):
    if isinstance(value, SEQUENCES) and len(value) > MAX_LENGTH:
        raise _too_large('The result')
    return value


def _int_bits(value):
    return value.bit_length() if isinstance(value, int) else 0


def guarded_mult(a, b):
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise _too_large('The product')
    elif ((isinstance(a, SEQUENCES) and isinstance(b, int)
                and len(a) * b > MAX_LENGTH)
            or (isinstance(b, SEQUENCES) and isinstance(a, int)
                and len(b) * a > MAX_LENGTH)):
        raise _too_large('The repeated sequence')
    return a * b


def guarded_pow(a, b):
    if (isinstance(a, int) and isinstance(b, int) and b > 0
            and abs(a) > 1 and (a.bit_length() - 1) * b > MAX_INT_BITS):
        raise _too_large('The power')
    return a ** b


def guarded_lshift(a, b):
    if isinstance(b, int) and _int_bits(a) + b > MAX_INT_BITS:
        raise _too_large('The shifted number')
    return a << b


_CONTAINERS = (list, tuple, dict, set, frozenset)


def check_render(value):
    """Refuse to render a container whose text would pass MAX_LENGTH.

    ``str([s] * 10**6)`` is a million references to one string, cheap to
    make; its text is a million copies, built in C where no budget is
    looked at. The walk adds up the text of the leaves, each time a leaf
    is met, and stops as soon as the sum is too large.
    """
    if not isinstance(value, _CONTAINERS):
        return
    size = 0
    stack = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if not seen % CHUNK:
            _check_budget()
        if isinstance(item, dict):
            size += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            size += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, (str, bytes)):
            size += len(item) + 3
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 1
        elif isinstance(item, decimal.Decimal):
            size += len(item.as_tuple().digits) + 12
        else:
            size += 8
        if size > MAX_LENGTH:
            raise _too_large('The text of the value')


def guarded_add(a, b):
    # The result is at most twice a bounded operand: check it afterwards.
    return _check_length(a + b)


# A %-format conversion: key, flags, width, precision, length, type.
_PERCENT = re.compile(
    rb'%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?(.)')


def _check_number(value):
    # int(Decimal('1e999999999')) builds a billion-digit integer.
    if (isinstance(value, decimal.Decimal) and value.is_finite()
            and abs(value.adjusted()) > MAX_WIDTH * 3):
        raise _too_large('The decimal number')


@functools.lru_cache(maxsize=512)
def _percent_widths_ok(fmt):
    # Cached: format strings are mostly the snippet's constants.
    if isinstance(fmt, str):
        fmt = fmt.encode('utf-8', 'replace')
    return not any(
        number == b'*' or (number and int(number) > MAX_WIDTH)
        for width, precision, _ in _PERCENT.findall(fmt)
        for number in (width, precision))


def guarded_mod(a, b):
    if isinstance(a, (str, bytes)):
        if len(a) > 1000:
            ok = _percent_widths_ok.__wrapped__(a)
        else:
            ok = _percent_widths_ok(a)
        if not ok:
            raise _too_large('The format width')
        args = b.values() if isinstance(b, dict) else (
            b if isinstance(b, tuple) else (b,))
        for arg in args:
            _check_number(arg)
            check_render(arg)
        return _check_length(a % b)
    return a % b


_INPLACE = {
    '+=': guarded_add, '-=': operator.isub, '*=': guarded_mult,
    '/=': operator.itruediv, '//=': operator.ifloordiv,
    '%=': guarded_mod, '**=': guarded_pow, '<<=': guarded_lshift,
    '>>=': operator.irshift, '|=': operator.ior, '^=': operator.ixor,
    '&=': operator.iand,
    }


def guarded_inplacevar(op, x, y):
    try:
        function = _INPLACE[op]
    except KeyError:
        raise SnippetError(f'The operator {op} is not allowed.') from None
    return function(x, y)


# Formatting

_DIGITS = re.compile(r'\d+')


def _check_spec(spec):
    if spec and any(
            int(number) > MAX_WIDTH for number in _DIGITS.findall(spec)):
        raise _too_large('The format width')


def guarded_format(value, conversion=-1, spec=''):
    "format() for f-string fields and str.format"
    check_render(value)
    if conversion == ord('r'):
        value = repr(value)
    elif conversion == ord('s'):
        value = str(value)
    elif conversion == ord('a'):
        value = ascii(value)
    _check_spec(spec)
    _check_number(value)
    return format(value, spec)


class SafeFormatter(string.Formatter):
    """str.format without attribute or item lookup in fields.

    ``'{0.__class__}'.format(x)`` is the classic way around an attribute
    guard: fields may only name an argument (``{}``, ``{0}``, ``{name}``).
    """

    def get_field(self, field_name, args, kwargs):
        if '.' in field_name or '[' in field_name:
            raise SnippetError(
                f'Format field "{field_name}" is not allowed: only '
                'positional or named fields.')
        return super().get_field(field_name, args, kwargs)

    def format_field(self, value, format_spec):
        return guarded_format(value, -1, format_spec)


_FORMATTER = SafeFormatter()


def _safe_format(template, *args, **kwargs):
    return _check_length(_FORMATTER.vformat(template, args, kwargs))


def _safe_format_map(template, mapping):
    return _check_length(_FORMATTER.vformat(template, (), mapping))


# str and bytes methods whose output can dwarf their input.

def _width_method(name):
    def method(self, width, *args):
        if width > MAX_LENGTH:
            raise _too_large('The padded text')
        return getattr(self, name)(width, *args)
    return method


def _expandtabs(self, tabsize=8):
    tab = '\t' if isinstance(self, str) else b'\t'
    if len(self) + self.count(tab) * tabsize > MAX_LENGTH:
        raise _too_large('The expanded text')
    return self.expandtabs(tabsize)


def _replace(self, old, new, count=-1):
    times = self.count(old) if old else len(self) + 1
    if count >= 0:
        times = min(times, count)
    if len(self) + times * len(new) > MAX_LENGTH:
        raise _too_large('The replaced text')
    return self.replace(old, new, count)


def _join(self, iterable):
    parts = list(iterable)
    if len(parts) > MAX_LENGTH:
        raise _too_large('The joined text')
    try:
        size = sum(map(len, parts)) + len(self) * len(parts)
    except TypeError:
        size = 0  # join raises the proper error below
    if size > MAX_LENGTH:
        raise _too_large('The joined text')
    return self.join(parts)


def _translate(self, table):
    if isinstance(self, str):
        longest = max(
            (len(v) for v in table.values() if isinstance(v, str)),
            default=1) if isinstance(table, dict) else MAX_LENGTH
        if len(self) * longest > MAX_LENGTH:
            raise _too_large('The translated text')
    return self.translate(table)


def _to_bytes(self, length=1, *args, **kwargs):
    if length > MAX_LENGTH:
        raise _too_large('The byte string')
    return self.to_bytes(length, *args, **kwargs)


_TEXT_METHODS = {
    'ljust': _width_method('ljust'),
    'rjust': _width_method('rjust'),
    'center': _width_method('center'),
    'zfill': _width_method('zfill'),
    'expandtabs': _expandtabs,
    'replace': _replace,
    'join': _join,
    'translate': _translate,
    }


# Attribute, item and write guards

# Types whose own attributes (constructors like datetime.date.today or
# Decimal.from_float) a snippet may use; any other class or module object
# is opaque. Registered by the namespaces module.
OPEN_TYPES = {
    _datetime.date: None, _datetime.datetime: None, _datetime.time: None,
    _datetime.timedelta: None, _datetime.timezone: None,
    decimal.Decimal: None,
    dict: {'fromkeys'}, int: {'from_bytes'}, bytes: {'fromhex'},
    }


_FORMAT_NAMES = frozenset({'format', 'format_map'})


def _deny(obj, name):
    return SnippetError(
        f'Access to attribute "{name}" of {type(obj).__name__} '
        'is not allowed.')


# Exact types of the server's read-only views and proxies (request, pool,
# namespaces…): none is text, a number, a class, a module or an
# exception, so an attribute of theirs needs the name checks only.
# Registered by the modules that define them.
PROXY_TYPES = set()


def guarded_getattr(obj, name):
    if (type(obj) in PROXY_TYPES and type(name) is str and name.isascii()
            and not name.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES)
            and name not in FORBIDDEN_ATTRIBUTES
            and name not in _FORMAT_NAMES):
        return getattr(obj, name)
    if not isinstance(name, str):
        raise SnippetError('Attribute names must be text.')
    if not name.isascii():
        name = unicodedata.normalize('NFKC', name)
    if (name.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES)
            or name in FORBIDDEN_ATTRIBUTES):
        raise _deny(obj, name)
    if isinstance(obj, (str, bytes)):
        if name in _TEXT_METHODS:
            return types.MethodType(_TEXT_METHODS[name], obj)
        if name in {'format', 'format_map'}:
            if not isinstance(obj, str):
                raise _deny(obj, name)
            function = _safe_format if name == 'format' else _safe_format_map
            return types.MethodType(function, obj)
    elif name in _FORMAT_NAMES:
        # Only the neutered str versions exist in snippets.
        raise _deny(obj, name)
    elif isinstance(obj, int) and name == 'to_bytes':
        return types.MethodType(_to_bytes, obj)
    elif isinstance(obj, type):
        if obj not in OPEN_TYPES:
            raise _deny(obj, name)
        allowed = OPEN_TYPES[obj]
        if allowed is not None and name not in allowed:
            raise _deny(obj, name)
    elif isinstance(obj, types.ModuleType):
        raise _deny(obj, name)
    elif isinstance(obj, BaseException) and name == 'obj':
        # AttributeError.obj hands out whatever object failed the lookup.
        raise _deny(obj, name)
    return getattr(obj, name)


def guarded_getitem(obj, key):
    return obj[key]


# Containers a snippet may change in place (its own data and `result`).
WRITABLE = (dict, list, set)


def guarded_write(obj):
    """Return obj if a snippet may assign to its items or attributes.

    Plain containers only, plus objects whose class sets
    ``_sandbox_writable_ = True`` (e.g. record proxies that accept
    ``record.name = …``).
    """
    if type(obj) in WRITABLE or getattr(
            type(obj), '_sandbox_writable_', False) is True:
        return obj
    raise SnippetError(f'Objects of type {type(obj).__name__} are read-only.')


def guarded_apply(function, *args, **kwargs):
    return function(*args, **kwargs)


# Builtins

def safe_range(*args):
    r = range(*args)
    try:
        length = len(r)
    except OverflowError:
        length = MAX_LENGTH + 1
    if length > MAX_LENGTH:
        raise _too_large('The range')
    return r


def safe_sum(iterable, /, start=0):
    """sum() of numbers, a chunk at a time with the budget checked.

    ``sum(lists, [])`` copies the growing list at every item: quadratic,
    in C, where the deadline is never looked at (10,000 lists of 1,000
    items kept a worker for minutes). Nor do big numbers add for free.
    """
    if not isinstance(start, Number):
        raise TypeError("sum() adds numbers; to join lists or tuples, use "
            "a comprehension or list.extend().")
    total = start
    iterator = iter(iterable)
    while chunk := list(islice(iterator, CHUNK)):
        total = sum(chunk, total)
        _check_budget()
    return total


_MISSING = object()


def _chunked_extreme(extreme):
    "max() or min(), a chunk at a time with the budget checked"
    def safe(*args, key=None, default=_MISSING):
        if len(args) != 1:
            if default is not _MISSING:
                raise TypeError(f"Cannot specify a default for "
                    f"{extreme.__name__}() with multiple positional "
                    "arguments")
            return extreme(*args, key=key)
        iterator = iter(args[0])
        best = _MISSING
        while chunk := list(islice(iterator, CHUNK)):
            if best is not _MISSING:
                chunk.insert(0, best)  # first of equals stays first
            best = extreme(chunk, key=key)
            _check_budget()
        if best is _MISSING:
            if default is _MISSING:
                raise ValueError(
                    f'{extreme.__name__}() arg is an empty sequence')
            return default
        return best
    safe.__name__ = extreme.__name__
    return safe


safe_max = _chunked_extreme(max)
safe_min = _chunked_extreme(min)


def safe_str(*args, **kwargs):
    if args:
        check_render(args[0])
    return str(*args, **kwargs)


def safe_repr(obj, /):
    check_render(obj)
    return repr(obj)


def safe_int(*args, **kwargs):
    if args:
        _check_number(args[0])
    return int(*args, **kwargs)


safe_int.from_bytes = int.from_bytes


def safe_round(number, ndigits=None):
    if ndigits is None:
        _check_number(number)
    return round(number, ndigits)


def safe_bytes(*args, **kwargs):
    # bytes(10**10) allocates ten gigabytes of zeros.
    if args and isinstance(args[0], int) and args[0] > MAX_LENGTH:
        raise _too_large('The byte string')
    return bytes(*args, **kwargs)


safe_bytes.fromhex = bytes.fromhex


_EXCEPTIONS = (
    ArithmeticError, AssertionError, AttributeError, Exception, IndexError,
    KeyError, LookupError, NameError, NotImplementedError, OverflowError,
    RuntimeError, StopIteration, TypeError, UnicodeDecodeError,
    UnicodeEncodeError, UnicodeError, ValueError, ZeroDivisionError,
    )

# What isinstance accepts as its second argument: real types, and the
# wrappers above standing in for theirs.
SAFE_TYPES = {
    t: t for t in (
        bool, dict, float, frozenset, list, set, str, tuple, type(None),
        decimal.Decimal, _datetime.date, _datetime.datetime, _datetime.time,
        _datetime.timedelta, bytes, int, range) + _EXCEPTIONS}
SAFE_TYPES.update({safe_int: int, safe_bytes: bytes, safe_range: range,
        safe_str: str})


def safe_isinstance(obj, classinfo):
    if not isinstance(classinfo, tuple):
        classinfo = (classinfo,)
    try:
        classes = tuple(SAFE_TYPES[c] for c in classinfo)
    except (KeyError, TypeError):
        raise SnippetError(
            'isinstance() only accepts the plain data types.') from None
    return isinstance(obj, classes)


# C code run on behalf of a snippet imports through the builtins of the
# running frame: datetime.strftime imports `time`, strptime `_strptime`,
# str.encode the codec it names. Snippets cannot call this themselves (the
# name starts with "_") and never see what it returns.
INTERNAL_IMPORTS = frozenset({'time', '_strptime', 'encodings'})


def internal_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.partition('.')[0] in INTERNAL_IMPORTS:
        return __import__(name, globals, locals, fromlist, level)
    raise ImportError(f'Import of {name} is not allowed.')


SAFE_BUILTINS = {
    '__import__': internal_import,
    'None': None, 'True': True, 'False': False,
    'abs': abs, 'all': all, 'any': any, 'bin': bin, 'bool': bool,
    'bytes': safe_bytes, 'chr': chr, 'dict': dict, 'divmod': divmod,
    'enumerate': enumerate, 'filter': filter, 'float': float,
    'frozenset': frozenset, 'hex': hex, 'int': safe_int,
    'isinstance': safe_isinstance, 'len': len, 'list': list, 'map': map,
    'max': safe_max, 'min': safe_min, 'next': next, 'oct': oct,
    'ord': ord,
    'range': safe_range, 'repr': safe_repr, 'reversed': reversed,
    'round': safe_round, 'set': set, 'slice': slice, 'sorted': sorted,
    'str': safe_str, 'sum': safe_sum, 'tuple': tuple, 'zip': zip,
    # The guards RestrictedPython's transformer and our policy call.
    '_getattr_': guarded_getattr,
    '_getitem_': guarded_getitem,
    '_write_': guarded_write,
    '_getiter_': iter,
    '_iter_unpack_sequence_': guarded_iter_unpack_sequence,
    '_unpack_sequence_': guarded_unpack_sequence,
    '_inplacevar_': guarded_inplacevar,
    '_apply_': guarded_apply,
    '_mult_': guarded_mult,
    '_pow_': guarded_pow,
    '_lshift_': guarded_lshift,
    '_add_': guarded_add,
    '_mod_': guarded_mod,
    '_format_': guarded_format,
    }
SAFE_BUILTINS.update((e.__name__, e) for e in _EXCEPTIONS)
