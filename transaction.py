# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The transaction of an endpoint request, written once.

As Tryton's ``with_transaction`` does for its own routes: start, run,
commit or roll back, run the queued tasks; run again on Tryton's own
restarts and on the database's passing failures; answer 503 when the
database stays unavailable.  Only failures that are really the
database's are retried: an error of the request's own SQL (SQLite's "too
many SQL variables", a syntax error) is raised as it is and answered 500.
"""
import logging
import time
from contextlib import contextmanager, nullcontext
from functools import wraps

from trytond import backend, config
from trytond.transaction import Transaction, TransactionError
from trytond.worker import run_task

from trytond_endpoint.problem import Problem
from trytond_endpoint.sandbox import BudgetExceeded

from .pgtune import connpool
from .pgtune.deadline import Deadline

__all__ = ['transactional', 'database_failure', 'limit_statements',
    'unavailable', 'UNAVAILABLE']

logger = logging.getLogger(__name__)

RETRY = config.getint('database', 'retry')
CONNECTION_WAIT = config.getfloat('endpoint', 'connection_wait', default=2)
DEFAULT_TIMEOUT = config.getfloat('endpoint', 'timeout', default=5)
try:
    from psycopg import InterfaceError as _InterfaceError
except ImportError:
    _InterfaceError = ()
_TIMEOUT = getattr(backend, 'DatabaseTimeoutError', ())
# What the database driver raises when the database fails the request; a
# lost connection shows as either, depending on when it is noticed.
UNAVAILABLE = (backend.DatabaseOperationalError,) + (
    (_InterfaceError,) if _InterfaceError else ())

# SQLSTATE classes and codes of failures that may pass: connection
# exceptions, serialization failures and deadlocks, a lock not available,
# too many connections, a server shutting down or starting.
_PASSING_CLASSES = ('08', '40')
_PASSING_CODES = frozenset({'55P03', '53300', '57P01', '57P02', '57P03'})
_SQLITE_PASSING = ('SQLITE_BUSY', 'SQLITE_LOCKED')
_SQLITE_PASSING_TEXT = ('database is locked', 'database table is locked')


def transactional(func):
    """Run ``func(call)`` in a transaction of the call's database.

    ``call`` gives ``pool``, ``request``, ``readonly`` and ``context``.
    The transaction is committed when func answers below 400, rolled back
    when it answers an error or raises.  It runs again on Tryton's
    restarts (a lock to take first), on a lost connection (nothing was
    committed) and, for a writing request, on a conflict with another
    transaction, up to ``[database] retry`` times.  What func raises
    otherwise is raised after the rollback; the database's own failures
    are raised as the problem to answer: 503 when it is unavailable, a
    ``BudgetExceeded`` (504) for a statement cancelled by its budget.
    """
    @wraps(func)
    def wrapper(call):
        extras = {}
        retries = 0
        lost = False
        while True:
            try:
                transaction = _start(call, extras, checked=lost)
            except UNAVAILABLE as error:
                raise _unavailable(call, error) from error
            # Kept: the transaction forgets its connection when it ends.
            connection = transaction.connection
            try:
                with transaction:
                    response = func(call)
                    _end(transaction, response)
            except TransactionError as error:
                error.fix(extras)
                continue
            except UNAVAILABLE as error:
                failure = database_failure(error, connection)
                if failure is None:
                    raise
                if failure == 'timeout':
                    raise BudgetExceeded("A database statement ran over "
                        "the time budget.") from error
                if retries < RETRY and (
                        failure == 'lost' or not call.readonly):
                    retries += 1
                    lost = failure == 'lost'
                    time.sleep(0.02 * retries)
                    continue
                raise _unavailable(call, error) from error
            while transaction.tasks:
                run_task(call.pool, transaction.tasks.pop())
            return response
    return wrapper


# Names of the databases whose connection pool was tuned in this process;
# a pool made anew (the database dropped and created again) is tuned after
# its first transaction.
_TUNED = set()


def _start(call, extras, checked=False):
    """Start the request's transaction; its connection is taken unchecked
    unless checked (after a lost one: the pool may hold more dead ones, and
    its check replaces them instead of spending a retry on each)."""
    database_name = call.pool.database_name
    if database_name not in _TUNED:
        connpool.tune(backend.Database(database_name), CONNECTION_WAIT)
        _TUNED.add(database_name)
    # No session-wide statement_timeout: on PostgreSQL the registry read
    # sets a transaction-local one in its round trip.
    with (nullcontext() if checked else connpool.unchecked()):
        transaction = Transaction().start(database_name, 0,
            readonly=call.readonly, context=call.context, **extras)
    connpool.tune(transaction.database, CONNECTION_WAIT)
    return transaction


def _end(transaction, response):
    if response.status_code >= 400:
        transaction.rollback()
        transaction.tasks.clear()
    else:
        transaction.commit()


def database_failure(error, connection=None):
    """What kind of failure of the database error is, if it is one.

    ``'timeout'``: a statement cancelled by its time budget; ``'lost'``:
    the connection is gone, nothing was committed; ``'busy'``: the
    database may answer if asked again (a conflict, a lock, a server
    restarting); None: the request's own error, which asking again
    repeats.
    """
    if isinstance(error, _TIMEOUT):
        return 'timeout'
    if isinstance(error, _InterfaceError) or _connection_lost(connection):
        return 'lost'
    sqlstate = getattr(error, 'sqlstate', None)
    if sqlstate:
        if (sqlstate.startswith(_PASSING_CLASSES)
                or sqlstate in _PASSING_CODES):
            return 'busy'
        return None
    name = getattr(error, 'sqlite_errorname', None)
    if name is not None:
        if name == 'SQLITE_INTERRUPT':
            # Stopped by the run's progress handler
            return 'timeout'
        return 'busy' if name.startswith(_SQLITE_PASSING) else None
    message = str(error).strip()
    if message == 'interrupted':
        return 'timeout'
    if message.startswith(_SQLITE_PASSING_TEXT):
        return 'busy'
    return None


def _connection_lost(connection):
    return bool(getattr(connection, 'broken', False)
        or getattr(connection, 'closed', False))


def unavailable():
    return Problem(503, "The database is busy or unavailable; "
        "try again shortly.", headers={'Retry-After': '1'})


def _unavailable(call, error):
    logger.warning("Database unavailable for %s", call.request,
        exc_info=error)
    return unavailable()


def limit_statements(transaction, budget):
    "The snippet's budget bounds its SQL too: a context for the run"
    connection = transaction.connection
    if backend.name == 'postgresql':
        # The default budget was set when the registry version was read.
        if budget != DEFAULT_TIMEOUT:
            cursor = connection.cursor()
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                (str(max(int(budget * 1000), 1)),))
        # Each statement is bounded by statement_timeout, their number by
        # the deadline.
        return Deadline(connection, budget, _TIMEOUT)
    if hasattr(connection, 'set_progress_handler'):
        return _sqlite_deadline(connection, budget)
    return _NO_LIMIT


_NO_LIMIT = nullcontext()


@contextmanager
def _sqlite_deadline(connection, budget):
    "Interrupt a statement that runs past the deadline"
    deadline = time.monotonic() + budget
    connection.set_progress_handler(
        lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield
    finally:
        connection.set_progress_handler(None, 0)
