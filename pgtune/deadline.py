"""A snippet run's deadline, checked before each of its SQL statements.

``statement_timeout`` bounds one statement; an ORM call runs many (a
``create`` of 30,000 records ran for two minutes under a 0.3 s budget).
While a snippet runs, the connection's cursors are made by a subclass of
its cursor class that refuses to start a statement once the run's
deadline has passed, with the error PostgreSQL gives for a cancelled
statement, so the server answers it as a statement over the budget.
"""
import threading
import time
from functools import lru_cache

__all__ = ['Deadline']

_local = threading.local()


@lru_cache(maxsize=8)
def _deadline_cursor(base, error):
    def check():
        at = getattr(_local, 'at', None)
        if at is not None and time.monotonic() > at:
            raise error('The snippet ran past its time budget.')

    class DeadlineCursor(base):
        def execute(self, *args, **kwargs):
            check()
            return super().execute(*args, **kwargs)

        def executemany(self, *args, **kwargs):
            check()
            return super().executemany(*args, **kwargs)
    return DeadlineCursor


class Deadline:
    """Context: the statements on connection start before budget seconds,
    or raise error (the driver's cancelled-statement error)"""
    __slots__ = ('connection', 'budget', 'error', 'factory')

    def __init__(self, connection, budget, error):
        self.connection = connection
        self.budget = budget
        self.error = error

    def __enter__(self):
        self.factory = self.connection.cursor_factory
        self.connection.cursor_factory = _deadline_cursor(
            self.factory, self.error)
        _local.at = time.monotonic() + self.budget
        return self

    def __exit__(self, *exc):
        self.connection.cursor_factory = self.factory
        _local.at = None
