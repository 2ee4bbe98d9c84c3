# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What a snippet sees of the query string, and what its answer may
carry on the wire."""
import json

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, define

PROBLEM = 'application/problem+json'
SERVE_LOG = 'trytond.modules.endpoint.pipeline'
# Framing and hop-by-hop headers (DESIGN, HTTP)
SERVER_HEADERS = [
    ('Content-Length', '5'), ('Transfer-Encoding', 'chunked'),
    ('Connection', 'close'), ('Keep-Alive', 'timeout=5'), ('TE', 'trailers'),
    ('Trailer', 'Expires'), ('Upgrade', 'websocket'),
    ('Proxy-Authenticate', 'Basic'), ('proxy-connection', 'keep-alive'),
    ('transfer-encoding', 'chunked'),
    ]
# The two ways a snippet sets headers; the test sends them as ?h=<JSON>.
WAYS = {
    'Response': "result['response'] = Response('hello', "
        "headers=json.loads(request.args['h']))",
    'result': "result['payload'] = 'hello'\n"
        "result['headers'] = json.loads(request.args['h'])",
    }


class QueryArgsTestCase(EndpointRouteTestCase):
    "request.args keeps repeated parameters"

    def public(self, route, code, **values):
        return define(route=route, code=code, auth='public',
            exec_user=self.web_user, **values)

    def test_repeated_parameter(self):
        "?q=1&q=2: args['q'] is the first, getlist('q') both"
        self.public('/args', "result['payload'] = {"
            "'first': request.args['q'], 'get': request.args.get('q'), "
            "'all': request.args.getlist('q'), "
            "'one': request.args.getlist('one'), "
            "'none': request.args.getlist('none'), "
            "'dict': dict(request.args)}")
        response = self.client().get(self.url('/args?q=1&q=2&one=x'))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {
                'first': '1', 'get': '1', 'all': ['1', '2'], 'one': ['x'],
                'none': [], 'dict': {'q': '1', 'one': 'x'}})

    def test_array_of_query_schema(self):
        "An array of the query schema is the value; getlist its items"
        self.public('/ids', "result['payload'] = {"
            "'value': request.args['ids'], "
            "'items': request.args.getlist('ids'), "
            "'limit': request.args.getlist('limit'), "
            "'payload': request.args.to_dict()}",
            query_schema=json.dumps({'type': 'object', 'properties': {
                        'ids': {'type': 'array',
                            'items': {'type': 'integer'}},
                        'limit': {'type': 'integer', 'default': 10}}}))
        response = self.client().get(self.url('/ids?ids=1&ids=2'))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {
                'value': [1, 2], 'items': [1, 2], 'limit': [10],
                'payload': {'ids': [1, 2], 'limit': 10}})


class AnswerHeadersTestCase(EndpointRouteTestCase):
    "A snippet's answer carries no header that is the server's"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for way, code in WAYS.items():
            define(route=f'/answer/{way}', code=code, auth='public',
                exec_user=cls.web_user)

    def answer(self, way, headers):
        return self.client().get(self.url(f'/answer/{way}'),
            query_string={'h': json.dumps(headers)})

    def assertRefused(self, way, headers, *names):
        "500 problem+json with an error id; the logs name the header"
        with self.assertLogs(SERVE_LOG, 'ERROR') as logs:
            response = self.answer(way, headers)
        self.assertEqual(response.status_code, 500, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        body = json.loads(response.data)
        log = '\n'.join(logs.output)
        self.assertIn(body['error_id'], log)
        with Transaction().start(DB_NAME, 0):
            Log = Pool().get('endpoint.log')
            entry, = Log.search([('request_id', '=', body['error_id'])])
            self.assertEqual(entry.level, 'error')
            message = entry.message
        for name in names:
            self.assertIn(name, log)
            self.assertIn(name, message)
            self.assertNotIn(name, body['detail'])
        return response

    def test_framing_and_hop_by_hop(self):
        "Content-Length, Transfer-Encoding, Connection, Proxy-*…: 500"
        for way in WAYS:
            for name, value in SERVER_HEADERS:
                with self.subTest(way=way, header=name):
                    response = self.assertRefused(way, {name: value}, name)
                    self.assertNotEqual(response.headers.get(name), value)

    def test_desynchronising_pair(self):
        "Content-Length with Transfer-Encoding: chunked is refused"
        headers = {'Content-Length': '3', 'Transfer-Encoding': 'chunked'}
        for way in WAYS:
            with self.subTest(way=way):
                response = self.assertRefused(way, headers)
                self.assertNotIn('Transfer-Encoding', response.headers)

    def test_cr_lf(self):
        "A CR or LF in a header name or value is refused"
        for way in WAYS:
            for headers in [
                    {'X-Split': 'a\r\nSet-Cookie: tryton_session=x'},
                    {'X-Split': 'a\nb'}, {'X-A\r\nB': 'c'}]:
                with self.subTest(way=way, headers=headers):
                    response = self.assertRefused(way, headers)
                    self.assertNotIn('Set-Cookie', response.headers)

    def test_session_cookie(self):
        "No Set-Cookie for Tryton's session, whatever its path"
        for way in WAYS:
            for cookie in [
                    'tryton_session=abc; Path=/',
                    f'tryton_session=abc; Path=/{self.db_name}/api',
                    'Tryton_Session=abc', 'TRYTON=abc; HttpOnly']:
                with self.subTest(way=way, cookie=cookie):
                    response = self.assertRefused(
                        way, {'Set-Cookie': cookie}, 'Set-Cookie')
                    self.assertNotIn('Set-Cookie', response.headers)

    def test_cookie_path_outside_mount(self):
        "A cookie's Path outside /<db>/api is refused"
        mount = f'/{self.db_name}/api'
        for way in WAYS:
            for cookie in [
                    'cart=1; Path=/', 'cart=1; path=/other',
                    f'cart=1; Path={mount}x', f'cart=1; Path=/{self.db_name}',
                    f'cart=1; Secure; PATH = {mount}2/']:
                with self.subTest(way=way, cookie=cookie):
                    response = self.assertRefused(
                        way, {'Set-Cookie': cookie}, 'Set-Cookie')
                    self.assertNotIn('Set-Cookie', response.headers)

    def test_cookie_inside_mount(self):
        "A cookie of the mount, or with no Path, is answered"
        mount = f'/{self.db_name}/api'
        for way in WAYS:
            for cookie in [
                    f'cart=1; Path={mount}', f'cart=1; Path={mount}/shop',
                    'cart=1; HttpOnly', 'session=1; Path=' + mount]:
                with self.subTest(way=way, cookie=cookie):
                    response = self.answer(way, {'Set-Cookie': cookie})
                    self.assertEqual(response.status_code, 200,
                        response.data)
                    self.assertEqual(response.headers['Set-Cookie'], cookie)
                    self.assertEqual(response.data, b'hello')
