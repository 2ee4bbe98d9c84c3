"""Open a PostgreSQL transaction and read one row in a single round trip.

psycopg sends ``BEGIN`` on its own before the first statement of a
transaction and waits for its answer: with the registry version read on
every request, that is one network round trip more than a plain Tryton
route pays.  Sent together in one simple-protocol message, ``BEGIN``, the
transaction's settings and the read cost one.  psycopg follows the
server's transaction status, so it sends no second ``BEGIN`` and commits
or rolls back as usual.

A query sent as text is parsed and planned again each time, which costs
the server more than running it.  So the read is a prepared statement of
the session, made on a connection's first read, where psycopg itself
prepares statements (``prepare_threshold`` not None; a pooler that does
not keep sessions needs it None).

psycopg drops every prepared statement of the session (``DEALLOCATE
ALL``) when it forgets its own, on a rollback after it prepared any: what
this module knows of a session is kept with psycopg's own record of it
and forgotten with it, so the next read prepares again instead of meeting
an error (which the server would log as an ERROR).
"""
import re
from contextlib import nullcontext
from functools import lru_cache

try:
    from psycopg import IsolationLevel, errors, pq
except ImportError:  # SQLite-only installs
    pq = None

__all__ = ['begin_and_fetch', 'is_plain', 'prepared_names', 'Prepared']

_NO_STATEMENT = '26000'  # invalid_sql_statement_name
_DUPLICATE = '42P05'  # duplicate_prepared_statement


class Prepared:
    "A query run as the session's prepared statement ``name``"
    __slots__ = ('name', 'query')

    def __init__(self, name, query):
        if not name.isidentifier() or not name.islower():
            raise ValueError(f"Not a plain statement name: {name!r}")
        self.name = name
        self.query = query


def begin_and_fetch(connection, *statements, arguments=()):
    """First row (as text values) of the last of ``statements``, run as
    the start of ``connection``'s transaction; None when that is not
    possible (not psycopg, autocommit, or a transaction already open)
    and the caller should run its query the ordinary way.

    ``statements`` are complete SQL with no parameters: only the caller's
    own constants go in them.  The last may be a ``Prepared``, executed
    with ``arguments``: texts of letters, digits, ``_`` and ``-`` only
    (anything else raises ValueError), written as literals; with any,
    None where the statement can not be prepared.
    """
    pgconn = getattr(connection, 'pgconn', None)
    if (pq is None or pgconn is None or connection.autocommit
            or pgconn.transaction_status != pq.TransactionStatus.IDLE):
        return None
    *settings, last = statements
    if not isinstance(last, Prepared):
        return _fetch(connection, pgconn, statements)
    known = (prepared_names(connection)
        if connection.prepare_threshold is not None else None)
    if known is None:
        if arguments:
            return None
        return _fetch(connection, pgconn, (*settings, last.query))
    execute = f'EXECUTE {last.name}' + _literals(arguments)
    for retry in (False, True):
        if last.name in known:
            run = (execute,)
        else:
            run = (f'PREPARE {last.name} AS {last.query}', execute)
        try:
            row = _fetch(connection, pgconn, (*settings, *run))
        except errors.DatabaseError as error:
            # The session lost the statement (a DISCARD ALL psycopg did
            # not see) or has it from before this process knew the
            # connection: nothing was
            # done yet, so start again knowing better.
            if retry or error.sqlstate not in {_NO_STATEMENT, _DUPLICATE}:
                raise
            pgconn.exec_(b'ROLLBACK')
            if error.sqlstate == _NO_STATEMENT:
                known.discard(last.name)
            else:
                known.add(last.name)
            continue
        known.add(last.name)
        return row


def _literals(arguments):
    if not arguments:
        return ''
    if not all(map(is_plain, arguments)):
        raise ValueError("An argument that is not plain text.")
    return '(' + ', '.join(f"'{a}'" for a in arguments) + ')'


def is_plain(argument):
    "Whether argument is text a literal holds as it is (see begin_and_fetch)"
    return type(argument) is str and _PLAIN.fullmatch(argument) is not None


# Nothing a literal would need to escape.
_PLAIN = re.compile(r'[0-9A-Za-z_-]{0,256}')


def prepared_names(connection):
    """Names of this module's statements that the session of connection
    holds (a set to update), or None where psycopg keeps no record"""
    manager = getattr(connection, '_prepared', None)
    known = getattr(manager, 'endpoint_statements', None)
    if known is None and hasattr(manager, '__dict__'):
        manager.__class__ = _forgetting(type(manager))
        known = manager.endpoint_statements = set()
    return known


@lru_cache(maxsize=4)
def _forgetting(base):
    "psycopg's PrepareManager that also forgets this module's statements"
    class Forgetting(base):
        def clear(self):
            # True: psycopg is to send DEALLOCATE ALL.
            cleared = super().clear()
            if cleared:
                self.endpoint_statements.clear()
            return cleared
    return Forgetting


def _fetch(connection, pgconn, statements):
    command = _command(connection.isolation_level, connection.read_only,
        connection.deferrable, statements)
    with getattr(connection, 'lock', None) or nullcontext():
        result = pgconn.exec_(command)
    if result.status != pq.ExecStatus.TUPLES_OK:
        if pgconn.status != pq.ConnStatus.OK:
            # A lost connection reports no SQLSTATE: say it as psycopg
            # does, so that callers see an OperationalError.
            raise errors.OperationalError(
                "the connection was lost: " + pgconn.get_error_message())
        raise errors.error_from_result(
            result, encoding=connection.info.encoding)
    if not result.ntuples:
        return ()
    values = [result.get_value(0, i) for i in range(result.nfields)]
    return tuple([None if v is None else v.decode() for v in values])


@lru_cache(maxsize=64)
def _command(isolation_level, read_only, deferrable, statements):
    # The BEGIN psycopg would send, from the connection's settings.
    parts = ['BEGIN']
    if isolation_level is not None:
        level = IsolationLevel(isolation_level)
        parts.append('ISOLATION LEVEL ' + level.name.replace('_', ' '))
    if read_only is not None:
        parts.append('READ ONLY' if read_only else 'READ WRITE')
    if deferrable is not None:
        parts.append('DEFERRABLE' if deferrable else 'NOT DEFERRABLE')
    return '; '.join((' '.join(parts), *statements)).encode()
