# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Caching by others and deprecation: the headers an endpoint's record
adds to its answers, and what saving refuses."""
import datetime as dt
import json
import unittest
from email.utils import parsedate_to_datetime

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint.definition import Definition
from trytond_endpoint.http.fields_check import check_http_fields
from trytond_endpoint.http.headers import lifecycle_headers

from .tools import EndpointRouteTestCase, bearer, define

PROBLEM = 'application/problem+json'


class HeadersTestCase(EndpointRouteTestCase):
    "Cache-Control, Deprecation and Sunset on the wire"

    def public(self, route, code="result['payload'] = {'ok': 1}", **values):
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.web_user)
        return define(route=route, code=code, **values)

    def test_cache_control_public(self):
        "A public endpoint's successful GET may be kept by shared caches"
        self.public('/cached', cache_max_age=300)
        response = self.client().get(self.url('/cached'))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Cache-Control'],
            'public, max-age=300')
        self.assertIn('Accept-Language', response.headers['Vary'])
        head = self.client().head(self.url('/cached'))
        self.assertEqual(head.headers['Cache-Control'],
            'public, max-age=300')

    def test_cache_control_private(self):
        "An endpoint with credentials is kept by the caller's cache only"
        define(route='/mine', code="result['payload'] = [user.id]",
            cache_max_age=60)
        response = self.client().get(self.url('/mine'),
            headers=bearer(self.alice_key))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.headers['Cache-Control'],
            'private, max-age=60')
        # Refused answers are not to be kept.
        refused = self.client().get(self.url('/mine'))
        self.assertEqual(refused.status_code, 401)
        self.assertNotIn('Cache-Control', refused.headers)

    def test_no_cache_control(self):
        "Without cache_max_age, or on errors and writes: no Cache-Control"
        self.public('/plain')
        self.assertNotIn('Cache-Control',
            self.client().get(self.url('/plain')).headers)
        self.public('/failing', "raise exceptions.Conflict('no')",
            cache_max_age=300)
        response = self.client().get(self.url('/failing'))
        self.assertEqual(response.status_code, 409)
        self.assertNotIn('Cache-Control', response.headers)
        self.public('/written', method='POST',
            content_type='application/json', cache_max_age=300)
        response = self.client().post(self.url('/written'), json={})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertNotIn('Cache-Control', response.headers)

    def test_snippet_cache_control_kept(self):
        "A snippet's own Cache-Control wins"
        self.public('/own',
            "result['response'] = Response({'a': 1}, "
            "headers={'Cache-Control': 'no-store'})", cache_max_age=300)
        response = self.client().get(self.url('/own'))
        self.assertEqual(response.headers['Cache-Control'], 'no-store')

    def test_deprecation_and_sunset(self):
        "RFC 9745 Deprecation and RFC 8594 Sunset on every answer"
        self.public('/old', deprecation=dt.date(2026, 1, 1),
            sunset=dt.date(2027, 6, 30))
        for path in ['/old', '/old?x=1']:
            response = self.client().get(self.url(path))
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.headers['Deprecation'],
                '@' + str(int(dt.datetime(2026, 1, 1,
                            tzinfo=dt.timezone.utc).timestamp())))
            self.assertEqual(
                parsedate_to_datetime(response.headers['Sunset']),
                dt.datetime(2027, 6, 30, tzinfo=dt.timezone.utc))
        self.public('/old-fail', "raise exceptions.BadRequest('gone')",
            deprecation=dt.date(2026, 1, 1))
        response = self.client().get(self.url('/old-fail'))
        self.assertEqual(response.status_code, 400)
        self.assertIn('Deprecation', response.headers)
        self.assertNotIn('Sunset', response.headers)
        self.public('/current')
        response = self.client().get(self.url('/current'))
        self.assertNotIn('Deprecation', response.headers)
        self.assertNotIn('Sunset', response.headers)

    def test_openapi_deprecated(self):
        "The OpenAPI document marks a deprecated endpoint"
        self.public('/doc-old', deprecation=dt.date(2026, 1, 1))
        self.public('/doc-new')
        doc = json.loads(self.client().get(
                self.url('/openapi.json')).data)
        self.assertIs(doc['paths']['/doc-old']['get']['deprecated'], True)
        self.assertNotIn('deprecated', doc['paths']['/doc-new']['get'])
        headers = doc['paths']['/doc-old']['get']['responses']['200'][
            'headers']
        self.assertIn('Deprecation', headers)

    def test_save_refused(self):
        "A sunset before the deprecation or a negative age is refused"
        for values in [
                {'deprecation': dt.date(2026, 5, 1),
                    'sunset': dt.date(2026, 4, 1)},
                {'cache_max_age': -1},
                ]:
            with self.subTest(values), \
                    Transaction().start(DB_NAME, 0) as transaction:
                Endpoint = Pool().get('endpoint.endpoint')
                with self.assertRaises(Exception) as context:
                    Endpoint.create([dict(name='bad', route='/bad',
                                auth='public', exec_user=self.web_user,
                                **values)])
                self.assertNotIn('Traceback', str(context.exception))
                transaction.rollback()


class HeaderValuesTestCase(unittest.TestCase):
    "The values, without a database"

    def test_lifecycle_headers(self):
        self.assertEqual(lifecycle_headers('1970-01-02', None),
            {'Deprecation': '@86400'})
        self.assertEqual(lifecycle_headers(None, '2018-12-31'),
            {'Sunset': 'Mon, 31 Dec 2018 00:00:00 GMT'})

    def test_checks(self):
        base = dict(id=1, name='n', route='/r', auth='public', exec_user=2)
        for values, field in [
                ({'rate_limit': 10}, 'rate_period'),
                ({'rate_period': 10}, 'rate_limit'),
                ({'rate_limit': 0, 'rate_period': 1}, 'rate_limit'),
                ({'cors_origins': 'https://a.example/path'}, 'cors_origins'),
                ({'cors_origins': 'a.example'}, 'cors_origins'),
                ({'cors_origins': '*', 'auth': 'user'}, 'cors_origins'),
                ({'cache_max_age': -5}, 'cache_max_age'),
                ({'deprecation': '2026-02-01', 'sunset': '2026-01-01'},
                    'sunset'),
                ]:
            with self.subTest(values):
                errors = check_http_fields(Definition(**{**base, **values}))
                self.assertIn(field, [f for f, _ in errors])
        self.assertEqual(check_http_fields(Definition(**base,
                    rate_limit=5, rate_period=60,
                    cors_origins='https://a.example\nhttp://b.example:8080\n*',
                    cache_max_age=0, deprecation='2026-01-01',
                    sunset='2026-01-01')), [])
