"""How endpoint requests use Tryton's PostgreSQL connection pool.

- psycopg_pool lets a request wait 30 s for a connection; with the database
  down that is a stuck worker, not an answer: the wait is bounded.
- The pool checks every connection it hands out with an empty query, one
  network round trip before the transaction's first statement.  An
  endpoint transaction opens with the registry read, which fails on a dead
  connection as that check would, and the request is then tried again on
  another connection.  So the check is skipped for that connection only:
  any other connection the same thread takes (the cache's, a login's) is
  checked as usual.
"""
import threading

__all__ = ['tune', 'unchecked']

_local = threading.local()


def tune(database, wait):
    "Bound the wait of the database's pool and make its check skippable"
    connpool = getattr(database, '_connpool', None)
    if connpool is None:  # SQLite
        return
    if connpool.timeout != wait:
        connpool.timeout = wait
    check = getattr(connpool, '_check', None)
    if check is not None and not isinstance(check, _SkippableCheck):
        connpool._check = _SkippableCheck(check)


class _SkippableCheck:
    __slots__ = ('check',)

    def __init__(self, check):
        self.check = check

    def __call__(self, connection):
        if _local.__dict__.pop('skip', False):
            return
        self.check(connection)


class unchecked:
    """The next connection this thread takes from a tuned pool is handed
    out unchecked: the caller's first statement checks it.

    A class, not a generator: it is entered by every request."""
    __slots__ = ()

    def __enter__(self):
        _local.skip = True

    def __exit__(self, *exc_info):
        _local.__dict__.pop('skip', None)
