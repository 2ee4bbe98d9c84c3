# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Rate limits per endpoint, held by the database for every server.

Each caller of a limited endpoint has one row per endpoint: the requests
counted in the current window of ``rate_period`` seconds and when that
window ends, counted by one ``INSERT … ON CONFLICT DO UPDATE`` on the
database's clock, so every worker of every server agrees.  The count is
not part of the request's transaction: a GET's transaction is read only,
and a refused or failed request counts as well.  It takes a connection
of Tryton's pool and sends its own transaction in one round trip,
bounded by a short statement timeout: a counter that fails
(a locked table, a lost connection) lets the request through without the
headers, never a 429.

On SQLite (one process) the windows are kept in the process.
"""
import hashlib
import logging
import re
import threading
import time

from trytond import backend
from trytond.model import ModelSQL, Unique, fields
from trytond.transaction import Transaction

from trytond_endpoint.http.headers import Quota, quota_headers
from trytond_endpoint.problem import Problem

from .pgtune.begin import prepared_names
from .pgtune.connpool import unchecked

try:
    from psycopg import errors, pq
except ImportError:  # SQLite-only installs
    pq = None

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
        return 'a:' + _ADDRESS.sub('', call.request.remote_addr or '')[:64]
    return f'u:{call.caller or user_id}'


# What an address may hold (IPv4, IPv6, a unix socket's name).
_ADDRESS = re.compile(r'[^0-9A-Za-z:._-]')


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
    """A connection of Tryton's pool for one round trip: the settings and
    the count in one simple-protocol message, which the server runs as
    one transaction of its own (as ``pgtune.begin`` does for a read).

    The count is a prepared statement of the session, made on its first
    count there: the server plans it once per connection.
    """

    def count(self, database, endpoint_id, caller, period):
        pool = database._connpool
        with unchecked():
            # Checked by the count itself: a dead connection fails it,
            # the request goes unlimited and the pool drops it.
            connection = pool.getconn()
        try:
            pgconn = connection.pgconn
            if pgconn.transaction_status != pq.TransactionStatus.IDLE:
                raise RuntimeError("A pooled connection in a transaction.")
            count = _EXECUTE % (int(endpoint_id), _caller_literal(caller),
                int(period))
            known = prepared_names(connection)
            for retry in (False, True):
                prepared = known is not None and _NAME in known
                try:
                    # The timeout first: a PREPARE waits for the
                    # table's lock too.
                    hits, reset = self._run(connection, pgconn, _TIMEOUT
                        + (count if prepared else _PREPARE + count))
                except errors.DatabaseError as error:
                    # The session lost the statement, or kept it from a
                    # count that failed after preparing it.
                    if retry or known is None or error.sqlstate not in {
                            _NO_STATEMENT, _DUPLICATE}:
                        raise
                    if error.sqlstate == _NO_STATEMENT:
                        known.discard(_NAME)
                    else:
                        known.add(_NAME)
                    continue
                if known is not None:
                    known.add(_NAME)
                break
        finally:
            pool.putconn(connection)
        return int(hits), float(reset)

    @staticmethod
    def _run(connection, pgconn, text):
        with connection.lock:
            result = pgconn.exec_(text)
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise errors.error_from_result(
                result, encoding=connection.info.encoding)
        return result.get_value(0, 0), result.get_value(0, 1)


_NO_STATEMENT = '26000'  # invalid_sql_statement_name
_DUPLICATE = '42P05'  # duplicate_prepared_statement
# Only these characters reach the statement's text.
_CALLER = re.compile(r'[0-9A-Za-z:._-]{1,80}')


def _caller_literal(caller):
    if not _CALLER.fullmatch(caller):
        raise ValueError(f"Unexpected caller {caller!r}")
    return caller.encode()


_NAME = 'endpoint_rate_limit_count'
# The window ends on a multiple of the period, on the database's clock.
_PREPARE = f"""PREPARE {_NAME} (integer, varchar, integer) AS
INSERT INTO "endpoint_rate_limit" AS c
    ("endpoint", "caller", "hits", "reset", "create_uid", "create_date")
VALUES ($1, $2, 1,
    (floor(extract(epoch FROM clock_timestamp()) / $3) + 1) * $3,
    0, CURRENT_TIMESTAMP)
ON CONFLICT ("endpoint", "caller") DO UPDATE SET
    "hits" = CASE WHEN c."reset" = EXCLUDED."reset"
        THEN c."hits" + 1 ELSE 1 END,
    "reset" = EXCLUDED."reset"
RETURNING "hits", "reset" - extract(epoch FROM clock_timestamp());
""".encode()
# Without parameters: several statements in one message.  No wait for
# the disk at commit: a crash of the database server may forget the last
# counts, a request never waits on a flush for them.
_TIMEOUT = f"SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}; ".encode()
_EXECUTE = (
    "SET LOCAL synchronous_commit = off; "
    f"EXECUTE {_NAME}(%d, '%s', %d)").encode()


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
