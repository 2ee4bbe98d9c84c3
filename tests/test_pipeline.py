# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"The request pipeline: what is retried, Tryton's login delay, the read"
import json
import sqlite3
import unittest
from unittest import mock

from trytond import backend
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, basic, define, make_user

_postgresql_only = unittest.skipUnless(
    backend.name == 'postgresql', "PostgreSQL only")
PROBLEM = 'application/problem+json'


def _sqlite_error(message, name):
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name
    return error


class _Time:
    "Tryton's res.user module's time, whose sleep is only recorded"

    def __init__(self, slept):
        self.sleep = slept.append


class DatabaseFailureTestCase(unittest.TestCase):
    "Which driver errors are the database's, and which the request's"

    def failure(self, error):
        from trytond.modules.endpoint.transaction import database_failure
        return database_failure(error)

    def test_sqlite(self):
        for error, expected in [
                (_sqlite_error('too many SQL variables', 'SQLITE_ERROR'),
                    None),
                (_sqlite_error('no such table: x', 'SQLITE_ERROR'), None),
                (_sqlite_error('database is locked', 'SQLITE_BUSY'), 'busy'),
                (_sqlite_error('database table is locked', 'SQLITE_LOCKED'),
                    'busy'),
                (_sqlite_error('interrupted', 'SQLITE_INTERRUPT'),
                    'timeout'),
                (sqlite3.OperationalError('database is locked'), 'busy'),
                (sqlite3.OperationalError('too many SQL variables'), None),
                ]:
            with self.subTest(error=str(error)):
                self.assertEqual(self.failure(error), expected)

    def test_postgresql(self):
        try:
            from psycopg import InterfaceError, errors
        except ImportError:
            self.skipTest("psycopg is not installed")
        for error, expected in [
                (errors.SerializationFailure(), 'busy'),
                (errors.DeadlockDetected(), 'busy'),
                (errors.LockNotAvailable(), 'busy'),
                (errors.TooManyConnections(), 'busy'),
                (errors.AdminShutdown(), 'busy'),
                (errors.ProgramLimitExceeded(), None),
                (errors.DiskFull(), None),
                (errors.UndefinedTable(), None),
                (InterfaceError("the connection is closed"), 'lost'),
                ]:
            with self.subTest(error=type(error).__name__):
                self.assertEqual(self.failure(error), expected)

    def test_lost_connection(self):
        "Whatever the error, a broken connection was lost"
        connection = mock.Mock(broken=True, closed=False)
        from trytond.modules.endpoint.transaction import database_failure
        self.assertEqual(database_failure(
                _sqlite_error('disk I/O error', 'SQLITE_IOERR'), connection),
            'lost')


class PipelineTestCase(EndpointRouteTestCase):
    "Serving through the pipeline"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        cls.delayed = make_user('delayed').id
        make_user('other')

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        return json.loads(response.data)

    @unittest.skipUnless(backend.name == 'sqlite',
        "PostgreSQL takes the list as one array parameter")
    def test_request_sql_error_not_retried(self):
        "SQL the database refuses (too many variables) is a 500, run once"
        define(route='/many/names', method='POST', auth='public',
            content_type='application/json',
            exec_user=self.web_user,
            code="names = [str(i) for i in range(260000)]\n"
            "result['payload'] = {'n': len(pool.get('party.party').search("
            "[('name', 'in', names)]))}")
        from trytond.modules.endpoint import pipeline
        Registry = Pool(self.db_name).get('endpoint.registry')
        reads = []
        current = Registry.current

        def counted(*args, **kwargs):
            reads.append(1)
            return current(*args, **kwargs)
        with mock.patch.object(Registry, 'current', counted), \
                self.assertLogs(pipeline.logger, 'ERROR') as logs:
            response = self.client().post(self.url('/many/names'),
                json={})
        body = self.assertProblem(response, 500)
        self.assertIn('error_id', body)
        self.assertEqual(len(reads), 1)
        self.assertEqual(len(logs.records), 1)

    def test_busy_database_retried(self):
        "A writing request that met a lock another transaction held is "
        "run again"
        define(route='/busy', method='POST', auth='public',
            content_type='application/json',
            exec_user=self.web_user, code="result['payload'] = {'ok': 1}")
        Registry = Pool(self.db_name).get('endpoint.registry')
        current = Registry.current
        if backend.name == 'postgresql':
            from psycopg import errors
            busy = errors.SerializationFailure()
        else:
            busy = _sqlite_error('database is locked', 'SQLITE_BUSY')
        calls = []

        def once_busy(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise busy
            return current(*args, **kwargs)
        with mock.patch.object(Registry, 'current', once_busy):
            response = self.client().post(self.url('/busy'), json={})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(len(calls), 2)

    def test_login_delay_not_slept(self):
        "After a failed login Tryton delays, the next login of the name "
        "is 429 at once, nothing sleeps in the worker, others are served"
        from trytond.modules.endpoint import auth
        define(route='/delay/me', auth='user',
            code="result['payload'] = [user.login]")
        url = self.url('/delay/me')
        slept = []
        now = [1000.0]
        # The longest delay Tryton may draw
        with mock.patch('trytond.res.user.random.randint',
                    lambda low, high: high), \
                mock.patch('trytond.res.user.time', _Time(slept)), \
                mock.patch.object(auth, '_clock', lambda: now[0]):
            for _ in range(2):
                response = self.client().get(url,
                    headers=basic('delayed', 'wrong'))
                self.assertProblem(response, 401)
            # The second failure was delayed by 2 ** 1 - 1 seconds.
            response = self.client().get(url, headers=basic('delayed'))
            self.assertProblem(response, 429)
            self.assertEqual(response.headers['Retry-After'], '1')
            response = self.client().get(url, headers=basic('other'))
            self.assertEqual(response.status_code, 200, response.data)
            now[0] += 1.5
            response = self.client().get(url, headers=basic('delayed'))
            self.assertEqual(response.status_code, 200, response.data)
            self.assertEqual(json.loads(response.data), ['delayed'])
        self.assertEqual([s for s in slept if s], [])

    def test_login_not_under_user_id_lock(self):
        "A login does not go through Request.user_id, whose lock every "
        "request of a threaded process shares"
        from trytond.protocols.wrappers import Request
        define(route='/lock/me', auth='user',
            code="result['payload'] = [user.login]")

        def refused(request):
            raise AssertionError("Request.user_id evaluated")
        with mock.patch.object(Request, 'user_id', property(refused)):
            response = self.client().get(self.url('/lock/me'),
                headers=basic('other'))
        self.assertEqual(response.status_code, 200, response.data)

    def test_login_delay_outside_endpoints(self):
        "Tryton's own logins keep their delay"
        from trytond import security
        slept = []
        with mock.patch('trytond.res.user.random.randint',
                    lambda low, high: high), \
                mock.patch('trytond.res.user.time', _Time(slept)):
            for _ in range(2):
                self.assertIsNone(security.login(DB_NAME, 'other',
                        {'password': 'wrong'}, cache=False))
        self.assertEqual(slept, [0, 1])

    @_postgresql_only
    def test_no_error_after_psycopg_deallocates(self):
        "psycopg's DEALLOCATE ALL on rollback: the next read prepares "
        "again, without an error the server would log"
        from trytond.modules.endpoint.pgtune import begin
        failures = []
        fetch = begin._fetch

        def spied(*args):
            try:
                return fetch(*args)
            except Exception as error:
                failures.append(error)
                raise
        with mock.patch.object(begin, '_fetch', spied), \
                Transaction().start(self.db_name, 0, readonly=True) \
                as transaction:
            Registry = Pool().get('endpoint.registry')
            connection = transaction.connection
            version = Registry.current(statement_timeout=2000)
            for _ in range(3):
                # A statement psycopg prepares itself: its rollback then
                # sends DEALLOCATE ALL.
                connection.cursor().execute('SELECT 1', prepare=True)
                transaction.rollback()
                self.assertEqual(
                    Registry.current(statement_timeout=2000), version)
            transaction.rollback()
        self.assertEqual(failures, [])


class RunNamesTestCase(unittest.TestCase):
    "A run is given only what its snippet writes: it can reach no other"

    def test_snippet_reads(self):
        from trytond_endpoint.compiled import snippet_reads
        names, attributes = snippet_reads(
            "x = request.path_params['id']\nresult['payload'] = x.real\n")
        self.assertEqual(names, {'x', 'request', 'result'})
        self.assertEqual(attributes, {'path_params', 'real'})

    def test_no_unwritten_name_reached(self):
        "What a snippet could reach without writing its name is refused"
        from trytond_endpoint.sandbox import RequestView, run_snippet
        from trytond_endpoint.sandbox_policy import SnippetError, compile_snippet
        for source in ["x = getattr(request, 'head' + 'ers')",
                "x = vars(request)", "x = dir(request)",
                "x = request.__getattribute__('headers')",
                "x = globals()['request']", "import operator"]:
            with self.subTest(source=source):
                with self.assertRaises(SnippetError):
                    compile_snippet(source, '<test>')
        view = RequestView(method='GET', path='/p',
            headers=[('X-Color', 'blue')], path_params={'id': 1})
        for source in ["result['x'] = '{0.headers}'.format(request)",
                "result['x'] = '{0[id]}'.format(request.path_params)",
                "result['x'] = '{r.headers}'.format_map({'r': request})"]:
            with self.subTest(source=source):
                code = compile_snippet(source, '<test>')
                with self.assertRaises(SnippetError):
                    run_snippet(code, {'request': view, 'result': {}},
                        timeout=1, memory=None)

    def test_request_view_parts(self):
        from trytond.modules.endpoint.pipeline import _request_view
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request
        request = Request(EnvironBuilder(method='GET', path='/p',
                headers={'X-Color': 'blue'}).get_environ())
        view = _request_view(request, '/p', {'id': 1}, None, None,
            frozenset({'path_params'}))
        self.assertEqual((view.method, view.path), ('GET', '/p'))
        self.assertEqual(dict(view.path_params), {'id': 1})
        self.assertEqual(list(view.headers), [])
        view = _request_view(request, '/p', {'id': 1}, None, None,
            frozenset({'headers'}))
        self.assertEqual(view.headers.get('x-color'), 'blue')
        self.assertEqual(dict(view.path_params), {})
