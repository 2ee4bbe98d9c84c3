# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What tunes Tryton's PostgreSQL backend for endpoint requests.

- ``connpool``: a bounded wait for a connection, and the pool's check
  skipped where the first statement checks the connection anyway;
- ``begin``: ``BEGIN``, the transaction's settings and one read in a
  single round trip, the read a prepared statement of the session;
- ``deadline``: a snippet run's deadline, checked before each statement.

Each depends on how psycopg and psycopg_pool work inside Tryton's
backend; the engine (``trytond_endpoint``) knows no database driver.
"""
