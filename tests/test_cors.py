# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""CORS per endpoint, composed with Tryton's ``[web] cors``."""
from trytond import config
from werkzeug.exceptions import Forbidden

from .tools import EndpointRouteTestCase, bearer, define

PROBLEM = 'application/problem+json'
SHOP = 'https://shop.example'


class CorsTestCase(EndpointRouteTestCase):
    "Origins allowed by the endpoint's record, through Tryton's application"

    def public(self, route, code="result['payload'] = {'ok': 1}", **values):
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.web_user)
        return define(route=route, code=code, **values)

    def get(self, path, origin, **headers):
        return self.client().get(self.url(path),
            headers={'Origin': origin, **headers})

    def preflight(self, path, origin, method, headers=None):
        request = {'Origin': origin, 'Access-Control-Request-Method': method}
        if headers:
            request['Access-Control-Request-Headers'] = headers
        return self.client().open(self.url(path), method='OPTIONS',
            headers=request)

    def assertRefused(self, response):
        self.assertEqual(response.status_code, 403, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        self.assertNotIn('Access-Control-Allow-Origin', response.headers)

    def test_listed_origin(self):
        "A listed origin is answered with CORS headers; others refused"
        self.public('/shop/items', cors_origins=f'{SHOP}\nhttp://b.example')
        response = self.get('/shop/items', SHOP)
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'],
            SHOP)
        self.assertIn('Origin', response.headers['Vary'])
        self.assertIn('X-Request-Id'.lower(), response.headers[
                'Access-Control-Expose-Headers'].lower())
        # Browsers send the origin in lower case; the list is read so too.
        self.assertEqual(self.get('/shop/items',
                'http://b.example').status_code, 200)
        self.assertRefused(self.get('/shop/items', 'https://evil.example'))
        # Another endpoint does not share the list.
        self.public('/shop/other')
        self.assertRefused(self.get('/shop/other', SHOP))
        # Nor does the mount's own documentation.
        self.assertRefused(self.get('/openapi.json', SHOP))

    def test_preflight_from_the_record(self):
        "The preflight is answered from the endpoint of the asked method"
        self.public('/orders', method='POST',
            content_type='application/json', cors_origins=SHOP)
        self.public('/orders', code="result['payload'] = []")
        response = self.preflight('/orders', SHOP, 'POST',
            'Content-Type, X-Tryton-Context')
        self.assertEqual(response.status_code, 204, response.data)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'],
            SHOP)
        self.assertEqual(response.headers['Access-Control-Allow-Methods'],
            'POST')
        self.assertEqual(response.headers['Access-Control-Allow-Headers'],
            'Content-Type, X-Tryton-Context')
        self.assertTrue(int(response.headers['Access-Control-Max-Age']) > 0)
        # The GET of the same path does not list the origin.
        self.assertRefused(self.preflight('/orders', SHOP, 'GET'))
        self.assertRefused(self.preflight('/orders', SHOP, 'DELETE'))
        self.assertRefused(self.preflight('/orders', 'https://evil.example',
                'POST'))
        # A header list that is no list of names is not echoed.
        response = self.preflight('/orders', SHOP, 'POST', 'a\x7fb')
        self.assertEqual(response.status_code, 204)
        self.assertNotIn('Access-Control-Allow-Headers', response.headers)
        response = self.client().post(self.url('/orders'), json={},
            headers={'Origin': SHOP})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'],
            SHOP)

    def test_any_origin(self):
        "* opens a public endpoint to every site"
        self.public('/catalog', cors_origins='*')
        for origin in [SHOP, 'https://elsewhere.example']:
            response = self.get('/catalog', origin)
            self.assertEqual(response.status_code, 200, response.data)
            self.assertEqual(
                response.headers['Access-Control-Allow-Origin'], '*')
        response = self.preflight('/catalog', SHOP, 'GET')
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'], '*')
        # * is not the null origin.
        self.assertRefused(self.get('/catalog', 'null'))

    def test_null_origin(self):
        "allow_null_origin answers pages without an origin"
        self.public('/nullable', allow_null_origin=True)
        response = self.get('/nullable', 'null')
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'],
            'null')
        # As Tryton, a browser extension is a null origin.
        self.assertEqual(self.get('/nullable',
                'moz-extension://abc').status_code, 200)
        self.public('/not-nullable')
        self.assertRefused(self.get('/not-nullable', 'null'))

    def test_errors_readable_by_the_site(self):
        "An allowed site's script can read the problem of a refusal"
        define(route='/keyed', code="result['payload'] = [user.id]",
            cors_origins=SHOP)
        response = self.get('/keyed', SHOP)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'],
            SHOP)
        response = self.get('/keyed', SHOP, **bearer(self.alice_key))
        self.assertEqual(response.status_code, 200, response.data)

    def test_tryton_cors_composed(self):
        "[web] cors origins keep Tryton's answer on every endpoint"
        config.set('web', 'cors', 'https://tryton-wide.example')
        self.addCleanup(config.set, 'web', 'cors', '')
        self.public('/wide')
        self.public('/narrow', cors_origins=SHOP)
        for path in ['/wide', '/narrow']:
            response = self.get(path, 'https://tryton-wide.example')
            self.assertEqual(response.status_code, 200)
            self.assertEqual(
                response.headers['Access-Control-Allow-Origin'],
                'https://tryton-wide.example')
        self.assertEqual(self.get('/narrow', SHOP).status_code, 200)
        self.assertRefused(self.get('/wide', SHOP))
        # The request's own host needs no CORS at all.
        self.assertEqual(self.get('/wide', 'http://localhost').status_code,
            200)

    def test_other_routes_untouched(self):
        "Outside the mount Tryton decides, as before"
        # Tryton aborts before its error handling: the test client
        # raises what a server answers as an error page.
        with self.assertRaises(Forbidden):
            self.client().post(f'/{self.db_name}/',
                headers={'Origin': SHOP}, json={'method': 'common.version',
                    'params': []})
