# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""OAuth2 / OpenID Connect access tokens: auth mode ``token``.

Keys and tokens are made here (RS256 and ES256), the JWKS is served by a
local HTTP server; the module's configuration points at it.
"""
import base64
import hashlib
import hmac
import json
import time
import unittest

import jwt
from trytond import config

from trytond_endpoint.http.jwt_token import (
    KeySet,
    KeysUnavailable,
    Policy,
    TokenRefused,
    verify,
)

from .jwks_server import AUDIENCE, ISSUER, JWKSServer, Provider
from .tools import EndpointRouteTestCase, define

PROBLEM = 'application/problem+json'


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def forged(header, claims, key=b''):
    "A token written by hand: alg none, or HMAC with the given key"
    signing_input = (_b64(json.dumps(header).encode()) + '.'
        + _b64(json.dumps(claims).encode()))
    signature = b''
    if header['alg'] == 'HS256':
        signature = hmac.new(key, signing_input.encode(),
            hashlib.sha256).digest()
    return signing_input + '.' + _b64(signature)


class Identity:
    "One provider and JWKS server for a test class"

    @classmethod
    def start_identity(cls):
        cls.provider = Provider()
        cls.jwks = JWKSServer(cls.provider).start()

    @classmethod
    def stop_identity(cls):
        cls.jwks.stop()

    def claims(self, **values):
        now = int(time.time())
        return {'iss': ISSUER, 'aud': AUDIENCE, 'exp': now + 300,
            'preferred_username': 'alice', **values}


class VerifyTestCase(Identity, unittest.TestCase):
    "Verifying tokens against a JWKS, no database"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_identity()

    @classmethod
    def tearDownClass(cls):
        cls.stop_identity()
        super().tearDownClass()

    def setUp(self):
        self.policy = Policy(keys=KeySet(self.jwks.url, timeout=2),
            issuer=ISSUER, audience=AUDIENCE,
            algorithms=frozenset({'RS256', 'ES256'}), leeway=30)

    def refused(self, token, error='invalid_token', scopes=frozenset()):
        with self.assertRaises(TokenRefused) as raised:
            verify(token, self.policy, scopes)
        self.assertEqual(raised.exception.error, error)
        return raised.exception

    def test_rs256_es256(self):
        "Tokens of both keys are accepted, with their claims"
        for kid in ['rsa-1', 'ec-1']:
            with self.subTest(kid):
                claims = verify(self.provider.token(kid), self.policy,
                    frozenset({'orders:read'}))
                self.assertEqual(claims['preferred_username'], 'alice')

    def test_expired_and_not_yet(self):
        "Expired or not yet valid past the leeway: refused"
        self.assertIn('expired', self.refused(
                self.provider.token(lifetime=-60)).description)
        # Within the leeway: accepted.
        verify(self.provider.token(lifetime=-10), self.policy)
        now = int(time.time())
        self.refused(self.provider.token(nbf=now + 120))
        self.refused(self.provider.token(exp=None))

    def test_wrong_audience_issuer(self):
        self.refused(self.provider.token(aud='another-api'))
        self.refused(self.provider.token(aud=None))
        self.refused(self.provider.token(iss='https://evil.example.com'))

    def test_unknown_kid(self):
        "A kid the JWKS does not hold; an unknown key of a known kid"
        self.refused(self.provider.token(headers={'kid': 'rsa-9'}))
        other = Provider()
        self.refused(other.token('rsa-1'))

    def test_alg_none(self):
        self.refused(forged({'alg': 'none', 'kid': 'rsa-1'}, self.claims()))
        self.refused(forged({'alg': 'none'}, self.claims()))

    def test_public_key_as_hmac_secret(self):
        "HS256 with the published key as its secret: refused"
        jwk = self.provider.public['rsa-1']
        for secret in [json.dumps(jwk).encode(),
                jwt.PyJWK(jwk).key.public_bytes(
                    encoding=_pem(), format=_spki())]:
            self.refused(forged({'alg': 'HS256', 'kid': 'rsa-1'},
                    self.claims(), key=secret))

    def test_key_of_other_type(self):
        "An ES256 token naming the RSA key: refused"
        token = self.provider.token('ec-1', headers={'kid': 'rsa-1'})
        self.refused(token)

    def test_missing_scope(self):
        refused = self.refused(self.provider.token(scope='openid'),
            'insufficient_scope', frozenset({'orders:read'}))
        self.assertEqual(refused.scope, 'orders:read')
        # scp as a list (Azure, Okta)
        verify(self.provider.token(scope=None, scp=['orders:read']),
            self.policy, frozenset({'orders:read'}))

    def test_rotation(self):
        "A new kid is fetched once; forged kids do not refetch each time"
        self.provider.add('rsa-2', 'RS256')
        keys = KeySet(self.jwks.url, timeout=2, refresh=0)
        policy = Policy(keys=keys, issuer=ISSUER, audience=AUDIENCE,
            algorithms=frozenset({'RS256'}))
        verify(self.provider.token('rsa-2'), policy)
        slow = KeySet(self.jwks.url, timeout=2, refresh=3600)
        policy = Policy(keys=slow, issuer=ISSUER, audience=AUDIENCE,
            algorithms=frozenset({'RS256'}))
        verify(self.provider.token('rsa-1'), policy)
        before = self.jwks.fetches
        for n in range(5):
            with self.assertRaises(TokenRefused):
                verify(self.provider.token(headers={'kid': f'x{n}'}), policy)
        self.assertEqual(self.jwks.fetches, before)


class SlowJWKSTestCase(unittest.TestCase):
    "A JWKS server that never answers"

    def test_bounded_timeout(self):
        "The fetch gives up after its timeout: no token can pass"
        import socket
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        keys = KeySet(f'http://127.0.0.1:{port}/jwks', timeout=0.5)
        started = time.monotonic()
        with self.assertRaises(KeysUnavailable):
            keys.key('rsa-1')
        self.assertLess(time.monotonic() - started, 5)


def _pem():
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.PEM


def _spki():
    from cryptography.hazmat.primitives.serialization import PublicFormat
    return PublicFormat.SubjectPublicKeyInfo


class TokenRouteTestCase(Identity, EndpointRouteTestCase):
    "Token endpoints served over HTTP"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_identity()
        if not config.has_section('endpoint'):
            config.add_section('endpoint')
        cls.saved = {name: config.get('endpoint', name) for name in
            ['token_jwks', 'token_issuer', 'token_audience']}
        config.set('endpoint', 'token_jwks', cls.jwks.url)
        config.set('endpoint', 'token_issuer', ISSUER)
        config.set('endpoint', 'token_audience', AUDIENCE)
        cls._reset_policy()

    @classmethod
    def tearDownClass(cls):
        for name, value in cls.saved.items():
            # Empty is unset for these options.
            config.set('endpoint', name, value or '')
        cls._reset_policy()
        cls.stop_identity()
        super().tearDownClass()

    @staticmethod
    def _reset_policy():
        from trytond.modules.endpoint import auth_token
        auth_token.policy.cache_clear()

    def get(self, route, token):
        headers = {'Authorization': f'Bearer {token}'} if token else {}
        return self.client().get(self.url(route), headers=headers)

    def assertChallenge(self, response, status, error=None):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        challenge = response.headers['WWW-Authenticate']
        self.assertTrue(challenge.startswith('Bearer realm="Tryton"'))
        if error:
            self.assertIn(f'error="{error}"', challenge)
        else:
            self.assertNotIn('error=', challenge)
        return challenge

    def test_token(self):
        "The token's user runs the endpoint; each bad token refused"
        define(route='/orders', auth='token', token_scopes='orders:read',
            code="result['payload'] = {'login': user.login}")
        response = self.get('/orders', self.provider.token('ec-1'))
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {'login': 'alice'})
        self.assertChallenge(self.get('/orders', None), 401)
        for token in [
                self.provider.token(lifetime=-120),
                self.provider.token(aud='other'),
                self.provider.token(iss='https://evil.example.com'),
                self.provider.token(headers={'kid': 'nope'}),
                forged({'alg': 'none', 'kid': 'rsa-1'}, self.claims()),
                forged({'alg': 'HS256', 'kid': 'rsa-1'}, self.claims(),
                    key=json.dumps(self.provider.public['rsa-1']).encode()),
                self.provider.token(preferred_username='nobody'),
                self.provider.token(preferred_username='root'),
                'not-a-jwt',
                ]:
            with self.subTest(token=token[:40]):
                self.assertChallenge(
                    self.get('/orders', token), 401, 'invalid_token')
        challenge = self.assertChallenge(
            self.get('/orders', self.provider.token(scope='openid')),
            403, 'insufficient_scope')
        self.assertIn('scope="orders:read"', challenge)

    def test_exec_user(self):
        "With Run As, the token is checked and the exec user runs"
        define(route='/orders/as-web', auth='token',
            exec_user=self.web_user,
            code="result['payload'] = {'login': user.login}")
        response = self.get('/orders/as-web', self.provider.token())
        self.assertEqual(json.loads(response.data), {'login': 'web'})
        self.assertChallenge(self.get('/orders/as-web',
                self.provider.token(preferred_username='nobody')),
            401, 'invalid_token')

    def test_openapi(self):
        define(route='/orders/doc', auth='token',
            token_scopes='orders:read orders:write', code="pass")
        document = json.loads(self.client().get(
                self.url('/openapi.json')).data)
        operation = document['paths']['/orders/doc']['get']
        self.assertEqual(operation['security'],
            [{'token': ['orders:read', 'orders:write']}])
        self.assertEqual(
            document['components']['securitySchemes']['token']['scheme'],
            'bearer')
