"""``X-Request-Id``: the id of each answer of the mount, and of its log lines.

The middleware gives every request of the mount's paths an id before
anything else runs (the guard's refusals included): the caller's
``X-Request-Id`` when it is short and printable, else one drawn here. The
id is in the environ for the pipeline, on the answer's headers, and, while
the request runs, in front of every log line of the process's thread that
serves it (Tryton's own lines too), so one grep finds a request's story.

Drawn ids are a random prefix drawn once per process (again after a fork)
and a counter: unique across workers and servers without a system call per
request.
"""
import contextvars
import itertools
import logging
import os
import re
import secrets

__all__ = ['HEADER', 'ENVIRON_KEY', 'RequestIds', 'accept', 'draw',
    'current']

HEADER = 'X-Request-Id'
ENVIRON_KEY = 'endpoint.request_id'
MAX_LENGTH = 128
# Visible ASCII: nothing that breaks a header, a log line or a terminal.
_PRINTABLE = re.compile(r'[\x21-\x7e]+')
_current = contextvars.ContextVar('endpoint_request_id', default=None)


def _seed():
    global _prefix, _counter
    _prefix = secrets.token_hex(4)
    _counter = itertools.count(1)


_seed()
os.register_at_fork(after_in_child=_seed)


def draw():
    "A new id, unique in this process and very likely everywhere"
    return f'{_prefix}-{next(_counter):06x}'


def accept(value):
    "The caller's id when it is short and printable, else a drawn one"
    if (value and len(value) <= MAX_LENGTH
            and _PRINTABLE.fullmatch(value)):
        return value
    return draw()


def current():
    "The id of the request this thread serves, or None"
    return _current.get()


class RequestIds:
    "WSGI middleware: an id for each request whose path ``mount`` matches"

    def __init__(self, app, mount):
        self.app = app
        self.mount = mount

    def __call__(self, environ, start_response):
        if not self.mount.match(environ.get('PATH_INFO', '')):
            return self.app(environ, start_response)
        request_id = accept(environ.get('HTTP_X_REQUEST_ID'))
        environ[ENVIRON_KEY] = request_id

        def start(status, headers, exc_info=None):
            # The mount's id wins over one a snippet may have set.
            headers = [h for h in headers if h[0].lower() != 'x-request-id']
            headers.append((HEADER, request_id))
            return start_response(status, headers, exc_info)
        token = _current.set(request_id)
        try:
            return self.app(environ, start)
        finally:
            _current.reset(token)


def _quoting_factory(previous):
    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        request_id = _current.get()
        if request_id is not None and not hasattr(record, 'request_id'):
            record.request_id = request_id
            # A caller's id may hold '%': it must not take part in the
            # formatting of the record's arguments.
            quoted = request_id.replace('%', '%%') if record.args else (
                request_id)
            record.msg = f'[request {quoted}] {record.msg}'
        return record
    factory.quotes_request_id = True
    return factory


def quote_in_logs():
    "Prefix every log record made during a request with its id, once"
    previous = logging.getLogRecordFactory()
    if not getattr(previous, 'quotes_request_id', False):
        logging.setLogRecordFactory(_quoting_factory(previous))
