# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Hostile requests: each a fast 4xx problem+json, never a 500 or a body
read before its refusal.

The engine's HTTP input (``trytond_endpoint/http``) is tested without a
database first, then the mount through Tryton's WSGI application.
"""
import base64
import io
import json
import logging
import unittest

from trytond.protocols.jsonrpc import JSONDecoder
from trytond.tests.test_tryton import DB_NAME
from trytond.wsgi import app
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from trytond_endpoint.content import charset_of
from trytond_endpoint.http.body import read_body
from trytond_endpoint.http.context import parse_context
from trytond_endpoint.http.cors import ORIGIN_KEY
from trytond_endpoint.http.credentials import check_credentials
from trytond_endpoint.http.guard import MountGuard
from trytond_endpoint.jsonbody import loads
from trytond_endpoint.problem import Problem

from .tools import EndpointRouteTestCase, basic, bearer, define

PROBLEM = 'application/problem+json'
DEEP = '[' * 3000 + ']' * 3000


def b64(text):
    return base64.b64encode(text.encode()).decode()


def context_header(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


# Tryton-JSON objects that do not decode, and languages that are none.
BAD_CONTEXTS = {
    'deep': '{"a": %s}' % DEEP,
    'datetime fields missing': '{"d": {"__class__": "datetime", "year": 1}}',
    'bad Decimal': '{"d": {"__class__": "Decimal", "decimal": "x"}}',
    'timedelta overflow': '{"d": {"__class__": "timedelta", "seconds": 1e300}}',
    'bytes from int': '{"d": {"__class__": "bytes", "base64": 5}}',
    'language int': '{"language": 5}',
    'language list': '{"language": ["en"]}',
    'language CR/LF': '{"language": "en\\r\\nX-Evil: 1"}',
    'huge number': '{"n": 1e999}',
    'not an object': '[1]',
    }


class Exploding(io.RawIOBase):
    "A body stream that records and refuses any read"
    def __init__(self):
        super().__init__()
        self.reads = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        self.reads += 1
        raise AssertionError("the body was read")


class BodyTestCase(unittest.TestCase):
    "read_body(): the limit, however the body is framed"

    def environ(self, data, length=True, chunked=False):
        environ = {'wsgi.input': io.BytesIO(data)}
        if length:
            environ['CONTENT_LENGTH'] = str(len(data))
        if chunked:
            environ['HTTP_TRANSFER_ENCODING'] = 'chunked'
        return environ

    def status(self, environ, limit):
        with self.assertRaises(Problem) as caught:
            read_body(environ, limit)
        return caught.exception.status

    def test_chunked_over_limit(self):
        "A chunked body over the limit 413, not cut at the limit"
        self.assertEqual(self.status(
                self.environ(b'x' * 3000, length=False, chunked=True),
                2000), 413)
        self.assertEqual(read_body(
                self.environ(b'x' * 2000, length=False, chunked=True),
                2000), b'x' * 2000)

    def test_declared_over_limit_not_read(self):
        "A declared size over the limit 413 before a byte is read"
        environ = {'wsgi.input': Exploding(), 'CONTENT_LENGTH': '50000000'}
        self.assertEqual(self.status(environ, 1000), 413)

    def test_truncated(self):
        "A body shorter than its Content-Length 400"
        environ = self.environ(b'abc')
        environ['CONTENT_LENGTH'] = '10'
        self.assertEqual(self.status(environ, 1000), 400)

    def test_bad_length(self):
        environ = self.environ(b'abc')
        environ['CONTENT_LENGTH'] = '1e3'
        self.assertEqual(self.status(environ, 1000), 400)


class HeaderTestCase(unittest.TestCase):
    "Headers checked for shape: 400 naming the header, never a 500"

    def test_bad_contexts(self):
        decoder = JSONDecoder()
        for name, text in BAD_CONTEXTS.items():
            with self.subTest(name):
                with self.assertRaises(Problem) as caught:
                    parse_context(context_header(text), decoder)
                self.assertEqual(caught.exception.status, 400)
                self.assertIn('X-Tryton-Context', caught.exception.detail)

    def test_good_context(self):
        context = parse_context(context_header(json.dumps(
                    {'language': 'pt_BR', '_check_access': False,
                        'user': 1, 'company': 1})), JSONDecoder())
        self.assertEqual(context, {'language': 'pt_BR', 'company': 1})

    def test_credentials(self):
        for name, environ in {
                'session id': {'HTTP_AUTHORIZATION':
                    'Session ' + b64(f'admin:{10 ** 30}:token')},
                'cookie id': {'HTTP_COOKIE':
                    f'tryton_session=admin:{10 ** 30}:token'},
                'cookie id beyond int()': {'HTTP_COOKIE':
                    f'tryton_session=admin:{"9" * 5000}:token'},
                'basic NUL': {'HTTP_AUTHORIZATION':
                    'Basic ' + b64('admin\x00:secret')},
                'basic NUL password': {'HTTP_AUTHORIZATION':
                    'Basic ' + b64('admin:se\x00cret')},
                }.items():
            with self.subTest(name):
                with self.assertRaises(Problem) as caught:
                    check_credentials(environ)
                self.assertEqual(caught.exception.status, 400)
        check_credentials({'HTTP_AUTHORIZATION': 'Basic ' + b64('a:b'),
                'HTTP_COOKIE': 'tryton_session=admin:1:token'})

    def test_charset_not_text(self):
        for charset in ['base64', 'rot13', 'zlib', 'hex', 'uu']:
            with self.subTest(charset):
                with self.assertRaises(Problem) as caught:
                    charset_of({'charset': charset})
                self.assertEqual(caught.exception.status, 400)
        self.assertEqual(charset_of({'charset': 'Latin-1'}), 'iso8859-1')

    def test_numbers_beyond_float(self):
        for text in ['1e999999', '{"a": 1e999}', '[-1e400]']:
            with self.subTest(text):
                with self.assertRaises(Problem) as caught:
                    loads(text)
                self.assertEqual(caught.exception.status, 400)
        self.assertEqual(loads('[1.5e3]'), [1500.0])


class GuardTestCase(unittest.TestCase):
    "The mount's guard, in front of an application"

    def setUp(self):
        self.reached = []

        def app(environ, start_response):
            self.reached.append(environ)
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [b'ok']
        self.guard = MountGuard(app, 'api', cors=lambda: ['https://ok.example'])

    def call(self, path='/db/api/x', **environ):
        environ = {'PATH_INFO': path, 'REQUEST_METHOD': 'GET',
            'HTTP_HOST': 'shop.example', 'wsgi.input': io.BytesIO(),
            **environ}
        answer = {}

        def start_response(status, headers):
            answer['status'] = int(status.split()[0])
            answer['headers'] = dict(headers)
        body = b''.join(self.guard(environ, start_response))
        return answer['status'], answer['headers'], body

    def test_origins(self):
        "Origins Tryton refuses are hidden from it, kept for the endpoint"
        for origin, kept in [('https://evil.example', 'https://evil.example'),
                ('null', 'null'), ('moz-extension://abc', 'null'),
                ('https://ok.example', None), ('http://shop.example', None)]:
            with self.subTest(origin):
                code, _, _ = self.call(HTTP_ORIGIN=origin)
                self.assertEqual(code, 200)
                environ = self.reached.pop()
                self.assertEqual(environ.get(ORIGIN_KEY), kept)
                self.assertEqual(environ.get('HTTP_ORIGIN'),
                    None if kept else origin)

    def test_host(self):
        code, headers, body = self.call(HTTP_HOST='h' * 8000)
        self.assertEqual(code, 400)
        self.assertEqual(headers['Content-Type'], PROBLEM)
        self.assertIn('Host', json.loads(body)['detail'])

    def test_other_paths_untouched(self):
        "Tryton's own routes see the request as it came"
        stream = io.BytesIO(b'{}')
        code, _, _ = self.call('/db/other', HTTP_ORIGIN='null',
            **{'wsgi.input': stream})
        self.assertEqual(code, 200)
        self.assertIs(self.reached[0]['wsgi.input'], stream)

    def test_body_kept_for_the_mount(self):
        "What reads wsgi.input finds it empty; the mount's reader the body"
        stream = io.BytesIO(b'{"a": 1}')
        self.call(CONTENT_LENGTH='8', **{'wsgi.input': stream})
        environ, = self.reached
        self.assertEqual(environ['wsgi.input'].read(), b'')
        self.assertEqual(read_body(environ, 100), b'{"a": 1}')


class HostileRouteTestCase(EndpointRouteTestCase):
    "Hostile requests to the mount, through Tryton's application"

    def assertProblem(self, response, status, mentions=None):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        body = json.loads(response.data)
        self.assertEqual(body['status'], status)
        if mentions:
            self.assertIn(mentions, json.dumps(body))
        return body

    def open_raw(self, path, stream, length=None, method='POST',
            headers=None):
        "A request whose body stream and Content-Length are as given"
        builder = EnvironBuilder(path=self.url(path), method=method,
            headers=headers)
        environ = builder.get_environ()
        builder.close()
        environ.pop('CONTENT_LENGTH', None)
        if length is not None:
            environ['CONTENT_LENGTH'] = str(length)
        environ['wsgi.input'] = stream
        app_iter, status, headers = run_wsgi_app(app, environ)
        try:
            body = b''.join(app_iter)
        finally:
            getattr(app_iter, 'close', lambda: None)()
        return Response(body, status, headers)

    def public(self, route, code="result['payload'] = {'ok': True}",
            **values):
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.web_user)
        return define(route=route, code=code, **values)

    def test_no_body_needs_no_content_type(self):
        "A POST without body nor Content-Type is an empty body, not 415"
        self.public('/press', method='POST',
            content_type='application/json',
            code="result['payload'] = {'json': request.json, "
            "'data': len(request.data)}")
        response = self.client().post(self.url('/press'))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {'json': None, 'data': 0})
        # A schema may refuse the empty body: 400, never 415.
        self.public('/press-schema', method='POST',
            content_type='application/json',
            request_schema='{"type": "object"}')
        self.assertProblem(
            self.client().post(self.url('/press-schema')), 400)

    def test_bad_context(self):
        self.public('/ctx')
        for name, text in BAD_CONTEXTS.items():
            with self.subTest(name):
                self.assertProblem(self.client().get(self.url('/ctx'),
                        headers={'X-Tryton-Context': context_header(text)}),
                    400, 'X-Tryton-Context')

    def test_huge_session_user_id(self):
        "A session whose user id no database holds: 400, not a 500"
        define(route='/me', auth='user', code="result['payload'] = 1")
        session = b64(f'alice:{10 ** 30}:token')
        self.assertProblem(self.client().get(self.url('/me'),
                headers={'Authorization': f'Session {session}'}),
            400, 'Authorization')
        client = self.client()
        client.set_cookie('tryton_session', f'alice:{10 ** 30}:token')
        self.assertProblem(client.get(self.url('/me')), 400, 'Cookie')

    def test_basic_login_with_nul(self):
        define(route='/me-nul', auth='user', code="result['payload'] = 1")
        self.assertProblem(self.client().get(self.url('/me-nul'),
                headers={'Authorization': 'Basic ' + b64('alice\x00:x')}),
            400, 'Authorization')
        # A good login still works.
        response = self.client().get(self.url('/me-nul'),
            headers=basic('alice'))
        self.assertEqual(response.status_code, 200, response.data)

    def test_numbers_beyond_float(self):
        self.public('/num', method='POST', content_type='application/json',
            code="result['payload'] = {'json': request.json}")
        for body in [b'1e999999', b'{"a": 1e999}']:
            with self.subTest(body):
                self.assertProblem(self.client().post(self.url('/num'),
                        data=body, content_type='application/json'), 400)

    def test_charset_not_text(self):
        for route, content_type, body in [
                ('/cs-json', 'application/json', b'{}'),
                ('/cs-text', 'text/plain', b'abc'),
                ('/cs-xml', 'application/xml', b'<a/>')]:
            self.public(route, method='POST', content_type=content_type,
                code="result['payload'] = {'text': request.text}")
            for charset in ['base64', 'rot13', 'zlib', 'hex', 'uu']:
                with self.subTest(route=route, charset=charset):
                    self.assertProblem(self.client().post(self.url(route),
                            data=body,
                            content_type=f'{content_type}; charset={charset}'),
                        400, 'charset')

    def test_broken_multipart(self):
        "A truncated multipart body, or one without boundary: 400"
        self.public('/up', method='POST', content_type='multipart/form-data',
            code="result['payload'] = {'form': dict(request.form)}")
        part = (b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
            b'hello\r\n--xx\r\nContent-Disposition: form-data; name="b"'
            b'\r\n\r\nwor')
        self.assertProblem(self.client().post(self.url('/up'), data=part,
                content_type='multipart/form-data; boundary=xx'), 400)
        self.assertProblem(self.client().post(self.url('/up'),
                data=part + b'ld\r\n--xx--\r\n',
                content_type='multipart/form-data'), 400)
        response = self.client().post(self.url('/up'),
            data=part + b'ld\r\n--xx--\r\n',
            content_type='multipart/form-data; boundary=xx')
        self.assertEqual(json.loads(response.data),
            {'form': {'a': 'hello', 'b': 'world'}})

    def test_form_fields_bounded(self):
        self.public('/fields', method='POST',
            content_type='application/x-www-form-urlencoded',
            code="result['payload'] = {'n': len(request.form)}")
        self.assertProblem(self.client().post(self.url('/fields'),
                data=b'&'.join(b'f%d=' % i for i in range(5000)),
                content_type='application/x-www-form-urlencoded'),
            400, 'form fields')

    def test_chunked_over_limit(self):
        "A chunked body over the limit 413, as with a Content-Length"
        self.public('/chunks', method='POST', content_type='text/plain',
            max_body_size=1000,
            code="result['payload'] = {'n': len(request.data)}")
        for size, status in [(1001, 413), (1000, 200)]:
            with self.subTest(size=size):
                response = self.open_raw('/chunks', io.BytesIO(b'x' * size),
                    headers={'Content-Type': 'text/plain',
                        'Transfer-Encoding': 'chunked'})
                self.assertEqual(response.status_code, status, response.data)

    def test_get_body_limited(self):
        "A body sent with a GET is bounded like any other"
        self.public('/get-small', max_body_size=10)
        response = self.open_raw('/get-small', io.BytesIO(b'x' * 11), 11,
            method='GET')
        self.assertProblem(response, 413)
        response = self.open_raw('/get-small', io.BytesIO(b'x' * 10), 10,
            method='GET')
        self.assertEqual(response.status_code, 200, response.data)

    def test_module_body_limit(self):
        "[endpoint] max_body_size bounds every endpoint, authenticated too"
        define(route='/big', method='POST', auth='application',
            content_type='text/plain', code="result['payload'] = 1")
        stream = Exploding()
        response = self.open_raw('/big', stream, 10 * 2 ** 20 + 1,
            headers={'Content-Type': 'text/plain', **bearer(self.alice_key)})
        self.assertProblem(response, 413)
        self.assertEqual(stream.reads, 0)

    def test_refused_before_the_body_is_read(self):
        "401, 404, 405, 415 and 413 without reading the body, at INFO"
        logger = logging.getLogger('trytond.wsgi')
        level = logger.level
        logger.setLevel(logging.INFO)
        self.addCleanup(logger.setLevel, level)
        define(route='/keyed', method='POST', auth='application',
            content_type='application/json', code="result['payload'] = 1")
        self.public('/open', method='POST', content_type='application/json')
        self.public('/plain', method='POST', content_type='text/plain')
        for name, method, path, headers, status in [
                ('bad key', 'POST', '/keyed', bearer('wrong'), 401),
                ('unknown path', 'POST', '/nowhere', {}, 404),
                ('method', 'PUT', '/open', {}, 405),
                ('type', 'POST', '/plain', {}, 415),
                ('size', 'POST', '/open', {}, 413),
                ('size, expecting 100-continue', 'POST', '/open',
                    {'Expect': '100-continue'}, 413),
                ]:
            with self.subTest(name):
                stream = Exploding()
                with self.assertLogs('trytond.wsgi', logging.INFO):
                    response = self.open_raw(path, stream,
                        100 if status == 415 else 50 * 2 ** 20,
                        method=method, headers={
                            'Content-Type': 'application/json', **headers})
                self.assertProblem(response, status)
                self.assertEqual(stream.reads, 0)

    def test_origins(self):
        "Foreign or null origins: 403 problem+json, not a 500 page"
        self.public('/orig')
        for origin in ['https://evil.example', 'null']:
            with self.subTest(origin):
                self.assertProblem(self.client().get(self.url('/orig'),
                        headers={'Origin': origin}), 403)
        response = self.client().get(self.url('/orig'),
            headers={'Origin': 'http://localhost'})
        self.assertEqual(response.status_code, 200)

    def test_huge_host(self):
        self.public('/hosted')
        self.assertProblem(self.client().get(self.url('/hosted'),
                headers={'Host': 'h' * 8000}), 400, 'Host')

    def test_openapi_not_kept_per_host(self):
        "The document follows the Host, without a copy kept for each"
        from trytond.modules.endpoint.pipeline import live_map
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        self.public('/doc')
        for index in range(20):
            response = self.client().get(self.url('/openapi.json'),
                headers={'Host': f'h{index}.example'})
            self.assertEqual(json.loads(response.data)['servers'][0]['url'],
                f'http://h{index}.example/{DB_NAME}/api')
        with Transaction().start(DB_NAME, 0):
            live = live_map(Pool(DB_NAME))
        self.assertLessEqual(
            sum(1 for key in live.cache if key[0] == 'openapi'), 1)


class RestHostileTestCase(EndpointRouteTestCase):
    "The seed REST with parameters no database holds"

    def get(self, query='', headers=None):
        return self.client().get(
            self.url('/rest/model/party.party') + query,
            headers={**bearer(self.alice_key), **(headers or {})})

    def test_too_large_for_the_database(self):
        for name, query, headers in [
                ('s', f'?s={2 ** 63}', None),
                ('p', f'?p={10 ** 30}', None),
                ('Range', '', {'Range': 'records=0-99999999999999999999'}),
                ]:
            with self.subTest(name):
                response = self.get(query, headers)
                self.assertEqual(response.status_code, 400, response.data)
                self.assertEqual(response.mimetype, PROBLEM)

    def test_bad_domain(self):
        def encoded(value):
            return base64.urlsafe_b64encode(value.encode()).decode()
        for name, domain in [
                ('bytes from int',
                    '[["name", "=", {"__class__": "bytes", "base64": 5}]]'),
                ('nested', DEEP),
                ]:
            with self.subTest(name):
                response = self.get('?d=' + encoded(domain))
                self.assertEqual(response.status_code, 400, response.data)
                self.assertEqual(response.mimetype, PROBLEM)
                self.assertIn('d', json.dumps(json.loads(response.data)))
