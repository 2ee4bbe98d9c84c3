# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import contextlib
import json
import unittest
from unittest import mock

from trytond import backend
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.endpoint.exceptions import (
    EndpointValidationError,
    SyncError,
)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME,
    ModuleTestCase,
    with_transaction,
)
from trytond.transaction import Transaction

from .tools import make_user

_postgresql_only = unittest.skipUnless(
    backend.name == 'postgresql', "PostgreSQL only")


class EndpointTestCase(ModuleTestCase):
    "Test Endpoint module"
    module = 'endpoint'
    extras = ['party']
    _count = 0

    def _endpoint(self, **values):
        Endpoint = Pool().get('endpoint.endpoint')
        values.setdefault('name', 'Test')
        EndpointTestCase._count += 1
        values.setdefault('route', f'/test{self._count}')
        values.setdefault('auth', 'application')
        return Endpoint.create([values])[0]

    def assertRefused(self, field, **values):
        with self.assertRaises(ValidationError) as cm:
            self._endpoint(**values)
        self.assertIn(field, cm.exception.message)
        return cm.exception.message

    @with_transaction()
    def test_route_must_compile(self):
        "A route that Werkzeug can not compile is refused"
        self.assertRefused('Route', route='/a/<int:id')
        self.assertRefused('Route', route='/a/<nope:id>')
        self.assertRefused('Route', route='no-slash')

    @with_transaction()
    def test_public_needs_exec_user(self):
        "A public endpoint without a user to run as is refused"
        self.assertRefused('Run As', auth='public')

    @with_transaction()
    def test_exec_user_not_root(self):
        "The root user can not run endpoints"
        self.assertRefused('Run As', auth='public', exec_user=0)

    @with_transaction()
    def test_content_type_required_for_body(self):
        "POST, PUT and PATCH need a content type"
        for method in ['POST', 'PUT', 'PATCH']:
            with self.subTest(method=method):
                self.assertRefused('Content Type', method=method,
                    route=f'/ct-{method}')
        self._endpoint(method='POST', route='/ct-ok',
            content_type='application/json')

    @with_transaction()
    def test_code_compiles_in_sandbox(self):
        "An import or a dunder in the snippet is refused with its line"
        message = self.assertRefused('Code', code="x = 1\nimport os\n")
        self.assertIn('line 2', message)
        self.assertRefused('Code', code="x = ().__class__\n")
        self.assertRefused('Code', code="x = (\n")

    @with_transaction()
    def test_schema_checked(self):
        "An unparsable or invalid schema is refused at save"
        self.assertRefused('Request Schema', method='POST',
            content_type='application/json', request_schema='{"type": ')
        self.assertRefused('Request Schema', method='POST',
            content_type='application/json',
            request_schema='{"type": "nope"}')
        self.assertRefused('Query Schema', query_schema='type: [1')

    @with_transaction()
    def test_unique_route_method(self):
        "Two active endpoints can not share route shape and method"
        self._endpoint(route='/u/<int:id>')
        with self.assertRaises(EndpointValidationError):
            self._endpoint(route='/u/<int:other>')
        # Another method or an archived copy is fine.
        self._endpoint(route='/u/<int:id>', method='DELETE')
        self._endpoint(route='/u/<int:id>', active=False)

    @with_transaction()
    def test_state_and_sync(self):
        "A new or edited endpoint is out of sync until synced"
        endpoint = self._endpoint(route='/state')
        self.assertEqual(endpoint.state, 'out_of_sync')
        Endpoint = Pool().get('endpoint.endpoint')
        Endpoint.sync([endpoint])
        self.assertEqual(Endpoint(endpoint.id).state, 'live')
        self.assertIn(endpoint, Endpoint.search([('state', '=', 'live')]))
        self.assertNotIn(endpoint,
            Endpoint.search([('state', '=', 'out_of_sync')]))
        Endpoint.write([endpoint], {'code': "result['payload'] = 2"})
        self.assertEqual(Endpoint(endpoint.id).state, 'out_of_sync')

    @with_transaction()
    def test_sync_is_all_or_nothing(self):
        "A failing definition makes the whole sync fail"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Registry = pool.get('endpoint.registry')
        good = self._endpoint(route='/good')
        old = self._endpoint(route='/clash')
        Endpoint.sync([old])
        # Archived but not synced: still served at /clash.
        Endpoint.write([old], {'active': False})
        new = self._endpoint(route='/clash')
        version = Registry.current()
        with self.assertRaises(SyncError) as cm:
            Endpoint.sync([good, new])
        self.assertIn('/clash', cm.exception.message)
        self.assertEqual(Registry.current(), version)
        self.assertEqual(Endpoint(good.id).state, 'out_of_sync')

    @with_transaction()
    def test_sync_bumps_version(self):
        "Sync and delete change the registry version"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Registry = pool.get('endpoint.registry')
        endpoint = self._endpoint(route='/bump')
        version = Registry.current()
        Endpoint.sync([endpoint])
        self.assertEqual(Registry.current(), version + 1)
        Endpoint.delete([endpoint])
        self.assertEqual(Registry.current(), version + 2)

    @with_transaction()
    def test_sync_registry_wizard(self):
        "The Sync Registry action publishes archived records too"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        SyncRegistry = pool.get('endpoint.sync_registry', type='wizard')
        endpoint = self._endpoint(route='/wizard')
        Endpoint.sync([endpoint])
        endpoint.active = False
        endpoint.save()
        session_id, _, _ = SyncRegistry.create()
        SyncRegistry.execute(session_id, {}, 'sync')
        published = {d.id: d for d in Endpoint.published_definitions()}
        self.assertFalse(published[endpoint.id].active)

    @with_transaction()
    def test_code_hidden_without_group(self):
        "Only endpoint administrators read the code"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        endpoint = self._endpoint(route='/hidden')
        user = make_user('reader')
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Endpoint.read([endpoint.id], ['code'])
            Endpoint.read([endpoint.id], ['name'])
            with self.assertRaises(AccessError):
                Endpoint.create([{'name': 'x', 'route': '/x',
                            'auth': 'application'}])

    @with_transaction()
    def test_copy_is_inactive_and_unpublished(self):
        "A copy starts archived and out of sync"
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint = self._endpoint(route='/copied')
        Endpoint.sync([endpoint])
        copy, = Endpoint.copy([endpoint])
        self.assertFalse(copy.active)
        self.assertIsNone(copy.published)

    @with_transaction()
    def test_schema_from_module_file(self):
        "XML data may load a schema from a file of its module"
        with Transaction().set_context(module='endpoint'):
            endpoint = self._endpoint(method='POST',
                content_type='application/json',
                request_schema='file:tests/data/order.schema.yaml')
            self.assertIn('minLength: 1', endpoint.request_schema)
            with self.assertRaises(ValidationError):
                self._endpoint(method='POST', content_type='application/json',
                    request_schema='file:../../etc/passwd')
        # Outside module data the text is taken as it is (and refused).
        with self.assertRaises(ValidationError):
            self._endpoint(method='POST', content_type='application/json',
                request_schema='file:tests/data/order.schema.yaml')

    @with_transaction()
    def test_errors_are_user_errors(self):
        "Validation errors reach the client as user errors"
        with self.assertRaises(UserError):
            self._endpoint(route='bad')



    def _begins(self, connection):
        "A probe of the BEGIN commands psycopg sends on its own"
        exec_command = connection._exec_command
        sent = []

        def probe(command, *args, **kwargs):
            sent.append(bytes(command))
            return exec_command(command, *args, **kwargs)
        return sent, mock.patch.object(connection, '_exec_command', probe)

    @_postgresql_only
    def test_read_opens_the_transaction(self):
        "BEGIN, the timeout and the read go together, as psycopg would begin"
        with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
            Registry = Pool().get('endpoint.registry')
            connection = transaction.connection
            sent, probe = self._begins(connection)
            with probe:
                version = Registry.current(statement_timeout=1234)
                cursor = connection.cursor()
                cursor.execute('SHOW statement_timeout')
                self.assertEqual(cursor.fetchone()[0], '1234ms')
                cursor.execute('SHOW transaction_isolation')
                self.assertEqual(cursor.fetchone()[0], 'repeatable read')
                cursor.execute('SHOW transaction_read_only')
                self.assertEqual(cursor.fetchone()[0], 'on')
                cursor.execute(
                    f'SELECT "version" FROM "{Registry._table}"')
                self.assertEqual(cursor.fetchone()[0], version)
            self.assertFalse(
                [c for c in sent if c.upper().startswith(b'BEGIN')])
            transaction.rollback()
            # Local to the transaction: the pooled connection keeps none.
            cursor = connection.cursor()
            cursor.execute('SHOW statement_timeout')
            self.assertNotEqual(cursor.fetchone()[0], '1234ms')

    @_postgresql_only
    def test_read_in_open_transaction(self):
        "Inside a started transaction the read is an ordinary query"
        with Transaction().start(DB_NAME, 0) as transaction:
            Registry = Pool().get('endpoint.registry')
            cursor = transaction.connection.cursor()
            cursor.execute('SELECT 1')
            version = Registry.current(statement_timeout=2500)
            cursor.execute('SHOW statement_timeout')
            self.assertEqual(cursor.fetchone()[0], '2500ms')
            cursor.execute('SHOW transaction_read_only')
            self.assertEqual(cursor.fetchone()[0], 'off')
            self.assertEqual(Registry.current(), version)

    @_postgresql_only
    def test_read_on_lost_connection(self):
        "A connection lost under the read is an OperationalError"
        from trytond.modules.endpoint.pgtune.begin import begin_and_fetch
        checked = False
        # Ending the transaction fails too, on the dead connection.
        with contextlib.suppress(backend.DatabaseOperationalError), \
                Transaction().start(DB_NAME, 0) as transaction:
            connection = transaction.connection
            pid = connection.info.backend_pid
            with transaction.new_transaction() as other:
                cursor = other.connection.cursor()
                # Waits up to 5 s for the backend to be gone.
                cursor.execute('SELECT pg_terminate_backend(%s, 5000)',
                    (pid,))
                self.assertTrue(cursor.fetchone()[0])
            with self.assertRaises(backend.DatabaseOperationalError):
                begin_and_fetch(connection, 'SELECT 1')
            self.assertTrue(connection.closed)
            checked = True
        self.assertTrue(checked)

    @_postgresql_only
    def test_failed_read_rolls_back(self):
        "A failing read raises psycopg's error and leaves a rollback-able "
        "transaction"
        from psycopg import errors, pq
        from trytond.modules.endpoint.pgtune.begin import begin_and_fetch
        with Transaction().start(DB_NAME, 0) as transaction:
            connection = transaction.connection
            with self.assertRaises(errors.UndefinedTable):
                begin_and_fetch(connection, 'SELECT 1 FROM "no_such_table"')
            self.assertEqual(connection.pgconn.transaction_status,
                pq.TransactionStatus.INERROR)
            transaction.rollback()
            self.assertEqual(begin_and_fetch(connection, 'SELECT 1, NULL'),
                ('1', None))
            self.assertIsNone(begin_and_fetch(connection, 'SELECT 1'))

    @_postgresql_only
    def test_prepared_read_with_arguments(self):
        "Arguments go in the EXECUTE as literals, only when plain text"
        from trytond.modules.endpoint.pgtune.begin import Prepared, begin_and_fetch
        statement = Prepared('endpoint_test_echo', 'SELECT $1::text')
        with Transaction().start(DB_NAME, 0) as transaction:
            connection = transaction.connection
            for argument in ["a'b", 'a b', 'é', 'a' * 257, 1]:
                with self.subTest(argument=argument):
                    with self.assertRaises(ValueError):
                        begin_and_fetch(connection, statement,
                            arguments=(argument,))
            for argument in ['Ab-9_', '']:
                with self.subTest(argument=argument):
                    self.assertEqual(begin_and_fetch(connection, statement,
                            arguments=(argument,)), (argument,))
                    transaction.rollback()

    def _statements(self, connection):
        cursor = connection.cursor()
        cursor.execute('SELECT name FROM pg_prepared_statements '
            "WHERE name LIKE 'endpoint%%'")
        return [n for n, in cursor]

    def _forget(self, transaction):
        "A session without the read's prepared statement, known as such"
        from trytond.modules.endpoint.pgtune import begin as pgbegin
        connection = transaction.connection
        present = self._statements(connection)
        transaction.rollback()
        if present:
            connection.pgconn.exec_(b'DEALLOCATE endpoint_registry_version')
        pgbegin.prepared_names(connection).clear()

    @_postgresql_only
    def test_read_is_prepared_once(self):
        "The server plans the read once per connection, not per request"
        with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
            Registry = Pool().get('endpoint.registry')
            connection = transaction.connection
            self._forget(transaction)
            version = Registry.current()
            seen = []
            for _ in range(3):
                cursor = connection.cursor()
                cursor.execute('SELECT prepare_time, '
                    'generic_plans + custom_plans FROM pg_prepared_statements '
                    "WHERE name = 'endpoint_registry_version'")
                seen.append(cursor.fetchone())
                transaction.rollback()
                self.assertEqual(Registry.current(), version)
            # Made once, then run once per read
            self.assertEqual(len({made for made, _ in seen}), 1)
            self.assertEqual([runs for _, runs in seen], [1, 2, 3])

    @_postgresql_only
    def test_read_survives_lost_statement(self):
        "A session that lost the statement, or that has it unknown to "
        "this process, still reads the version"
        from trytond.modules.endpoint.pgtune import begin as pgbegin
        with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
            Registry = Pool().get('endpoint.registry')
            connection = transaction.connection
            version = Registry.current()
            transaction.rollback()
            connection.pgconn.exec_(b'DEALLOCATE endpoint_registry_version')
            self.assertEqual(Registry.current(statement_timeout=1500),
                version)
            cursor = connection.cursor()
            cursor.execute('SHOW statement_timeout')
            self.assertEqual(cursor.fetchone()[0], '1500ms')
            transaction.rollback()
            pgbegin.prepared_names(connection).clear()
            self.assertEqual(Registry.current(), version)
            self.assertEqual(self._statements(connection),
                ['endpoint_registry_version'])
            transaction.rollback()
            self.assertEqual(Registry.current(), version)

    @_postgresql_only
    def test_read_unprepared_without_prepare_threshold(self):
        "Where psycopg prepares nothing (a transaction pooler), nor do we"
        with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
            Registry = Pool().get('endpoint.registry')
            connection = transaction.connection
            self._forget(transaction)
            threshold = connection.prepare_threshold
            connection.prepare_threshold = None
            try:
                version = Registry.current()
                self.assertEqual(self._statements(connection), [])
            finally:
                connection.prepare_threshold = threshold
            transaction.rollback()
            self.assertEqual(Registry.current(), version)


class TryEndpointTestCase(ModuleTestCase):
    "Test the Test wizard"
    module = 'endpoint'
    extras = ['party']

    @with_transaction()
    def test_try_unsynced_definition_rolled_back(self):
        "The wizard runs the edited code, shows the log and keeps nothing"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Party = pool.get('party.party')
        Try = pool.get('endpoint.endpoint.try', type='wizard')
        user = make_user('tester')
        endpoint, = Endpoint.create([{
                    'name': 'Create', 'route': '/try/<int:n>',
                    'method': 'POST', 'content_type': 'application/json',
                    'auth': 'public', 'exec_user': user.id,
                    'code': "p, = pool.get('party.party').create("
                    "[{'name': request.json['name']}])\n"
                    "log('made %s' % p.name)\n"
                    "result['payload'] = {'n': request.path_params['n']}\n"
                    "result['status_code'] = 201\n"}])
        with Transaction().set_context(
                active_model='endpoint.endpoint', active_id=endpoint.id,
                active_ids=[endpoint.id]):
            session_id, _, _ = Try.create()
            defaults = Try.execute(session_id, {}, 'start')
            start = defaults['view']['defaults']
            self.assertEqual(start['path'], '/try/1')
            self.assertIn('application/json', start['headers'])
            result = Try.execute(session_id, {'start': {
                        'method': 'POST', 'path': '/try/7',
                        'headers': 'Content-Type: application/json',
                        'body': '{"name": "Tried"}'}}, 'run')
        response = result['view']['defaults']
        self.assertEqual(response['status'], 201, response)
        self.assertEqual(response['body'], '{"n":7}')
        self.assertIn('made Tried', response['logs'])
        self.assertFalse(Party.search([('name', '=', 'Tried')]))
        self.assertEqual(Endpoint(endpoint.id).state, 'out_of_sync')
        self.assertNotIn('response', response['logs'])

        # An answer that breaks the documented response schema is shown
        Endpoint.write([endpoint], {'response_schema': json.dumps({
                        'type': 'object', 'required': ['n'],
                        'properties': {'n': {'type': 'string'}}})})
        with Transaction().set_context(
                active_model='endpoint.endpoint', active_id=endpoint.id,
                active_ids=[endpoint.id]):
            session_id, _, _ = Try.create()
            result = Try.execute(session_id, {'start': {
                        'method': 'POST', 'path': '/try/8',
                        'headers': 'Content-Type: application/json',
                        'body': '{"name": "Again"}'}}, 'run')
        logs = result['view']['defaults']['logs']
        self.assertIn('warning: response /n: must be a string', logs)


del ModuleTestCase
