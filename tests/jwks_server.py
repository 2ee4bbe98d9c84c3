# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Keys and tokens made by the tests, and a local server for their JWKS.

The identity provider of the token tests: an RSA (RS256) and an EC P-256
(ES256) key pair, their public halves as a JWKS served over HTTP on a
loopback port, and tokens signed with them.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = 'https://id.example.com/realms/erp'
AUDIENCE = 'tryton-endpoint'


class Provider:
    "Key pairs by kid, the JWKS of their public keys, tokens"

    def __init__(self):
        self.private = {}
        self.public = {}
        self.add('rsa-1', 'RS256')
        self.add('ec-1', 'ES256')

    def add(self, kid, algorithm):
        if algorithm.startswith('RS'):
            key = rsa.generate_private_key(public_exponent=65537,
                key_size=2048)
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid=kid, alg=algorithm, use='sig')
        self.private[kid] = (key, algorithm)
        self.public[kid] = jwk

    def jwks(self):
        return {'keys': list(self.public.values())}

    def token(self, kid='rsa-1', lifetime=300, headers=None, **claims):
        key, algorithm = self.private[kid]
        now = int(time.time())
        payload = {'iss': ISSUER, 'aud': AUDIENCE, 'iat': now,
            'nbf': now, 'exp': now + lifetime,
            'preferred_username': 'alice', 'scope': 'openid orders:read'}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key, algorithm=algorithm,
            headers={'kid': kid, **(headers or {})})


class JWKSServer:
    "The provider's JWKS on http://127.0.0.1:<port>/jwks, counting fetches"

    def __init__(self, provider):
        self.provider = provider
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                body = json.dumps(server.provider.jwks()).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
            daemon=True)

    @property
    def url(self):
        return f'http://127.0.0.1:{self.httpd.server_address[1]}/jwks'

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
