# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Signed webhooks: auth mode ``signature``.

The vectors of GitHub and Slack are the ones of their documentation
(secret, payload and signature as published).  Stripe and Shopify
publish the algorithm and the header format but no complete vector: their
requests are signed here as the documentation describes (``t.body`` in
hex for Stripe, the body in base64 for Shopify).
"""
import base64
import hashlib
import hmac
import json
import time
import unittest
from types import SimpleNamespace

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from trytond_endpoint.http.signature import (
    SignatureRefused,
    scheme_of,
    sign,
    verify,
)

from .tools import EndpointRouteTestCase, define

PROBLEM = 'application/problem+json'

# docs.github.com, "Validating webhook deliveries", "Testing the webhook
# payload validation".
GITHUB = dict(secret="It's a Secret to Everybody", body=b'Hello, World!',
    headers={'X-Hub-Signature-256': 'sha256='
        '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'})
# api.slack.com, "Verifying requests from Slack", the walk-through.
SLACK_TIME = 1531420618
SLACK = dict(secret='8f742231b10e8888abcd99yyyzzz85a5',
    body=(b'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&'
        b'team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&'
        b'user_id=U2CERLKJA&user_name=roadrunner&'
        b'command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F'
        b'hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F'
        b'96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.'
        b'803a0bc887a14d10d2c447fce8b6703c'),
    headers={'X-Slack-Request-Timestamp': str(SLACK_TIME),
        'X-Slack-Signature': 'v0='
        'a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503'})
STRIPE_SECRET = 'whsec_test_secret'
SHOPIFY_SECRET = 'hush'


def stripe_header(secret, body, timestamp, extra=()):
    "Stripe's documented scheme, written out independently of the module"
    digest = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body,
        hashlib.sha256).hexdigest()
    return ','.join([f't={timestamp}', f'v1={digest}', *extra])


def shopify_header(secret, body):
    return base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def definition(scheme, **values):
    values = {'signature_scheme': scheme, 'signature_header': None,
        'signature_algorithm': None, 'signature_encoding': None,
        'signature_timestamp_header': None, 'signature_tolerance': None,
        **values}
    return SimpleNamespace(**values)


class Headers(dict):
    "Case-insensitive get, as Werkzeug's headers"

    def get(self, name, default=None):
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        return default


class SchemeTestCase(unittest.TestCase):
    "Verifying each scheme's signature, no database"

    def check(self, scheme, secret, headers, body, now=None):
        return verify(scheme_of(definition(scheme)), secret,
            Headers(headers), body, now=now)

    def refused(self, *args, **kwargs):
        with self.assertRaises(SignatureRefused):
            self.check(*args, **kwargs)

    def test_github_vector(self):
        "GitHub's documented example is accepted, tampering refused"
        v = GITHUB
        timestamp, _ = self.check('github', v['secret'], v['headers'],
            v['body'])
        self.assertIsNone(timestamp)
        self.refused('github', v['secret'], v['headers'], b'Hello, World?')
        self.refused('github', 'wrong', v['headers'], v['body'])
        self.refused('github', v['secret'], {}, v['body'])
        # The digest without its "sha256=" is not GitHub's header.
        bare = v['headers']['X-Hub-Signature-256'][len('sha256='):]
        self.refused('github', v['secret'],
            {'X-Hub-Signature-256': bare}, v['body'])

    def test_slack_vector(self):
        "Slack's documented example within the tolerance, not past it"
        v = SLACK
        timestamp, _ = self.check('slack', v['secret'], v['headers'],
            v['body'], now=SLACK_TIME + 60)
        self.assertEqual(timestamp, SLACK_TIME)
        self.refused('slack', v['secret'], v['headers'], v['body'],
            now=SLACK_TIME + 301)
        self.refused('slack', v['secret'], v['headers'], v['body'] + b'x',
            now=SLACK_TIME)
        headers = dict(v['headers'],
            **{'X-Slack-Request-Timestamp': str(SLACK_TIME + 1)})
        self.refused('slack', v['secret'], headers, v['body'],
            now=SLACK_TIME)
        self.refused('slack', v['secret'],
            {'X-Slack-Signature': v['headers']['X-Slack-Signature']},
            v['body'], now=SLACK_TIME)

    def test_stripe(self):
        "Stripe: t and v1 in one header, several v1 while rolling over"
        body = b'{"id": "evt_1", "object": "event"}'
        now = int(time.time())
        header = stripe_header(STRIPE_SECRET, body, now)
        self.check('stripe', STRIPE_SECRET,
            {'Stripe-Signature': header}, body)
        rolled = stripe_header('whsec_old', body, now,
            extra=[header.split(',')[1]])
        self.check('stripe', STRIPE_SECRET,
            {'Stripe-Signature': rolled}, body)
        self.refused('stripe', STRIPE_SECRET,
            {'Stripe-Signature': header}, body.replace(b'1', b'2'))
        self.refused('stripe', 'whsec_other',
            {'Stripe-Signature': header}, body)
        stale = stripe_header(STRIPE_SECRET, body, now - 301)
        self.refused('stripe', STRIPE_SECRET,
            {'Stripe-Signature': stale}, body)
        # A v0 (test mode) signature is not accepted for v1.
        self.refused('stripe', STRIPE_SECRET, {'Stripe-Signature':
                header.replace('v1=', 'v0=')}, body)

    def test_shopify(self):
        "Shopify: the body's HMAC in base64"
        body = b'{"id": 820982911946154500, "email": "jon@example.com"}'
        headers = {'X-Shopify-Hmac-Sha256': shopify_header(
                SHOPIFY_SECRET, body)}
        self.check('shopify', SHOPIFY_SECRET, headers, body)
        self.refused('shopify', SHOPIFY_SECRET, headers, body + b' ')
        hex_digest = hmac.new(SHOPIFY_SECRET.encode(), body,
            hashlib.sha256).hexdigest()
        self.refused('shopify', SHOPIFY_SECRET,
            {'X-Shopify-Hmac-Sha256': hex_digest}, body)

    def test_generic(self):
        "Generic: header, algorithm, encoding and timestamp chosen"
        body = b'{"order": 42}'
        spec = definition('generic', signature_header='X-Signature',
            signature_algorithm='sha512', signature_encoding='base64',
            signature_timestamp_header='X-Timestamp',
            signature_tolerance=60)
        scheme = scheme_of(spec)
        now = int(time.time())
        digest = hmac.new(b'k', f'{now}.'.encode() + body,
            hashlib.sha512).digest()
        headers = Headers({'X-Signature': base64.b64encode(digest).decode(),
                'X-Timestamp': str(now)})
        self.assertEqual(verify(scheme, 'k', headers, body)[0], now)
        # The same with its algorithm's prefix.
        headers['X-Signature'] = 'sha512=' + headers['X-Signature']
        verify(scheme, 'k', headers, body)
        self.assertEqual(sign(scheme, 'k', body, now=now)['X-Signature'],
            headers['X-Signature'])
        with self.assertRaises(SignatureRefused):
            verify(scheme, 'k', headers, body, now=now + 61)
        with self.assertRaises(SignatureRefused):
            verify(scheme, 'k', Headers({'X-Signature': headers[
                            'X-Signature']}), body)

    def test_sign_round_trip(self):
        "What sign makes, verify accepts, for every scheme"
        body = b'payload'
        for name in ['github', 'stripe', 'shopify', 'slack']:
            with self.subTest(name):
                scheme = scheme_of(definition(name))
                verify(scheme, 's3cret', Headers(sign(scheme, 's3cret', body)),
                    body)

    def test_bad_configuration(self):
        "A generic scheme without a header is refused at save"
        for values in [{}, {'signature_header': 'bad header'},
                {'signature_header': 'X-S', 'signature_algorithm': 'md5'}]:
            with self.subTest(values), self.assertRaises(ValueError):
                scheme_of(definition('generic', **values))
        with self.assertRaises(ValueError):
            scheme_of(definition('nope'))


class SignatureRouteTestCase(EndpointRouteTestCase):
    "Signed endpoints served over HTTP"

    def signed(self, route, scheme, secret, **values):
        values.setdefault('exec_user', self.web_user)
        return define(route=route, method='POST', auth='signature',
            content_type=values.pop('content_type', 'application/json'),
            signature_scheme=scheme, signature_secret=secret,
            code=values.pop('code',
                "result['payload'] = {'got': request.json,"
                " 'as': user.login}"),
            **values)

    def create(self, route, scheme, secret):
        "An endpoint created in the current transaction"
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint, = Endpoint.create([dict(name=route, route=route,
                    method='POST', content_type='application/json',
                    auth='signature', signature_scheme=scheme,
                    signature_secret=secret, exec_user=self.web_user)])
        return endpoint.id

    def post(self, route, body, headers):
        return self.client().post(self.url(route), data=body,
            headers={'Content-Type': 'application/json', **headers})

    def assertRefused(self, response, status=401):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        detail = json.loads(response.data)['detail']
        # Nothing tells which part failed.
        if status == 401:
            self.assertEqual(detail, "Missing or invalid signature.")
        return detail

    def test_github(self):
        "A GitHub delivery runs as the exec user; tampering is 401"
        body = b'{"zen": "Keep it logically awesome."}'
        self.signed('/hooks/github', 'github', 'gh-secret')
        headers = {'X-Hub-Signature-256': 'sha256=' + hmac.new(
                b'gh-secret', body, hashlib.sha256).hexdigest()}
        response = self.post('/hooks/github', body, headers)
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {
                'got': {'zen': 'Keep it logically awesome.'}, 'as': 'web'})
        # Without a timestamp there is no replay check: GitHub redelivers
        # the same signature.
        self.assertEqual(
            self.post('/hooks/github', body, headers).status_code, 200)
        self.assertRefused(self.post('/hooks/github', body + b' ', headers))
        self.assertRefused(self.post('/hooks/github', body, {}))
        response = self.post('/hooks/github', body, {
                'X-Hub-Signature-256': 'sha256=' + hmac.new(
                    b'other', body, hashlib.sha256).hexdigest()})
        self.assertRefused(response)
        self.assertEqual(response.headers['WWW-Authenticate'],
            'Signature realm="Tryton"')

    def test_stripe_replay(self):
        "A timestamped signature is accepted once; a stale one never"
        self.signed('/hooks/stripe', 'stripe', STRIPE_SECRET)
        body = b'{"id": "evt_2"}'
        header = stripe_header(STRIPE_SECRET, body, int(time.time()))
        response = self.post('/hooks/stripe', body,
            {'Stripe-Signature': header})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertRefused(self.post('/hooks/stripe', body,
                {'Stripe-Signature': header}))
        stale = stripe_header(STRIPE_SECRET, body, int(time.time()) - 400)
        self.assertRefused(self.post('/hooks/stripe', body,
                {'Stripe-Signature': stale}))

    def test_failed_run_can_be_delivered_again(self):
        "A run that fails rolls its signature back: the retry is served"
        self.signed('/hooks/flaky', 'stripe', STRIPE_SECRET,
            code="if request.json['n'] == 1:\n"
            "    raise exceptions.Conflict('not yet')\n"
            "result['payload'] = {}\n")
        body = b'{"n": 1}'
        header = stripe_header(STRIPE_SECRET, body, int(time.time()))
        self.assertEqual(self.post('/hooks/flaky', body,
                {'Stripe-Signature': header}).status_code, 409)
        self.assertEqual(self.post('/hooks/flaky', body,
                {'Stripe-Signature': header}).status_code, 409)

    def test_body_over_limit(self):
        "A body over the limit is 413, signed or not"
        self.signed('/hooks/small', 'shopify', SHOPIFY_SECRET,
            max_body_size=16)
        body = b'{"padding": "' + b'x' * 32 + b'"}'
        response = self.post('/hooks/small', body,
            {'X-Shopify-Hmac-Sha256': shopify_header(SHOPIFY_SECRET, body)})
        self.assertRefused(response, 413)

    def test_verified_before_parsing(self):
        "A body that is no JSON is refused 401 when unsigned, 400 else"
        self.signed('/hooks/parse', 'shopify', SHOPIFY_SECRET)
        body = b'{not json'
        self.assertRefused(self.post('/hooks/parse', body, {}))
        response = self.post('/hooks/parse', body,
            {'X-Shopify-Hmac-Sha256': shopify_header(SHOPIFY_SECRET, body)})
        self.assertEqual(response.status_code, 400, response.data)

    @with_transaction()
    def test_secret_field_access(self):
        "Only Endpoint Administration reads the secret"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        User = pool.get('res.user')
        endpoint_id = self.create('/hooks/hidden', 'github', 'top-secret')
        clerk, = User.search([('login', '=', 'alice')])
        with Transaction().set_user(clerk.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Endpoint.read([endpoint_id], ['signature_secret'])
            values, = Endpoint.read([endpoint_id], ['name'])
            self.assertNotIn('signature_secret', values)

    @with_transaction()
    def test_validation(self):
        "A signed endpoint needs its secret, a user to run as, a body"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        base = dict(name='x', route='/hooks/invalid', method='POST',
            content_type='application/json', auth='signature',
            signature_scheme='github', signature_secret='s',
            exec_user=self.web_user)
        for i, values in enumerate([{'signature_secret': None},
                    {'exec_user': None},
                    {'method': 'GET', 'content_type': None},
                    {'signature_scheme': 'generic'}]):
            with self.subTest(values), self.assertRaises(
                    UserError):
                Endpoint.create([{**base, 'route': f'/hooks/invalid{i}',
                            **values}])
        Endpoint.create([base])

    @with_transaction()
    def test_try_wizard_signs(self):
        "The Test wizard signs its sample; its output shows no secret"
        from trytond.modules.endpoint.try_endpoint import try_definition
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        endpoint, = Endpoint.create([dict(name='t', route='/hooks/try',
                    method='POST', content_type='application/json',
                    auth='signature', signature_scheme='slack',
                    signature_secret='wizard-secret-value',
                    exec_user=self.web_user,
                    code="result['payload'] = request.json")])
        run = try_definition(endpoint.get_definition(), 'POST',
            '/hooks/try', 'Content-Type: application/json', '{"a": 1}',
            sign=True)
        self.assertEqual(run[0], 200, run)
        self.assertEqual(json.loads(run[2]), {'a': 1})
        self.assertNotIn('wizard-secret-value', ''.join(map(str, run)))
        unsigned = try_definition(endpoint.get_definition(), 'POST',
            '/hooks/try', 'Content-Type: application/json', '{"a": 1}')
        self.assertEqual(unsigned[0], 401, unsigned)

    def test_openapi(self):
        "The document declares the header as the scheme, not the secret"
        self.signed('/hooks/doc', 'stripe', 'doc-secret-value')
        response = self.client().get(self.url('/openapi.json'))
        text = response.get_data(as_text=True)
        self.assertNotIn('doc-secret-value', text)
        document = json.loads(text)
        operation = document['paths']['/hooks/doc']['post']
        name, = operation['security'][0]
        scheme = document['components']['securitySchemes'][name]
        self.assertEqual((scheme['type'], scheme['in'], scheme['name']),
            ('apiKey', 'header', 'Stripe-Signature'))

    @with_transaction()
    def test_clean(self):
        "The cron forgets signatures past their tolerance"
        import datetime as dt
        pool = Pool()
        Seen = pool.get('endpoint.signature.seen')
        endpoint_id = self.create('/hooks/clean', 'stripe', 's')
        past = dt.datetime.now() - dt.timedelta(seconds=1)
        future = dt.datetime.now() + dt.timedelta(hours=1)
        self.assertTrue(Seen.record(endpoint_id, 'a', past))
        self.assertTrue(Seen.record(endpoint_id, 'b', future))
        self.assertFalse(Seen.record(endpoint_id, 'b', future))
        Seen.clean()
        self.assertEqual([s.digest for s in Seen.search([])], ['b'])

    @with_transaction()
    def test_other_modes_publish_as_before(self):
        "Unset, the new fields are not in the published definition"
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint, = Endpoint.create([dict(name='plain', route='/plain',
                    auth='application', code='pass')])
        Endpoint.sync([endpoint])
        published = json.loads(endpoint.published)
        self.assertFalse([k for k in published
                if k.startswith(('signature_', 'token_'))])
        self.assertEqual(endpoint.state, 'live')
        signed_id = self.create('/hooks/published', 'github', 'pub')
        signed = Endpoint(signed_id)
        Endpoint.sync([signed])
        self.assertEqual(
            json.loads(signed.published)['signature_scheme'], 'github')

    def test_snippet_never_sees_the_secret(self):
        "Neither the endpoint facts nor the model reach the secret"
        self.signed('/hooks/peek', 'github', 'peek-secret-value', code=(
                "found = {'endpoint': endpoint.to_dict(),\n"
                "    'headers': dict(request.headers)}\n"
                "try:\n"
                "    found['rows'] = pool.get('endpoint.endpoint')"
                ".search_read([], fields_names=['signature_secret'])\n"
                "except Exception as exception:\n"
                "    found['refused'] = str(exception)\n"
                "result['payload'] = found\n"))
        body = b'{}'
        response = self.post('/hooks/peek', body, {
                'X-Hub-Signature-256': 'sha256=' + hmac.new(
                    b'peek-secret-value', body, hashlib.sha256).hexdigest()})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertIn('refused', json.loads(response.data))
        self.assertNotIn(b'peek-secret-value', response.data)
