# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import base64
import json
from unittest import mock

from trytond.modules.endpoint import auth
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import (
    PASSWORD,
    EndpointRouteTestCase,
    basic,
    bearer,
    change,
    define,
    state,
    sync,
    tryton_context,
)

PROBLEM = 'application/problem+json'


class RouteTestCase(EndpointRouteTestCase):
    "Serving endpoints over HTTP"

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        body = json.loads(response.data)
        self.assertEqual(body['status'], status)
        for key in ['type', 'title', 'detail']:
            self.assertIn(key, body)
        self.assertNotIn('Traceback', response.get_data(as_text=True))
        return body

    def public(self, route, code, **values):
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.web_user)
        return define(route=route, code=code, **values)

    def test_public_get(self):
        "A synced public GET answers JSON from its snippet"
        self.public('/hello/<name>',
            "result['payload'] = {'hello': request.path_params['name'],"
            " 'when': datetime.date(2026, 1, 2), 'n': Decimal('1.10')}")
        response = self.client().get(self.url('/hello/bob'))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.mimetype, 'application/json')
        self.assertEqual(response.data,
            b'{"hello":"bob","when":"2026-01-02","n":1.10}')

    def test_not_found(self):
        "Unknown path 404 problem"
        self.assertProblem(
            self.client().get(self.url('/no/such/thing')), 404)

    def test_unknown_database(self):
        "Unknown database 404"
        response = self.client().get('/no-such-db-x/api/hello')
        self.assertEqual(response.status_code, 404)

    def test_method_not_allowed(self):
        "Wrong method 405 with Allow"
        self.public('/only-get', "result['payload'] = 1")
        response = self.client().delete(self.url('/only-get'))
        self.assertProblem(response, 405)
        self.assertEqual(response.headers['Allow'], 'GET, HEAD, OPTIONS')

    def test_options(self):
        "OPTIONS answers Allow without running any snippet"
        self.public('/opt', "raise ValueError('ran')")
        self.public('/opt', "raise ValueError('ran')", method='POST',
            content_type='application/json')
        response = self.client().open(self.url('/opt'), method='OPTIONS')
        self.assertEqual(response.status_code, 204)
        self.assertEqual(
            response.headers['Allow'], 'GET, HEAD, OPTIONS, POST')

    def test_head(self):
        "HEAD is served by the GET record, without a body"
        self.public('/head', "result['payload'] = {'a': 1}")
        response = self.client().head(self.url('/head'))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.data, b'')

    def test_post_json_tolerant_content_type(self):
        "application/json with parameters and any case is accepted"
        self.public('/echo', "result['payload'] = request.json",
            method='POST', content_type='application/json')
        for content_type in ['application/json',
                'application/json; charset=utf-8', 'Application/JSON']:
            with self.subTest(content_type=content_type):
                response = self.client().post(self.url('/echo'),
                    data=b'{"a": [1, 2]}', content_type=content_type)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(json.loads(response.data), {'a': [1, 2]})

    def test_unsupported_media_type(self):
        "A body of another type 415"
        self.public('/echo415', "result['payload'] = request.json",
            method='POST', content_type='application/json')
        response = self.client().post(self.url('/echo415'),
            data=b'a=1', content_type='application/x-www-form-urlencoded')
        self.assertProblem(response, 415)

    def test_malformed_json(self):
        "Malformed JSON 400"
        self.public('/echo400', "result['payload'] = request.json",
            method='POST', content_type='application/json')
        response = self.client().post(self.url('/echo400'),
            data=b'{"a": ', content_type='application/json')
        self.assertProblem(response, 400)

    def test_schema_violation(self):
        "A schema violation 400 with pointers, snippet not run"
        self.public('/order', "result['payload'] = request.json",
            method='POST', content_type='application/json',
            request_schema=json.dumps({
                    'type': 'object', 'required': ['qty'],
                    'properties': {'qty': {'type': 'integer'}}}))
        response = self.client().post(self.url('/order'),
            data=b'{"qty": "x"}', content_type='application/json')
        body = self.assertProblem(response, 400)
        self.assertEqual(body['errors'][0]['pointer'], '/qty')

    def test_too_large(self):
        "A body over the endpoint's limit 413"
        self.public('/small', "result['payload'] = 1", method='POST',
            content_type='text/plain', max_body_size=10)
        response = self.client().post(self.url('/small'),
            data=b'x' * 11, content_type='text/plain')
        self.assertProblem(response, 413)
        response = self.client().post(self.url('/small'),
            data=b'x' * 10, content_type='text/plain')
        self.assertEqual(response.status_code, 200)

    def test_unexpected_error(self):
        "A crash 500 without internals, with an id in the log"
        self.public('/crash', "x = {}['missing']")
        with self.assertLogs('trytond.modules.endpoint.pipeline', 'ERROR') \
                as logs:
            response = self.client().get(self.url('/crash'))
        body = self.assertProblem(response, 500)
        self.assertNotIn('missing', body['detail'])
        self.assertIn(body['error_id'], '\n'.join(logs.output))

    def test_user_error(self):
        "A snippet's UserError 400 with its message"
        self.public('/usererror',
            "raise exceptions.UserError('Out of stock')")
        body = self.assertProblem(
            self.client().get(self.url('/usererror')), 400)
        self.assertEqual(body['detail'], 'Out of stock')

    def test_tryton_validation_error(self):
        "Tryton's ValidationError 400 with its message, nothing written"
        self.public('/badparty',
            "pool.get('party.party').create([{'name': 'Kept?'}])\n"
            "pool.get('party.address').create([{}])",
            method='POST', content_type='application/json')
        response = self.client().post(self.url('/badparty'),
            data=b'{}', content_type='application/json')
        body = self.assertProblem(response, 400)
        self.assertIn('Party', body['detail'])
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            self.assertFalse(Party.search([('name', '=', 'Kept?')]))

    def test_access_error(self):
        "Tryton's access rights 403"
        self.public('/sequence',
            "pool.get('party.category').create([{'name': 'x'}])",
            method='POST', content_type='application/json')
        response = self.client().post(self.url('/sequence'),
            data=b'{}', content_type='application/json')
        self.assertProblem(response, 403)

    def test_admin_model_refused(self):
        "Administration models are refused 403"
        self.public('/users', "result['payload'] = "
            "pool.get('res.user').search_read([], fields_names=['login'])")
        self.assertProblem(self.client().get(self.url('/users')), 403)

    def test_commit_and_rollback(self):
        "Normal end commits, an exception rolls back"
        self.public('/party-ok', "p, = pool.get('party.party').create("
            "[{'name': request.json['name']}])\n"
            "result['payload'] = {'id': p.id}\n"
            "if request.json.get('fail'):\n"
            "    raise exceptions.Conflict('no')",
            method='POST', content_type='application/json')
        response = self.client().post(self.url('/party-ok'),
            json={'name': 'Committed'})
        self.assertEqual(response.status_code, 200, response.data)
        response = self.client().post(self.url('/party-ok'),
            json={'name': 'Rolled back', 'fail': True})
        self.assertProblem(response, 409)
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            self.assertEqual(
                len(Party.search([('name', '=', 'Committed')])), 1)
            self.assertFalse(Party.search([('name', '=', 'Rolled back')]))

    def test_runs_as_exec_user(self):
        "A public endpoint runs as its exec user"
        self.public('/whoami', "result['payload'] = [user['login']]")
        response = self.client().get(self.url('/whoami'))
        self.assertEqual(json.loads(response.data), ['web'])

    def test_session_auth(self):
        "user auth: a Tryton session works like Basic"
        from trytond import security
        define(route='/me-session', auth='user',
            code="result['payload'] = [user.login]")
        user_id, session = security.login(
            DB_NAME, 'alice', {'password': PASSWORD})
        token = base64.b64encode(
            f'alice:{user_id}:{session}'.encode()).decode()
        response = self.client().get(self.url('/me-session'),
            headers={'Authorization': f'Session {token}'})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), ['alice'])
        bad = base64.b64encode(f'alice:{user_id}:nope'.encode()).decode()
        response = self.client().get(self.url('/me-session'),
            headers={'Authorization': f'Session {bad}'})
        self.assertProblem(response, 401)

    def test_xml_body(self):
        "XML bodies: XSD violations and hostile documents are 400"
        xsd = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
            '<xs:element name="order"><xs:complexType><xs:sequence>'
            '<xs:element name="qty" type="xs:positiveInteger"/>'
            '</xs:sequence></xs:complexType></xs:element></xs:schema>')
        self.public('/xml-order',
            "result['payload'] = {'qty': int(request.xml.findtext('qty'))}",
            method='POST', content_type='application/xml',
            request_schema=xsd)
        post = lambda body, ct='application/xml': self.client().post(  # noqa
            self.url('/xml-order'), data=body, content_type=ct)
        response = post(b'<order><qty>3</qty></order>',
            'text/xml; charset=utf-8')
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {'qty': 3})
        body = self.assertProblem(post(b'<order><qty>-1</qty></order>'), 400)
        self.assertIn('qty', body['errors'][0]['pointer'])
        laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz ['
            b'<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<order><qty>&lol2;</qty></order>')
        self.assertProblem(post(laughs), 400)
        xxe = (b'<?xml version="1.0"?><!DOCTYPE order ['
            b'<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<order><qty>&x;</qty></order>')
        body = self.assertProblem(post(xxe), 400)
        self.assertNotIn('root:', json.dumps(body))
        self.assertProblem(post(b'<order><qty>1</qty>'), 400)

    def test_cors_preflight(self):
        "A preflight from an allowed origin gets the CORS headers"
        from trytond import config
        config.set('web', 'cors', 'https://shop.example')
        self.addCleanup(config.set, 'web', 'cors', '')
        self.public('/cors', "result['payload'] = 1", method='POST',
            content_type='application/json')
        response = self.client().open(self.url('/cors'), method='OPTIONS',
            headers={'Origin': 'https://shop.example',
                'Access-Control-Request-Method': 'POST',
                'Access-Control-Request-Headers': 'Content-Type'})
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'],
            'https://shop.example')
        self.assertIn('POST', response.headers['Allow'])
        # Other origins are refused before any route, as problem+json.
        self.assertProblem(self.client().open(self.url('/cors'),
                method='OPTIONS', headers={'Origin': 'https://evil.example'}),
            403)

    def test_basic_auth(self):
        "user auth: Basic with a Tryton login, 401 otherwise"
        define(route='/me', auth='user',
            code="result['payload'] = [user.login]")
        response = self.client().get(self.url('/me'),
            headers=basic('alice'))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), ['alice'])
        for headers in [{}, basic('alice', 'wrong'), basic('nobody'),
                bearer(self.alice_key)]:
            with self.subTest(headers=headers):
                response = self.client().get(self.url('/me'),
                    headers=headers)
                self.assertProblem(response, 401)
                self.assertIn('Basic', response.headers['WWW-Authenticate'])

    def test_application_auth(self):
        "application auth: a validated endpoint key, 401 otherwise"
        define(route='/key', auth='application',
            code="result['payload'] = [user['login']]")
        for scheme in ['Bearer', 'bearer']:
            response = self.client().get(self.url('/key'),
                headers={'Authorization': f'{scheme} {self.alice_key}'})
            self.assertEqual(response.status_code, 200, response.data)
            self.assertEqual(json.loads(response.data), ['alice'])
        for headers in [{}, bearer('wrong'), bearer(self.rest_key),
                basic('alice')]:
            with self.subTest(headers=headers):
                response = self.client().get(self.url('/key'),
                    headers=headers)
                self.assertProblem(response, 401)
                self.assertIn(
                    'Bearer', response.headers['WWW-Authenticate'])

    def test_key_of_inactive_user_refused(self):
        "A key stops working when its user is deactivated"
        define(route='/key-inactive', auth='application',
            code="result['payload'] = [user.login]")
        with Transaction().start(DB_NAME, 0) as transaction:
            from .tools import make_key, make_user
            bob = make_user('bob')
            key = make_key(bob)
            transaction.commit()
        response = self.client().get(self.url('/key-inactive'),
            headers=bearer(key))
        self.assertEqual(response.status_code, 200, response.data)
        with Transaction().start(DB_NAME, 0) as transaction:
            User = Pool().get('res.user')
            User.write([User(bob.id)], {'active': False})
            transaction.commit()
        self.assertProblem(self.client().get(self.url('/key-inactive'),
                headers=bearer(key)), 401)

    def test_key_read_as_the_transaction_opens(self):
        "On PostgreSQL the key's user comes with the first read, no query"
        from trytond import backend
        define(route='/key-opening', auth='application',
            code="result['payload'] = [user['login']]")
        url = self.url('/key-opening')
        queries = []
        original = auth._key_query

        def counted(*args):
            queries.append(args)
            return original(*args)
        with mock.patch.object(auth, '_key_query', counted):
            response = self.client().get(url, headers=bearer(self.alice_key))
            self.assertEqual(response.status_code, 200, response.data)
            self.assertEqual(json.loads(response.data), ['alice'])
            # The query of its own, with the server's parameter style.
            own = [q for q in queries if q[2] != '$1']
            self.assertEqual(bool(own), backend.name != 'postgresql')
            # Keys no literal may hold are asked apart, and refused.
            for key in ["x' OR '1'='1", 'a' * 300, 'é', self.rest_key,
                    self.alice_key[:-1]]:
                with self.subTest(key=key):
                    self.assertProblem(self.client().get(url,
                            headers={'Authorization': f'Bearer {key}'}),
                        401)
        with Transaction().start(DB_NAME, 0) as transaction:
            Application = Pool().get('res.user.application')
            application, = Application.search(
                [('key', '=', self.alice_key)])
            Application.write([application], {'state': 'cancelled'})
            transaction.commit()
        try:
            self.assertProblem(self.client().get(url,
                    headers=bearer(self.alice_key)), 401)
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                Application.write([application], {'state': 'validated'})
                transaction.commit()

    def test_bad_credentials_never_run_snippet(self):
        "A refused caller never runs the code"
        define(route='/side-effect', auth='application', method='POST',
            content_type='application/json',
            code="pool.get('party.party').create([{'name': 'Side'}])")
        response = self.client().post(self.url('/side-effect'), json={},
            headers=bearer('wrong'))
        self.assertProblem(response, 401)
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            self.assertFalse(Party.search([('name', '=', 'Side')]))

    def test_headers_hide_credentials(self):
        "The snippet never sees Authorization or Cookie"
        define(route='/headers', auth='application',
            code="result['payload'] = sorted(request.headers.keys())")
        response = self.client().get(self.url('/headers'),
            headers={**bearer(self.alice_key), 'Cookie': 'a=b',
                'X-Custom': '1'})
        names = [n.lower() for n in json.loads(response.data)]
        self.assertIn('x-custom', names)
        self.assertNotIn('authorization', names)
        self.assertNotIn('cookie', names)

    def test_context_and_language(self):
        "X-Tryton-Context and Accept-Language reach the snippet"
        self.public('/ctx', "result['payload'] = context")
        response = self.client().get(self.url('/ctx'), headers={
                'X-Tryton-Context': tryton_context(
                    {'company': 1, '_check_access': False}),
                'Accept-Language': 'fr-FR, en;q=0.5'})
        payload = json.loads(response.data)
        self.assertEqual(payload['company'], 1)
        self.assertEqual(payload['language'], 'fr_FR')
        self.assertNotIn('_check_access', payload)
        self.assertEqual(response.headers['Content-Language'], 'fr-FR')
        response = self.client().get(self.url('/ctx'),
            headers={'X-Tryton-Context': 'not base64 json!'})
        self.assertProblem(response, 400)

    def test_response_object(self):
        "A Response is passed through"
        self.public('/csv', "result['response'] = Response('a,b\\n', "
            "status=201, headers={'X-Ok': '1'}, content_type='text/csv')")
        response = self.client().get(self.url('/csv'))
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.headers['X-Ok'], '1')
        self.assertEqual(response.mimetype, 'text/csv')
        self.assertEqual(response.data, b'a,b\n')

    def test_edit_needs_sync(self):
        "Edits, archiving and deletion follow the registry rules"
        endpoint = self.public('/versioned', "result['payload'] = 1")
        get = lambda: self.client().get(self.url('/versioned'))  # noqa
        self.assertEqual(get().data, b'1')
        change(endpoint, code="result['payload'] = 2")
        self.assertEqual(state(endpoint), 'out_of_sync')
        self.assertEqual(get().data, b'1')
        sync(endpoint)
        self.assertEqual(get().data, b'2')
        change(endpoint, active=False)
        self.assertEqual(get().data, b'2')
        sync(endpoint)
        self.assertProblem(get(), 404)
        change(endpoint, active=True, sync=True)
        self.assertEqual(get().data, b'2')
        with Transaction().start(DB_NAME, 0) as transaction:
            Endpoint = Pool().get('endpoint.endpoint')
            Endpoint.delete([Endpoint(endpoint)])
            transaction.commit()
        self.assertProblem(get(), 404)

    def test_unsynced_not_served(self):
        "A new endpoint is not served before its sync"
        endpoint = define(route='/later', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1",
            sync=False)
        self.assertProblem(self.client().get(self.url('/later')), 404)
        sync(endpoint)
        self.assertEqual(self.client().get(self.url('/later')).data, b'1')

    def test_log_lines(self):
        "log() lines reach the endpoint's log, even when the run fails"
        endpoint = self.public('/logged',
            "log('first')\nlog('careful', level='warning')\n"
            "if request.args.get('fail'):\n    x = {}['boom']\n"
            "result['payload'] = 1")
        self.client().get(self.url('/logged'))
        response = self.client().get(self.url('/logged?fail=1'))
        error_id = json.loads(response.data)['error_id']
        with Transaction().start(DB_NAME, 0) as transaction:
            Log = Pool().get('endpoint.log')
            logs = Log.search([('endpoint', '=', endpoint)],
                order=[('id', 'ASC')])
            self.assertEqual([(log.level, log.message) for log in logs][:2],
                [('info', 'first'), ('warning', 'careful')])
            self.assertEqual(logs[-1].level, 'error')
            self.assertEqual(logs[-1].request_id, error_id)
            self.assertIn('KeyError', logs[-1].message)
            Log.clean(days=-1)
            self.assertFalse(Log.search([('endpoint', '=', endpoint)]))
            transaction.rollback()

    def test_query_args(self):
        "Query arguments are coerced by the query schema"
        self.public('/search', "result['payload'] = request.args",
            query_schema=json.dumps({'type': 'object', 'properties': {
                        'limit': {'type': 'integer', 'default': 10}},
                    'additionalProperties': False}))
        response = self.client().get(self.url('/search?limit=5'))
        self.assertEqual(json.loads(response.data), {'limit': 5})
        response = self.client().get(self.url('/search'))
        self.assertEqual(json.loads(response.data), {'limit': 10})
        body = self.assertProblem(
            self.client().get(self.url('/search?limit=x&y=1')), 400)
        self.assertEqual({e['parameter'] for e in body['errors']},
            {'limit', 'y'})



class DocumentationTestCase(EndpointRouteTestCase):
    "The OpenAPI document and docs page follow the live registry"

    def test_openapi_follows_sync(self):
        "A synced, documented endpoint appears; an undocumented one not"
        client = self.client()
        define(route='/documented/<int:id>', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1",
            group='shop', description="Documented endpoint")
        define(route='/private', auth='public', exec_user=self.web_user,
            code="result['payload'] = 1", documented=False)
        response = client.get(self.url('/openapi.json'))
        self.assertEqual(response.status_code, 200)
        document = json.loads(response.data)
        self.assertEqual(document['openapi'][:3], '3.1')
        self.assertIn('/documented/{id}', document['paths'])
        self.assertNotIn('/private', document['paths'])
        self.assertTrue(document['servers'][0]['url'].endswith(
                f'/{self.db_name}/api'))
        define(route='/later-documented', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1")
        document = json.loads(client.get(self.url('/openapi.json')).data)
        self.assertIn('/later-documented', document['paths'])
        response = client.get(self.url('/openapi.yaml'))
        self.assertIn(b'/documented/{id}', response.data)

    def test_docs_page_and_assets(self):
        "The docs page and its packaged assets are served"
        client = self.client()
        response = client.get(self.url('/docs'))
        self.assertEqual(response.status_code, 200)
        self.assertIn(b'openapi.json', response.data)
        response = client.get(self.url('/docs/swagger-ui-bundle.js'))
        self.assertEqual(response.status_code, 200)
        response = client.get(self.url('/docs/..%2Fsetup.py'))
        self.assertEqual(response.status_code, 404)

    def test_documentation_routes_reserved(self):
        "An endpoint can not take the documentation's routes"
        from trytond.model.exceptions import ValidationError
        with self.assertRaises(ValidationError):
            define(route='/openapi.json', auth='application', code='')


del EndpointRouteTestCase
