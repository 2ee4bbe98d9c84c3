# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Rate limits per endpoint, held by the database for every server.

Each caller of a limited endpoint has one row per endpoint: the requests
counted in the current window of ``rate_period`` seconds and when that
window ends, counted by one ``INSERT … ON CONFLICT DO UPDATE`` on the
database's clock, so every worker of every server agrees.  The count is
not part of the request's transaction: a GET's transaction is read only,
and a refused or failed request counts as well.  It goes on a connection
of its own per thread, in autocommit, one round trip, bounded by a short
statement timeout: a counter that fails (a locked table, a lost
connection) lets the request through without the headers, never a 429.

On SQLite (one process) the windows are kept in the process.
"""
import hashlib
import logging
import threading
import time

from trytond import backend
from trytond.model import ModelSQL, Unique, fields
from trytond.transaction import Transaction

from trytond_endpoint.http.headers import Quota, quota_headers
from trytond_endpoint.problem import Problem

__all__ = ['RateLimit', 'check']

logger = logging.getLogger(__name__)
# Milliseconds the count may take before the request goes unlimited.
COUNT_TIMEOUT_MS = 500


class RateLimit(ModelSQL):
    "Endpoint Rate Limit Window"
    __name__ = 'endpoint.rate_limit'

    endpoint = fields.Many2One(
        'endpoint.endpoint', "Endpoint", required=True, ondelete='CASCADE')
    caller = fields.Char("Caller", required=True,
        help="The key's digest, the user or the client address.")
    hits = fields.Integer("Hits", required=True)
    reset = fields.Float("Reset", required=True,
        help="When the window ends, in seconds since the epoch.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('endpoint_caller_unique', Unique(t, t.endpoint, t.caller),
                'endpoint.msg_rate_limit_unique'),
            ]

    @classmethod
    def clean(cls):
        "Delete the windows that ended"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.reset < time.time()))


def check(call, user_id):
    """Count the request of call against its endpoint's limit; raise the
    429 over it.  The quota is kept on call for the answer's headers."""
    definition = call.definition
    if not definition.rate_limit or not definition.rate_period:
        return
    if call.rate is None:
        # Counted once, also when the transaction is run again.
        call.rate = _count(call.pool.database_name, definition,
            _caller(call, definition, user_id)) or False
    quota = call.rate
    if quota and quota.exceeded:
        raise Problem(429, "Too many requests; retry later.",
            headers={'Retry-After': str(quota.retry_after),
                **quota_headers(quota)})


def headers(call):
    "The rate limit headers of call's answer, or None"
    return quota_headers(call.rate) if call.rate else None


def _caller(call, definition, user_id):
    if definition.auth == 'application':
        _, _, key = call.request.headers.get(
            'Authorization', '').partition(' ')
        # A digest: the counters never hold a key.
        return 'k:' + hashlib.sha256(
            key.strip().encode()).hexdigest()[:32]
    if definition.auth == 'public':
        # Behind Tryton's [web] num_proxies, the forwarded address.
        return 'a:' + (call.request.remote_addr or '')
    return f'u:{call.caller or user_id}'


def _count(database_name, definition, caller):
    "The caller's quota after this request, None when it can not be known"
    limit, period = definition.rate_limit, definition.rate_period
    if backend.name != 'postgresql':
        return _MEMORY.count(database_name, definition.id, caller, limit,
            period)
    try:
        hits, reset = _POSTGRESQL.count(
            Transaction().database, definition.id, caller, period)
    except Exception:
        _warn()
        return None
    return Quota(limit, period, hits, reset)


_warned = [0.0]


def _warn():
    # A failing counter must not fill the log at the request rate.
    now = time.monotonic()
    if now - _warned[0] > 60:
        _warned[0] = now
        logger.warning("Rate limit not counted: the request goes unlimited",
            exc_info=True)


class _PostgreSQLCounter:
    "One autocommit connection a thread, for the counters only"

    def __init__(self):
        self._local = threading.local()

    def count(self, database, endpoint_id, caller, period):
        connection = self._connection(database)
        try:
            row = connection.execute(_UPSERT,
                (endpoint_id, caller, period, period)).fetchone()
        except Exception:
            self._drop(database)
            raise
        return row[0], float(row[1])

    def _connection(self, database):
        connections = self._local.__dict__.setdefault('connections', {})
        connection = connections.get(database.name)
        if connection is None or connection.closed:
            pool = database._connpool
            kwargs = {k: v for k, v in pool.kwargs.items()
                if k != 'cursor_factory'}
            connection = pool.connection_class.connect(pool.conninfo,
                autocommit=True, connect_timeout=2,
                options=f'-c statement_timeout={COUNT_TIMEOUT_MS}',
                prepare_threshold=0, **kwargs)
            connections[database.name] = connection
        return connection

    def _drop(self, database):
        connection = self._local.__dict__.get('connections', {}).pop(
            database.name, None)
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass


# The window ends on a multiple of the period, on the database's clock.
_UPSERT = '''
INSERT INTO "endpoint_rate_limit" AS c
    ("endpoint", "caller", "hits", "reset", "create_uid", "create_date")
VALUES (%s, %s, 1,
    (floor(extract(epoch FROM clock_timestamp()) / %s) + 1) * %s,
    0, CURRENT_TIMESTAMP)
ON CONFLICT ("endpoint", "caller") DO UPDATE SET
    "hits" = CASE WHEN c."reset" = EXCLUDED."reset"
        THEN c."hits" + 1 ELSE 1 END,
    "reset" = EXCLUDED."reset"
RETURNING "hits", "reset" - extract(epoch FROM clock_timestamp())
'''


class _MemoryCounter:
    "The windows of a process that is alone on its database"
    MAX = 100_000

    def __init__(self):
        self._windows = {}
        self._lock = threading.Lock()

    def count(self, database_name, endpoint_id, caller, limit, period):
        now = time.time()
        reset = (now // period + 1) * period
        key = (database_name, endpoint_id, caller)
        with self._lock:
            hits, until = self._windows.pop(key, (0, reset))
            hits = hits + 1 if until == reset else 1
            while len(self._windows) >= self.MAX:
                del self._windows[next(iter(self._windows))]
            self._windows[key] = (hits, reset)
        return Quota(limit, period, hits, reset - now)


_POSTGRESQL = _PostgreSQLCounter()
_MEMORY = _MemoryCounter()
