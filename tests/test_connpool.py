# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"Endpoint requests and the PostgreSQL connection pool"
import unittest

from trytond import backend
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, define

_postgresql_only = unittest.skipUnless(
    backend.name == 'postgresql', "PostgreSQL only")


@_postgresql_only
class ConnectionPoolTestCase(EndpointRouteTestCase):
    "The pool's check skipped for a request's own connection only"

    def _pool(self):
        return backend.Database(self.db_name)._connpool

    def _served(self, route):
        response = self.client().get(self.url(route))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.json, {'ok': True})

    def _define(self, route):
        define(route=route, auth='public', exec_user=self.web_user,
            code="result['payload'] = {'ok': True}")

    def test_dead_pooled_connections_are_retried(self):
        "Pooled connections killed behind the pool's back: still served"
        self._define('/pooled/dead')
        self._served('/pooled/dead')
        with Transaction().start(self.db_name, 0) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute('SELECT pg_terminate_backend(pid, 5000) '
                'FROM pg_stat_activity '
                'WHERE datname = %s AND pid <> pg_backend_pid()',
                (self.db_name,))
            self.assertTrue(all(killed for killed, in cursor))
            transaction.rollback()
        for _ in range(3):
            self._served('/pooled/dead')

    def test_only_the_next_connection_is_unchecked(self):
        "Inside unchecked() one connection skips the check, the next not"
        from trytond.modules.endpoint.pgtune import connpool
        self._define('/pooled/next')
        self._served('/pooled/next')
        pool = self._pool()
        skippable = pool._check
        self.assertIsInstance(skippable, connpool._SkippableCheck)
        checked = []
        inner = skippable.check

        def count(connection):
            checked.append(connection)
            inner(connection)
        skippable.check = count
        try:
            with connpool.unchecked():
                first = pool.getconn()
                second = pool.getconn()
            pool.putconn(first)
            pool.putconn(second)
            self.assertEqual(checked, [second])
            third = pool.getconn()
            pool.putconn(third)
            self.assertEqual(checked, [second, third])
        finally:
            skippable.check = inner

    def test_wait_bounded(self):
        "A request bounds the pool's wait for a connection"
        from trytond.modules.endpoint import transaction
        self._define('/pooled/wait')
        self._served('/pooled/wait')
        self.assertEqual(self._pool().timeout, transaction.CONNECTION_WAIT)
