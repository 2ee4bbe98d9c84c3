# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Idempotency-Key: replay, 422, 409, expiry and the cleaning cron.

The same key sent at once to two server processes on PostgreSQL is in
``tests/test_multiprocess.py``.
"""
import datetime as dt
import json

from sql import Literal
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .test_rest import PROBLEM, dumps
from .tools import EndpointRouteTestCase, bearer, make_key, make_user

PARTIES = '/rest/model/party.party'


def count(name):
    with Transaction().start(DB_NAME, 0):
        return Pool().get('party.party').search_count([('name', '=', name)])


def kept(**where):
    "The rows kept for the keys, as dicts"
    with Transaction().start(DB_NAME, 0):
        Idempotency = Pool().get('endpoint.idempotency')
        records = Idempotency.search(
            [(k, '=', v) for k, v in where.items()])
        return [{'key': r.key, 'answered': r.answered, 'status': r.status,
                'expires': r.expires} for r in records]


def age(key, **values):
    "Set lease or expires of the rows of key"
    with Transaction().start(DB_NAME, 0) as transaction:
        table = Pool().get('endpoint.idempotency').__table__()
        cursor = transaction.connection.cursor()
        cursor.execute(*table.update(list(
                    getattr(table, k) for k in values),
                list(values.values()), where=table.key == key))
        transaction.commit()


class IdempotencyTestCase(EndpointRouteTestCase):
    "Idempotency-Key on the seed REST and on snippets"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        cls.carol_key = make_key(make_user('carol'))
        Endpoint = Pool().get('endpoint.endpoint')
        Endpoint.sync(Endpoint.create([{
                        'name': f'Counted {idempotent}',
                        'method': 'POST', 'content_type': 'application/json',
                        'auth': 'public', 'exec_user': cls.web_user,
                        'idempotent': idempotent,
                        'route': f'/counted/{idempotent}',
                        'code': "result['payload'] = {'n': "
                        "pool.get('party.party').search_count([])}\n"
                        "result['status_code'] = 202"}
                    for idempotent in [True, False]]))

    def post(self, body, key=None, idempotency_key=None, path=PARTIES):
        headers = bearer(key or self.alice_key)
        if idempotency_key is not None:
            headers['Idempotency-Key'] = idempotency_key
        return self.client().post(self.url(path), data=dumps(body),
            content_type='application/json', headers=headers)

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        return json.loads(response.data)

    def test_replay(self):
        "The same key and body: the first answer again, created once"
        first = self.post({'name': 'Once'}, idempotency_key='k-replay')
        self.assertEqual(first.status_code, 201, first.data)
        self.assertNotIn('Idempotent-Replayed', first.headers)
        for header in ['k-replay', '"k-replay"']:
            with self.subTest(header=header):
                again = self.post({'name': 'Once'}, idempotency_key=header)
                self.assertEqual(again.status_code, 201, again.data)
                self.assertEqual(again.headers['Idempotent-Replayed'],
                    'true')
                self.assertEqual(again.data, first.data)
                self.assertEqual(
                    again.headers['Location'], first.headers['Location'])
                self.assertEqual(again.headers['Content-Type'],
                    first.headers['Content-Type'])
        self.assertEqual(count('Once'), 1)
        rows = kept(key='k-replay')
        self.assertEqual(sorted(r['answered'] for r in rows), [False, True])
        ttl = max(r['expires'] for r in rows) - dt.datetime.utcnow()
        self.assertGreater(ttl, dt.timedelta(hours=23))

    def test_other_body(self):
        "Another body under a used key: 422, nothing created"
        self.assertEqual(self.post({'name': 'First'},
                idempotency_key='k-other').status_code, 201)
        problem = self.assertProblem(
            self.post({'name': 'Second'}, idempotency_key='k-other'), 422)
        self.assertIn('Idempotency-Key', problem['detail'])
        self.assertEqual(count('Second'), 0)

    def test_per_caller(self):
        "Keys are the caller's: another key's same Idempotency-Key runs"
        self.assertEqual(self.post({'name': 'Mine'},
                idempotency_key='k-caller').status_code, 201)
        response = self.post({'name': 'Mine'}, key=self.carol_key,
            idempotency_key='k-caller')
        self.assertEqual(response.status_code, 201, response.data)
        self.assertNotIn('Idempotent-Replayed', response.headers)
        self.assertEqual(count('Mine'), 2)

    def test_without_key(self):
        "No header: every request runs"
        for _ in range(2):
            self.assertEqual(self.post({'name': 'Twice'}).status_code, 201)
        self.assertEqual(count('Twice'), 2)

    def test_bad_key(self):
        "An empty, long or non-ASCII key: 400"
        for key in ['', '""', 'x' * 256, 'é', 'a\\b', 'a"b']:
            with self.subTest(key=key):
                self.assertProblem(self.post({'name': 'Bad key'},
                        idempotency_key=key), 400)
        self.assertEqual(count('Bad key'), 0)

    def test_failure_not_kept(self):
        "A refused request keeps nothing: the key may be sent again"
        self.assertProblem(self.post({'nope': 1},
                idempotency_key='k-failed'), 400)
        self.assertProblem(self.post({'nope': 1},
                idempotency_key='k-failed'), 400)
        self.assertEqual(kept(key='k-failed'), [])
        response = self.post({'name': 'Fixed'}, idempotency_key='k-failed')
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(count('Fixed'), 1)

    def test_running(self):
        "A claim another worker holds: 409 until its lease is over"
        self.assertEqual(self.post({'name': 'Held'},
                idempotency_key='k-running').status_code, 201)
        # As if the first request still ran elsewhere: only its claim.
        with Transaction().start(DB_NAME, 0) as transaction:
            table = Pool().get('endpoint.idempotency').__table__()
            cursor = transaction.connection.cursor()
            cursor.execute(*table.delete(where=(table.key == 'k-running')
                    & (table.answered == Literal(True))))
            transaction.commit()
        age('k-running',
            lease=dt.datetime.utcnow() + dt.timedelta(minutes=5))
        response = self.post({'name': 'Held'}, idempotency_key='k-running')
        problem = self.assertProblem(response, 409)
        self.assertIn('still running', problem['detail'])
        self.assertEqual(response.headers['Retry-After'], '1')
        self.assertProblem(self.post({'name': 'Other'},
                idempotency_key='k-running'), 422)
        # Its worker died: once the lease is over, the key runs again.
        age('k-running',
            lease=dt.datetime.utcnow() - dt.timedelta(seconds=1))
        response = self.post({'name': 'Held'}, idempotency_key='k-running')
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(count('Held'), 2)

    def test_expired_and_cron(self):
        "Past idempotency_ttl the key is new again; the cron forgets it"
        self.post({'name': 'Expiring'}, idempotency_key='k-expired')
        age('k-expired',
            expires=dt.datetime.utcnow() - dt.timedelta(seconds=1))
        response = self.post({'name': 'Expiring'},
            idempotency_key='k-expired')
        self.assertEqual(response.status_code, 201, response.data)
        self.assertNotIn('Idempotent-Replayed', response.headers)
        self.assertEqual(count('Expiring'), 2)

        age('k-expired',
            expires=dt.datetime.utcnow() - dt.timedelta(seconds=1))
        self.post({'name': 'Kept'}, idempotency_key='k-kept')
        with Transaction().start(DB_NAME, 0) as transaction:
            Cron = Pool().get('ir.cron')
            cron, = Cron.search(
                [('method', '=', 'endpoint.idempotency|clean')])
            Cron.run_once([cron])
            transaction.commit()
        self.assertEqual(kept(key='k-expired'), [])
        self.assertEqual(len(kept(key='k-kept')), 2)

    def test_snippet_endpoint(self):
        "A snippet's endpoint with idempotent set replays; without, runs"
        first = self.post({}, idempotency_key='k-snippet',
            path='/counted/True')
        self.assertEqual(first.status_code, 202, first.data)
        self.post({'name': 'Between'})
        again = self.post({}, idempotency_key='k-snippet',
            path='/counted/True')
        self.assertEqual((again.status_code, again.data),
            (202, first.data))
        self.assertEqual(again.headers['Idempotent-Replayed'], 'true')
        plain = [self.post({}, idempotency_key='k-plain',
                path='/counted/False') for _ in range(2)]
        self.assertNotIn('Idempotent-Replayed', plain[1].headers)
        self.assertEqual(kept(key='k-plain'), [])

    def test_test_wizard_ignores_key(self):
        "The Test wizard's rolled back runs neither claim nor replay"
        from trytond.modules.endpoint.try_endpoint import try_definition
        with Transaction().start(DB_NAME, 0):
            Endpoint = Pool().get('endpoint.endpoint')
            endpoint, = Endpoint.search([('route', '=', '/counted/True')])
            definition = endpoint.get_definition()
            for _ in range(2):
                status, headers, _, _ = try_definition(definition, 'POST',
                    '/counted/True', 'Content-Type: application/json\n'
                    'Idempotency-Key: k-try', '{}')
                self.assertEqual(status, 202)
                self.assertNotIn('Idempotent-Replayed', headers)
        self.assertEqual(kept(key='k-try'), [])
