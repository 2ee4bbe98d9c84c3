# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Statistics per endpoint and minute, and the worker's background writer.

A request only adds to the worker's buffer in memory
(``trytond_endpoint.statistics``); a thread of the worker writes the buffer
every ``[endpoint] statistics_interval`` seconds (5) in a transaction of
its own, adding to the row of the endpoint's minute, which every worker and
server shares. The same thread writes the endpoint log lines of answers
that a failing database could not take (503), after the fact.

What a crash can lose: the requests since the last write of that worker,
at most ``statistics_interval`` seconds of them (a worker stopped
gracefully writes before it exits). While the database cannot be written
the counts are kept, up to ``Buffer.max_keys`` endpoint-minutes per
worker; the requests past that are not counted.
"""
import atexit
import collections
import datetime as dt
import logging
import os
import threading

from sql import Literal
from sql.conditionals import Case
from sql.functions import CurrentTimestamp
from trytond import backend, config
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from trytond_endpoint.statistics import COLUMNS, Buffer

from .transaction import UNAVAILABLE

__all__ = ['Statistic', 'Cron', 'record', 'defer_logs', 'flush']

logger = logging.getLogger(__name__)

ENABLED = config.getboolean('endpoint', 'statistics', default=True)
INTERVAL = config.getfloat('endpoint', 'statistics_interval', default=5)
BUFFER = Buffer()
# Endpoint log lines to write after the fact: (database, time, lines)
_DEFERRED = collections.deque(maxlen=1000)
_MILLISECONDS = frozenset({'duration_total', 'duration_max'})


class Statistic(ModelSQL, ModelView):
    "Endpoint statistics of a minute"
    __name__ = 'endpoint.statistic'

    endpoint = fields.Many2One('endpoint.endpoint', "Endpoint",
        required=True, ondelete='CASCADE', readonly=True)
    minute = fields.Timestamp("Minute", required=True, readonly=True)
    requests = fields.Integer("Requests", readonly=True)
    client_errors = fields.Integer("Client Errors", readonly=True,
        help="The answers with a 4xx status.")
    server_errors = fields.Integer("Server Errors", readonly=True,
        help="The answers with a 5xx status.")
    duration_total = fields.Float("Total Duration", digits=(12, 3),
        readonly=True, help="In milliseconds.")
    duration_max = fields.Float("Maximum Duration", digits=(12, 3),
        readonly=True, help="In milliseconds.")
    duration_average = fields.Function(fields.Float("Average Duration",
            digits=(12, 3), help="In milliseconds."),
        'get_duration_average')
    latency_5ms = fields.Integer("Up to 5 ms", readonly=True)
    latency_10ms = fields.Integer("5 to 10 ms", readonly=True)
    latency_25ms = fields.Integer("10 to 25 ms", readonly=True)
    latency_50ms = fields.Integer("25 to 50 ms", readonly=True)
    latency_100ms = fields.Integer("50 to 100 ms", readonly=True)
    latency_250ms = fields.Integer("100 to 250 ms", readonly=True)
    latency_500ms = fields.Integer("250 to 500 ms", readonly=True)
    latency_1s = fields.Integer("0.5 to 1 s", readonly=True)
    latency_2500ms = fields.Integer("1 to 2.5 s", readonly=True)
    latency_5s = fields.Integer("2.5 to 5 s", readonly=True)
    latency_10s = fields.Integer("5 to 10 s", readonly=True)
    latency_slower = fields.Integer("Over 10 s", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.endpoint, Index.Range()), (t.minute, Index.Range())))
        cls._order = [('minute', 'DESC'), ('id', 'DESC')]

    def get_duration_average(self, name):
        if self.requests:
            return (self.duration_total or 0) / self.requests

    @classmethod
    def add(cls, rows):
        """Add rows, {(endpoint id, minute number): buffer row}, to the
        stored minutes, in the current transaction; the rows of endpoints
        deleted since are dropped"""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        if backend.name == 'postgresql':
            # Workers of every server add to the same minutes: one at a
            # time (the mode conflicts with itself, not with readers).
            cursor.execute(
                f'LOCK "{cls._table}" IN SHARE ROW EXCLUSIVE MODE')
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        endpoint = Endpoint.__table__()
        table = cls.__table__()
        cursor.execute(*endpoint.select(endpoint.id,
                where=fields.SQL_OPERATORS['in'](
                    endpoint.id, list({e for e, _ in rows}))))
        alive = {i for i, in cursor}
        columns = [getattr(table, c) for c in COLUMNS]
        inserts = []
        for (endpoint_id, minute), row in sorted(rows.items()):
            if endpoint_id not in alive:
                continue
            values = _stored(row)
            minute = _minute(minute)
            cursor.execute(*table.update(columns, [
                        _added(column, name, value)
                        for column, name, value in zip(
                            columns, COLUMNS, values)],
                    where=(table.endpoint == endpoint_id)
                    & (table.minute == minute)))
            if not cursor.rowcount:
                inserts.append([endpoint_id, minute, *values])
        if inserts:
            cursor.execute(*table.insert(
                    [table.create_uid, table.create_date, table.endpoint,
                        table.minute, *columns],
                    [[Literal(0), CurrentTimestamp(), *v] for v in inserts]))

    @classmethod
    def clean(cls, days=None):
        """Delete the minutes older than the retention
        ([endpoint] statistic_retention, in days)"""
        if days is None:
            days = config.getint('endpoint', 'statistic_retention',
                default=90)
        limit = dt.datetime.now() - dt.timedelta(days=days)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.minute < limit))


def _stored(row):
    return [round(v * 1000, 3) if n in _MILLISECONDS else v
        for n, v in zip(COLUMNS, row)]


def _added(column, name, value):
    if name == 'duration_max':
        return Case((column < value, value), else_=column)
    return column + value


def _minute(number):
    return dt.datetime.fromtimestamp(number * 60, dt.timezone.utc).replace(
        tzinfo=None)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('endpoint.statistic|clean', "Remove Old Endpoint Statistics"))


def record(database, endpoint, status, seconds):
    "Count a request of endpoint that answered status in seconds"
    BUFFER.record(database, endpoint, status, seconds)
    if _writer.thread is None:
        _writer.start()


def defer_logs(database, lines):
    "Write endpoint log lines later, from the writer, best effort"
    _DEFERRED.append((database, dt.datetime.now(), list(lines)))
    if _writer.thread is None:
        _writer.start()


def flush():
    "Write what this worker gathered; what the database refuses is kept"
    rows = BUFFER.take()
    databases = collections.defaultdict(dict)
    for (database, endpoint, minute), row in rows.items():
        databases[database][endpoint, minute] = row
    for database, part in databases.items():
        try:
            _write(database, part)
        except UNAVAILABLE:
            logger.warning("Statistics of %s kept: database unavailable",
                database, exc_info=True)
            BUFFER.give_back({(database, e, m): r
                    for (e, m), r in part.items()})
        except Exception:
            logger.exception("Statistics of %s dropped", database)
    for _ in range(len(_DEFERRED)):
        database, time, lines = item = _DEFERRED.popleft()
        try:
            _write_logs(database, time, lines)
        except UNAVAILABLE:
            # Kept for the next flush, within the deque's bound.
            _DEFERRED.appendleft(item)
            break
        except Exception:
            logger.warning("Endpoint log lines of %s dropped", database,
                exc_info=True)


def _write(database, rows):
    with Transaction().start(database, 0) as transaction:
        Pool().get('endpoint.statistic').add(rows)
        transaction.commit()


def _write_logs(database, time, lines):
    with Transaction().start(database, 0) as transaction:
        Log = Pool().get('endpoint.log')
        Log.create([{
                    'endpoint': e, 'level': lv, 'request_id': r,
                    'message': m, 'time': time}
                for e, lv, r, m in lines])
        transaction.commit()


class _Writer:
    "The worker's thread that flushes; started by the first request"

    def __init__(self):
        self.thread = None
        self._lock = threading.Lock()

    def start(self):
        # Under Tryton's test runner the tests flush when they choose: no
        # thread writes into a test database while it is dropped.
        if Pool.test or not ENABLED or INTERVAL <= 0:
            self.thread = False
            return
        with self._lock:
            if self.thread is not None:
                return
            self._stop = threading.Event()
            self.thread = threading.Thread(target=self._run,
                name='endpoint-statistics', daemon=True)
            self.thread.start()

    def _run(self):
        while not self._stop.wait(INTERVAL):
            try:
                flush()
            except Exception:
                logger.exception("Statistics writer failed")

    def _after_fork(self):
        # The parent's thread is not in the child; its counts are the
        # parent's to write.
        self.thread = None
        self._lock = threading.Lock()
        BUFFER.__init__(BUFFER.max_keys)
        _DEFERRED.clear()


_writer = _Writer()
os.register_at_fork(after_in_child=_writer._after_fork)


@atexit.register
def _at_exit():
    if _writer.thread:
        try:
            flush()
        except Exception:
            logger.exception("Statistics not written at exit")
