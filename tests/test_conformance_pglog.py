# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The check of the PostgreSQL server log that tests/run.py makes."""
import io
import os
import tempfile
import unittest
from unittest import mock

from . import pglog

LOG = """\
2026-12-04 20:00:00.001 UTC [100] LOG:  database system is ready
2026-12-04 20:00:01.002 UTC [101] ERROR:  prepared statement "endpoint_registry_version" does not exist
2026-12-04 20:00:01.002 UTC [101] STATEMENT:  DEALLOCATE endpoint_registry_version
2026-12-04 20:00:02.003 UTC [102] ERROR:  duplicate key value violates unique constraint "x_key"
2026-12-04 20:00:02.003 UTC [102] DETAIL:  Key (code)=(A) already exists.
2026-12-04 20:00:02.003 UTC [102] STATEMENT:  INSERT INTO "x" ("code")
\tVALUES ('A')
2026-12-04 20:00:03.004 UTC [103] ERROR:  canceling statement due to statement timeout
2026-12-04 20:00:04.005 UTC [101] ERROR:  prepared statement "endpoint_registry_version" does not exist
2026-12-04 20:00:04.005 UTC [101] STATEMENT:  DEALLOCATE endpoint_registry_version
2026-12-04 20:00:05.006 UTC [104] FATAL:  terminating connection due to administrator command
"""  # noqa: E501
ALLOWED = [
    (r'^canceling statement due to statement timeout$', None,
        'tests/test_x.py::T::test_timeout', "a snippet over its budget"),
    (r'^duplicate key value', r'^INSERT INTO "y"',
        'tests/test_x.py::T::test_y', "only on table y"),
    ]


class PgLogTestCase(unittest.TestCase):
    "ERROR lines are found with their statements, and allowed by pattern"

    def test_entries(self):
        "Each entry with its level and the STATEMENT after it"
        entries = list(pglog.entries(io.StringIO(LOG)))
        self.assertEqual([(e[0], e[1]) for e in entries], [
                (1, 'LOG'), (2, 'ERROR'), (4, 'ERROR'), (8, 'ERROR'),
                (9, 'ERROR'), (11, 'FATAL')])
        self.assertEqual(entries[2][3], 'INSERT INTO "x" ("code")')

    def test_unexpected(self):
        "Allowed patterns leave out what a test causes on purpose"
        found = pglog.unexpected(io.StringIO(LOG), ALLOWED)
        self.assertEqual([e[0] for e in found], [2, 4, 9])
        self.assertEqual(len(pglog.unexpected(io.StringIO(LOG), [])), 4)

    def test_statement_pattern(self):
        "A pattern with a statement allows only errors of that statement"
        found = pglog.unexpected(io.StringIO(LOG), ALLOWED)
        self.assertIn(4, [e[0] for e in found])
        allowed = [(r'^duplicate key value', r'^INSERT INTO "x"', 't', 'w')]
        found = pglog.unexpected(io.StringIO(LOG), allowed)
        self.assertNotIn(4, [e[0] for e in found])

    def test_report(self):
        "The report names each distinct line, with its first place"
        with tempfile.NamedTemporaryFile('w', suffix='.log',
                delete=False) as log:
            log.write(LOG)
        self.addCleanup(os.unlink, log.name)
        out = io.StringIO()
        with mock.patch.object(pglog, 'ALLOWED', ALLOWED):
            self.assertEqual(pglog.report(log.name, out=out), 1)
        text = out.getvalue()
        self.assertIn('3 ERROR lines', text)
        self.assertIn('line 2, 2x: ERROR:  prepared statement '
            '"endpoint_registry_version" does not exist', text)
        self.assertIn('STATEMENT:  DEALLOCATE endpoint_registry_version',
            text)
        self.assertNotIn('statement timeout', text)

    def test_report_clean(self):
        "A log without unexpected ERROR passes"
        with tempfile.NamedTemporaryFile('w', suffix='.log',
                delete=False) as log:
            log.write(LOG.splitlines(True)[0])
        self.addCleanup(os.unlink, log.name)
        self.assertEqual(pglog.report(log.name, out=io.StringIO()), 0)

    def test_allowed_entries_name_their_test(self):
        "Each allowed pattern compiles and names the test causing it"
        for message, statement, test, why in pglog.ALLOWED:
            with self.subTest(pattern=message):
                pglog.re.compile(message)
                pglog.re.compile(statement or '')
                for name in (test,) if isinstance(test, str) else test:
                    self.assertRegex(
                        name, r'^tests/test_\w+\.py::(\w+::)?test_\w+$')
                self.assertTrue(why)
