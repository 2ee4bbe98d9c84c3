# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Signed webhooks and access tokens through a live server.

One gunicorn server with two workers (``livesite.py``) for the module:
each provider's documented webhook is accepted and each tampering
refused; a token of the local JWKS is accepted, each bad one refused with
its status and RFC 6750 error.  ``python -m tests.test_auth_live CONF
DATABASE`` is the data step: the endpoints below.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import time

import pytest
from openapi_spec_validator import validate as validate_spec

from .jwks_server import AUDIENCE, ISSUER, JWKSServer, Provider
from .livesite import Site
from .test_signature import (
    GITHUB,
    SHOPIFY_SECRET,
    SLACK,
    SLACK_TIME,
    STRIPE_SECRET,
    shopify_header,
    stripe_header,
)
from .test_token import forged

BACKEND = os.environ.get('ENDPOINT_TEST_BACKEND', 'sqlite')
pytestmark = pytest.mark.skipif(BACKEND == 'postgresql',
    reason="backend independent: runs in the SQLite pass only")
GENERIC_SECRET = 'generic-secret'

ENDPOINTS = [
    dict(route='/hooks/github', content_type='text/plain',
        signature_scheme='github', signature_secret=GITHUB['secret'],
        code="result['payload'] = {'text': request.text}"),
    # Slack's example is of 2018: accepted by a tolerance that reaches it,
    # stale for the default one.
    dict(route='/hooks/slack',
        content_type='application/x-www-form-urlencoded',
        signature_scheme='slack', signature_secret=SLACK['secret'],
        signature_tolerance=int(time.time()) - SLACK_TIME + 86400,
        code="result['payload'] = {'command': request.form['command']}"),
    dict(route='/hooks/slack-strict',
        content_type='application/x-www-form-urlencoded',
        signature_scheme='slack', signature_secret=SLACK['secret'],
        code="result['payload'] = {}"),
    dict(route='/hooks/stripe', content_type='application/json',
        signature_scheme='stripe', signature_secret=STRIPE_SECRET,
        code="result['payload'] = {'event': request.json['id']}"),
    dict(route='/hooks/shopify', content_type='application/json',
        signature_scheme='shopify', signature_secret=SHOPIFY_SECRET,
        max_body_size=1024,
        code="result['payload'] = {'order': request.json['id']}"),
    dict(route='/hooks/generic', content_type='application/json',
        signature_scheme='generic', signature_secret=GENERIC_SECRET,
        signature_header='X-Signature', signature_algorithm='sha512',
        signature_encoding='base64', signature_timestamp_header='X-Time',
        code="result['payload'] = request.json"),
    ]


def load(conf, database):
    from trytond import config
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    config.update_etc(conf)
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        Endpoint = pool.get('endpoint.endpoint')
        web, = User.search([('login', '=', 'web')])
        endpoints = Endpoint.create([dict(values, name=values['route'],
                    method='POST', auth='signature', exec_user=web.id)
                for values in ENDPOINTS] + [
                dict(name='Orders', route='/tokens/orders', auth='token',
                    token_scopes='orders:read',
                    code="result['payload'] = {'login': user.login}")])
        Endpoint.sync(endpoints)
        transaction.commit()


@pytest.fixture(scope='module')
def provider():
    provider = Provider()
    server = JWKSServer(provider).start()
    provider.url = server.url
    yield provider
    server.stop()


@pytest.fixture(scope='module')
def site(provider):
    conf = ("[endpoint]\n"
        f"token_jwks = {provider.url}\n"
        f"token_issuer = {ISSUER}\n"
        f"token_audience = {AUDIENCE}\n"
        "token_jwks_timeout = 2\n")
    site = Site(workers=2, conf=conf, data='tests.test_auth_live').start()
    yield site
    site.stop()


def post(site, route, body, headers, content_type='application/json'):
    return site.fetch(route, 'POST', body,
        {'Content-Type': content_type, **headers})


def assert_refused(answer, status=401):
    code, headers, body = answer
    assert code == status, body
    assert headers['Content-Type'] == 'application/problem+json'
    problem = json.loads(body)
    assert 'Traceback' not in body.decode()
    if status == 401 and 'Signature' in headers.get('WWW-Authenticate', ''):
        assert problem['detail'] == "Missing or invalid signature."
    return headers, problem


def test_github(site):
    "GitHub's documented delivery; tampered, wrong secret, no header"
    code, _, body = post(site, '/hooks/github', GITHUB['body'],
        GITHUB['headers'], 'text/plain')
    assert code == 200, body
    assert json.loads(body) == {'text': 'Hello, World!'}
    assert_refused(post(site, '/hooks/github', b'Hello, World?',
            GITHUB['headers'], 'text/plain'))
    wrong = 'sha256=' + hmac.new(b'wrong', GITHUB['body'],
        hashlib.sha256).hexdigest()
    assert_refused(post(site, '/hooks/github', GITHUB['body'],
            {'X-Hub-Signature-256': wrong}, 'text/plain'))
    assert_refused(post(site, '/hooks/github', GITHUB['body'], {},
            'text/plain'))


def test_slack(site):
    "Slack's documented request, once; stale for the default tolerance"
    form = 'application/x-www-form-urlencoded'
    assert_refused(post(site, '/hooks/slack-strict', SLACK['body'],
            SLACK['headers'], form))
    tampered = SLACK['body'].replace(b'roadrunner', b'coyote')
    assert_refused(post(site, '/hooks/slack', tampered, SLACK['headers'],
            form))
    code, _, body = post(site, '/hooks/slack', SLACK['body'],
        SLACK['headers'], form)
    assert code == 200, body
    assert json.loads(body) == {'command': '/webhook-collect'}
    # The same request again, to either worker: a replay.
    for _ in range(3):
        assert_refused(post(site, '/hooks/slack', SLACK['body'],
                SLACK['headers'], form))


def test_stripe(site):
    body = b'{"id": "evt_live_1", "object": "event"}'
    header = stripe_header(STRIPE_SECRET, body, int(time.time()))
    code, _, answer = post(site, '/hooks/stripe', body,
        {'Stripe-Signature': header})
    assert code == 200, answer
    assert json.loads(answer) == {'event': 'evt_live_1'}
    assert_refused(post(site, '/hooks/stripe', body,
            {'Stripe-Signature': header}))
    stale = stripe_header(STRIPE_SECRET, body, int(time.time()) - 600)
    assert_refused(post(site, '/hooks/stripe', body,
            {'Stripe-Signature': stale}))
    other = stripe_header('whsec_other', body, int(time.time()))
    assert_refused(post(site, '/hooks/stripe', body,
            {'Stripe-Signature': other}))


def test_shopify(site):
    body = b'{"id": 820982911946154508, "email": "jon@example.com"}'
    headers = {'X-Shopify-Hmac-Sha256': shopify_header(SHOPIFY_SECRET, body)}
    code, _, answer = post(site, '/hooks/shopify', body, headers)
    assert code == 200, answer
    assert json.loads(answer) == {'order': 820982911946154508}
    assert_refused(post(site, '/hooks/shopify', body[:-1] + b' }', headers))


def test_generic(site):
    body = b'{"order": 7}'
    now = str(int(time.time()))
    signature = base64.b64encode(hmac.new(GENERIC_SECRET.encode(),
            now.encode() + b'.' + body, hashlib.sha512).digest()).decode()
    headers = {'X-Signature': signature, 'X-Time': now}
    code, _, answer = post(site, '/hooks/generic', body, headers)
    assert code == 200, answer
    assert json.loads(answer) == {'order': 7}
    assert_refused(post(site, '/hooks/generic', body, headers))
    assert_refused(post(site, '/hooks/generic', body,
            {'X-Signature': signature}))


def test_body_over_limit_refused_unread(site):
    """413 on the announced size: the server answers without waiting for
    a byte of the body, so no HMAC is ever computed over it"""
    connection = http.client.HTTPConnection('127.0.0.1', site.port,
        timeout=5)
    try:
        connection.putrequest('POST', f'/{site.database}/api/hooks/shopify')
        connection.putheader('Content-Type', 'application/json')
        connection.putheader('Content-Length', str(10 * 2 ** 20))
        connection.putheader('X-Shopify-Hmac-Sha256', 'AAAA')
        connection.endheaders()
        started = time.monotonic()
        response = connection.getresponse()
        assert response.status == 413
        assert time.monotonic() - started < 4
        assert response.getheader('Content-Type') == 'application/problem+json'
    finally:
        connection.close()
    # Chunked, with no size announced: cut at the limit, still 413.
    body = b'{"id": 1, "pad": "' + b'x' * 2048 + b'"}'
    connection = http.client.HTTPConnection('127.0.0.1', site.port,
        timeout=5)
    try:
        connection.request('POST', f'/{site.database}/api/hooks/shopify',
            body=iter([body]), encode_chunked=True, headers={
                'Content-Type': 'application/json',
                'Transfer-Encoding': 'chunked',
                'X-Shopify-Hmac-Sha256': shopify_header(
                    SHOPIFY_SECRET, body)})
        assert connection.getresponse().status == 413
    finally:
        connection.close()


def token_get(site, token):
    headers = {'Authorization': f'Bearer {token}'} if token else {}
    return site.fetch('/tokens/orders', headers=headers)


def test_token(site, provider):
    "A token of the local JWKS accepted; each bad one refused"
    for kid in ['rsa-1', 'ec-1']:
        code, _, body = token_get(site,
            provider.token(kid, preferred_username='clerk'))
        assert code == 200, body
        assert json.loads(body) == {'login': 'clerk'}
    claims = {'iss': ISSUER, 'aud': AUDIENCE, 'exp': int(time.time()) + 60,
        'preferred_username': 'clerk', 'scope': 'orders:read'}
    bad = {
        'expired': provider.token(lifetime=-300,
            preferred_username='clerk'),
        'audience': provider.token(aud='other', preferred_username='clerk'),
        'issuer': provider.token(iss='https://evil.example.com',
            preferred_username='clerk'),
        'kid': provider.token(headers={'kid': 'unknown'},
            preferred_username='clerk'),
        'none': forged({'alg': 'none', 'kid': 'rsa-1'}, claims),
        'hmac': forged({'alg': 'HS256', 'kid': 'rsa-1'}, claims,
            key=json.dumps(provider.public['rsa-1']).encode()),
        'user': provider.token(preferred_username='nobody'),
        }
    for name, token in bad.items():
        headers, _ = assert_refused(token_get(site, token))
        assert 'error="invalid_token"' in headers['WWW-Authenticate'], name
    headers, _ = assert_refused(token_get(site, None))
    assert headers['WWW-Authenticate'] == 'Bearer realm="Tryton"'
    headers, _ = assert_refused(token_get(site, provider.token(
                scope='openid', preferred_username='clerk')), 403)
    assert 'error="insufficient_scope"' in headers['WWW-Authenticate']


def test_openapi_has_no_secret(site):
    code, _, body = site.fetch('/openapi.json')
    assert code == 200
    text = body.decode()
    for values in ENDPOINTS:
        assert values['signature_secret'] not in text
    document = json.loads(text)
    validate_spec(document)
    schemes = document['components']['securitySchemes']
    assert {s.get('name') for s in schemes.values()} >= {
        'X-Hub-Signature-256', 'Stripe-Signature', 'X-Shopify-Hmac-Sha256',
        'X-Slack-Signature', 'X-Signature'}
    assert schemes['token']['bearerFormat'] == 'JWT'


if __name__ == '__main__':
    load(sys.argv[1], sys.argv[2])
