# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What only a sandbox process stops, through served endpoints.

Each snippet here gets past the language-level guards: it crashes the
interpreter, runs in C far past its budget, or grows memory in one
statement. Inline (``[endpoint] isolation = inline``) the first kill the
server process, the next keep it for minutes and the last grow it by
hundreds of megabytes; in a sandbox process each is answered (504 or 500
with an error id), and the next request is served.
"""
import itertools
import json
import os
from unittest import mock

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint import sandbox_process

from .tools import EndpointRouteTestCase, define

_ROUTES = itertools.count()
PROBLEM = 'application/problem+json'
MEMORY = 128 * 2 ** 20


def _peak_memory():
    "The most resident memory this process ever had, in bytes"
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return 0


class IsolationRouteTestCase(EndpointRouteTestCase):
    "Snippets that only a process boundary stops"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        Party = Pool().get('party.party')
        with Transaction().set_user(cls.alice):
            Party.create([{'name': f'Party {i}'} for i in range(5)])

    def setUp(self):
        super().setUp()
        patcher = mock.patch('trytond.modules.endpoint.pipeline.MEMORY_BUDGET',
            MEMORY)
        patcher.start()
        self.addCleanup(patcher.stop)

    def call(self, code, timeout=1, write=False):
        route = f'/isolation/{next(_ROUTES)}'
        values = {'auth': 'public', 'exec_user': self.web_user,
            'timeout': timeout}
        if write:
            values.update(method='POST', content_type='application/json')
        define(route=route, code=code, **values)
        client = self.client()
        if write:
            return client.post(self.url(route), json={})
        return client.get(self.url(route))

    def assertServedNext(self):
        response = self.call(
            "result['payload'] = [p.name for p in "
            "pool.get('party.party').search([], order=[('name', 'ASC')])]")
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data),
            [f'Party {i}' for i in range(5)])

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        return json.loads(response.data)

    def test_segfault_nested_maps(self):
        "A chain of 300,000 maps crashes the interpreter it runs in"
        for builtin in ['map(abs, x)', 'filter(None, x)', 'zip(x)',
                'enumerate(x)']:
            with self.subTest(builtin=builtin):
                problem = self.assertProblem(self.call(
                        "x = [1]\n"
                        "for i in range(300000):\n"
                        f"    x = {builtin}\n"
                        "result['payload'] = list(x)", timeout=10), 500)
                self.assertIn('error_id', problem)
                self.assertServedNext()

    def test_segfault_nested_tuple_in_set(self):
        "Hashing a tuple nested a million deep recurses in C"
        problem = self.assertProblem(self.call(
                "x = ()\n"
                "for i in range(1000000):\n"
                "    x = (x,)\n"
                "result['payload'] = len({x})", timeout=10), 500)
        self.assertIn(problem['error_id'], problem['detail'])
        self.assertServedNext()

    def test_c_level_overruns(self):
        "One C call that runs for minutes answers 504 at the deadline"
        for code in [
                "round(1, -10**8)",
                "Decimal('1e100000000').as_integer_ratio()",
                "a = int.from_bytes(b'\\x7f' * 10**7, 'big')\n"
                "b = int.from_bytes(b'\\x3f' * 5 * 10**6, 'big')\n"
                "c = a // b",
                "L = list(range(3 * 10**6))\n" + "set(L)\n" * 40,
                ]:
            with self.subTest(code=code[:40]):
                # Over the time budget, or the memory budget first.
                self.assertProblem(self.call(code), 504)
                self.assertServedNext()

    def test_memory_growth_in_one_statement(self):
        "One statement may not grow the server past the memory budget"
        for code in [
                "x = set(range(10**7))",
                "t = '{!r}'.format(['x' * 100] * 10**7)",
                ]:
            with self.subTest(code=code):
                before = _peak_memory()
                self.assertProblem(self.call(code, timeout=20), 504)
                self.assertLess(_peak_memory() - before, MEMORY)
                self.assertServedNext()

    def test_rolled_back_at_deadline(self):
        "What a run wrote before it was killed is rolled back"
        response = self.call(
            "pool.get('party.party').create([{'name': 'Doomed'}])\n"
            "round(1, -10**8)", write=True)
        self.assertProblem(response, 504)
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            self.assertFalse(Party.search([('name', '=', 'Doomed')]))

    def test_records_fetched_with_their_siblings(self):
        "Reading a field of each record found is one round trip in all"
        answer = sandbox_process.SandboxProcess._answer
        requests = []

        def counted(self, message):
            requests.append(message[0])
            return answer(self, message)
        with mock.patch.object(
                sandbox_process.SandboxProcess, '_answer', counted):
            self.assertServedNext()
        # pool.get('party.party') was made before the run; search, then
        # .name of the first record brings the other four along.
        self.assertEqual(requests, ['call', 'get'])

    def test_errors_of_the_server_side(self):
        "Refusals raised in the server reach the snippet and the client"
        self.assertProblem(self.call("pool.get('res.user')"), 403)
        response = self.call(
            "try:\n"
            "    pool.get('res.user')\n"
            "except Exception as e:\n"
            "    result['payload'] = {'message': e.message}")
        self.assertEqual(response.status_code, 200, response.data)
        self.assertIn('res.user', json.loads(response.data)['message'])
        problem = self.assertProblem(self.call(
                "raise exceptions.Conflict('Taken', errors=["
                "{'pointer': '/name', 'detail': 'in use'}])"), 409)
        self.assertEqual(problem['errors'],
            [{'pointer': '/name', 'detail': 'in use'}])

    def test_inline_still_available(self):
        "isolation = inline runs the snippet in the server process"
        with mock.patch('trytond.modules.endpoint.isolation.ISOLATION',
                'inline'), mock.patch(
                'trytond.modules.endpoint.isolation.run_isolated',
                side_effect=AssertionError('not inline')):
            self.assertServedNext()

    def test_sandbox_of_the_server_holds_nothing_of_it(self):
        "The server's sandbox has no database socket, file or variable"
        self.assertServedNext()
        sandboxes = sandbox_process.pool_for(MEMORY)._idle
        self.assertTrue(sandboxes)
        for sandbox in sandboxes:
            pid = sandbox.pid
            with open(f'/proc/{pid}/environ', 'rb') as environ:
                self.assertEqual(environ.read(), b'')
            for fd in os.listdir(f'/proc/{pid}/fd'):
                target = os.readlink(f'/proc/{pid}/fd/{fd}')
                self.assertTrue(target == '/dev/null'
                    or target.startswith('pipe:'), target)
