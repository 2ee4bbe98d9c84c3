# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""X-Request-Id on every answer of the mount, in bodies and in logs."""
import json
import logging
import unittest

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint.http import request_id

from .tools import EndpointRouteTestCase, bearer, define

HEADER = 'X-Request-Id'


class AcceptTestCase(unittest.TestCase):
    "Which ids of callers are kept"

    def test_kept(self):
        for value in ['abc', 'f' * 128, 'trace-1/2:3@x%y', '~!#']:
            self.assertEqual(request_id.accept(value), value)

    def test_replaced(self):
        for value in [None, '', 'x' * 129, 'with space', 'new\nline',
                'tab\t', 'caf\u00e9', '\x00', '\x7f']:
            drawn = request_id.accept(value)
            self.assertNotEqual(drawn, value)
            self.assertRegex(drawn, r'\A[0-9a-f]{8}-[0-9a-f]{6,}\Z')

    def test_drawn_unique(self):
        drawn = {request_id.draw() for _ in range(1000)}
        self.assertEqual(len(drawn), 1000)

    def test_quoted_once_and_safe(self):
        "A record made during a request is prefixed once, '%' kept as is"
        request_id.quote_in_logs()
        request_id.quote_in_logs()
        token = request_id._current.set('a%sb')
        try:
            record = logging.getLogger('x').makeRecord(
                'x', logging.INFO, __file__, 1, "n=%s", (5,), None)
        finally:
            request_id._current.reset(token)
        self.assertEqual(record.getMessage(), '[request a%sb] n=5')
        self.assertEqual(record.request_id, 'a%sb')
        record = logging.getLogger('x').makeRecord(
            'x', logging.INFO, __file__, 1, "plain", (), None)
        self.assertEqual(record.getMessage(), 'plain')


class RequestIdTestCase(EndpointRouteTestCase):
    "The id of each answer"

    def public(self, route, code, **values):
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.web_user)
        return define(route=route, code=code, **values)

    def test_every_answer(self):
        "Success, errors of the endpoint, of the mount and of the guard"
        self.public('/rid/ok', "result['payload'] = 1")
        define(route='/rid/key', auth='application', code="")
        client = self.client()
        answers = [
            client.get(self.url('/rid/ok')),
            client.get(self.url('/rid/nothing-here')),
            client.delete(self.url('/rid/ok')),
            client.get(self.url('/rid/key')),
            client.get(self.url('/rid/key'), headers=bearer('wrong')),
            client.get(self.url('/openapi.json')),
            client.open(self.url('/rid/ok'), method='OPTIONS'),
            # Refused by the guard, before Tryton's application
            client.get(self.url('/rid/ok'), headers={'Host': 'a b'}),
            ]
        statuses = [a.status_code for a in answers]
        self.assertEqual(statuses, [200, 404, 405, 401, 401, 200, 204, 400])
        ids = [a.headers.getlist(HEADER) for a in answers]
        for values in ids:
            self.assertEqual(len(values), 1, ids)
        self.assertEqual(len({v for v, in ids}), len(ids), ids)

    def test_caller_id_kept_or_replaced(self):
        self.public('/rid/echo', "result['payload'] = 1")
        client = self.client()
        response = client.get(self.url('/rid/echo'),
            headers={HEADER: 'caller-42'})
        self.assertEqual(response.headers[HEADER], 'caller-42')
        for bad in ['x' * 200, 'two words', 'caf\u00e9']:
            response = client.get(self.url('/rid/echo'),
                headers={HEADER: bad})
            self.assertNotEqual(response.headers[HEADER], bad)
            self.assertRegex(response.headers[HEADER], r'\A[0-9a-f-]+\Z')

    def test_snippet_can_not_set_it(self):
        "The mount's id wins over a header the snippet sets"
        self.public('/rid/own',
            "result['payload'] = 1\n"
            "result['headers'] = {'X-Request-Id': 'forged'}")
        response = self.client().get(self.url('/rid/own'),
            headers={HEADER: 'mine'})
        self.assertEqual(response.headers.getlist(HEADER), ['mine'])

    def test_failure_body_and_logs(self):
        "A 500 quotes the id in its body, the server log and endpoint log"
        endpoint = self.public('/rid/broken',
            "log('before')\nresult['payload'] = 1 / 0\n")
        with self.assertLogs(level='ERROR') as server_log:
            response = self.client().get(self.url('/rid/broken'),
                headers={HEADER: 'req-500'})
        self.assertEqual(response.status_code, 500)
        self.assertEqual(response.headers[HEADER], 'req-500')
        body = json.loads(response.data)
        self.assertEqual(body['request_id'], 'req-500')
        self.assertEqual(body['error_id'], 'req-500')
        self.assertIn('req-500', body['detail'])
        for record in server_log.records:
            self.assertTrue(
                record.getMessage().startswith('[request req-500] '),
                record.getMessage())
        with Transaction().start(DB_NAME, 0):
            Log = Pool().get('endpoint.log')
            lines = Log.search([('endpoint', '=', endpoint)],
                order=[('id', 'ASC')])
            self.assertEqual([(line.level, line.request_id) for line in lines],
                [('info', 'req-500'), ('error', 'req-500')])
            self.assertIn('ZeroDivisionError', lines[-1].message)
            # Logs are searched by request id
            self.assertEqual(
                Log.search([('request_id', '=', 'req-500')]), lines[::-1])

    def test_timeout_body_and_logs(self):
        "A 504 quotes the id too, and is in the endpoint log"
        endpoint = self.public('/rid/slow', "while True:\n    pass\n",
            timeout=0.2)
        with self.assertLogs(level='WARNING') as server_log:
            response = self.client().get(self.url('/rid/slow'))
        self.assertEqual(response.status_code, 504)
        drawn = response.headers[HEADER]
        self.assertEqual(json.loads(response.data)['request_id'], drawn)
        self.assertTrue(any(r.getMessage().startswith(f'[request {drawn}]')
                for r in server_log.records))
        with Transaction().start(DB_NAME, 0):
            Log = Pool().get('endpoint.log')
            line, = Log.search([('endpoint', '=', endpoint)])
            self.assertEqual(line.request_id, drawn)
            self.assertIn('504', line.message)


del EndpointRouteTestCase
