"""OAuth2 / OpenID Connect access tokens (JWT), with PyJWT.

No ORM here.  ``KeySet`` holds the identity provider's public keys (a
JWKS file or URL), ``verify`` checks a token against them and the
configured issuer, audience and scopes.

Algorithms are pinned: only the configured asymmetric ones, each key
used with its own algorithm only, symmetric (``oct``) keys dropped; so
neither ``alg: none`` nor a token "signed" with the public key as an HMAC
secret can pass.
"""
import json
import os
import threading
import time
import urllib.request
from dataclasses import dataclass

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidKeyError,
    InvalidTokenError,
    PyJWKError,
)

__all__ = ['ASYMMETRIC', 'TokenRefused', 'KeysUnavailable', 'KeySet',
    'Policy', 'verify', 'parse_scopes', 'token_scopes']

ASYMMETRIC = frozenset({
        'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
        'ES256', 'ES384', 'ES512', 'EdDSA'})
# A JWKS larger than this is no key set: refused, not held in memory.
_MAX_JWKS = 1 << 20
_MAX_TOKEN = 16 * 1024
_clock = time.monotonic


class TokenRefused(Exception):
    """A token not accepted: ``error`` is RFC 6750's code
    (``invalid_token``, ``insufficient_scope``)"""

    def __init__(self, error, description, scope=None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.scope = scope


class KeysUnavailable(Exception):
    "The key set could not be read: no token can be checked"


def parse_scopes(text):
    "The scopes of a space-separated text, as a frozenset"
    scopes = frozenset((text or '').split())
    for scope in scopes:
        # RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if not all(0x21 <= ord(c) <= 0x7e and c not in '"\\' for c in scope):
            raise ValueError(f"{scope!r} is not a valid scope.")
    return scopes


def token_scopes(claims):
    "The scopes a token grants: ``scope`` (RFC 9068) or ``scp`` (a list)"
    scope = claims.get('scope')
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get('scp')
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    if isinstance(scp, str):
        return frozenset(scp.split())
    return frozenset()


class KeySet:
    """The public keys of a JWKS, read from a file or fetched from a URL.

    Kept ``ttl`` seconds; a token with an unknown ``kid`` makes it read
    again (the provider rolled its keys over), at most once per
    ``refresh`` seconds, so that forged ``kid`` values cannot make the
    server fetch at every request.  When a read fails the keys already
    known are kept.
    """

    def __init__(self, source, timeout=5, ttl=3600, refresh=30):
        self.source = source
        self.timeout = timeout
        self.ttl = ttl
        self.refresh = refresh
        self._keys = None
        self._read_at = None
        self._lock = threading.Lock()

    def key(self, kid):
        "The JWK dict of kid (None: the only key); None when unknown"
        keys = self._current()
        found = self._find(keys, kid)
        if found is None and self._may_read_again():
            found = self._find(self._read(), kid)
        return found

    @staticmethod
    def _find(keys, kid):
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        for key in keys:
            if key.get('kid') == kid:
                return key
        return None

    def _current(self):
        if self._keys is None or _clock() - self._read_at > self.ttl:
            return self._read()
        return self._keys

    def _may_read_again(self):
        return _clock() - self._read_at > self.refresh

    def _read(self):
        with self._lock:
            try:
                keys = _public_keys(self._load())
            except Exception as exception:
                if self._keys is None:
                    raise KeysUnavailable(
                        f"The token keys could not be read: "
                        f"{type(exception).__name__}") from exception
                keys = self._keys
            self._keys = keys
            self._read_at = _clock()
            return keys

    def _load(self):
        source = self.source
        if source.startswith(('http://', 'https://')):
            request = urllib.request.Request(source,
                headers={'Accept': 'application/json'})
            with urllib.request.urlopen(
                    request, timeout=self.timeout) as response:
                data = response.read(_MAX_JWKS + 1)
        else:
            with open(os.path.expanduser(source), 'rb') as file:
                data = file.read(_MAX_JWKS + 1)
        if len(data) > _MAX_JWKS:
            raise ValueError("The key set is too large.")
        return json.loads(data)


def _public_keys(document):
    keys = document.get('keys') if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError("No 'keys' in the key set.")
    # A shared secret is no identity provider's key: never accepted.
    return [k for k in keys if isinstance(k, dict)
        and k.get('kty') in {'RSA', 'EC', 'OKP'}
        and k.get('use', 'sig') == 'sig']


@dataclass(frozen=True)
class Policy:
    "What a token must satisfy, from the configuration"
    keys: KeySet
    issuer: str | None
    audience: str | None
    algorithms: frozenset
    leeway: float = 30


def verify(token, policy, required_scopes=frozenset()):
    "The claims of a valid token; TokenRefused, or KeysUnavailable"
    if not token or len(token) > _MAX_TOKEN:
        raise _invalid()
    try:
        header = jwt.get_unverified_header(token)
    except InvalidTokenError:
        raise _invalid() from None
    algorithm = header.get('alg')
    if algorithm not in policy.algorithms:
        raise _invalid()
    kid = header.get('kid')
    if kid is not None and not isinstance(kid, str):
        raise _invalid()
    jwk = policy.keys.key(kid)
    if jwk is None or jwk.get('alg', algorithm) != algorithm:
        raise _invalid()
    try:
        # Bound to the token's algorithm: a key of another type fails.
        key = jwt.PyJWK(jwk, algorithm=algorithm)
    except (PyJWKError, InvalidKeyError):
        raise _invalid() from None
    required = ['exp']
    if policy.issuer:
        required.append('iss')
    if policy.audience:
        required.append('aud')
    try:
        claims = jwt.decode(token, key, algorithms=[algorithm],
            issuer=policy.issuer, audience=policy.audience,
            leeway=policy.leeway,
            options={'require': required,
                'verify_aud': bool(policy.audience),
                'verify_iss': bool(policy.issuer)})
    except ExpiredSignatureError:
        raise _invalid("The access token expired.") from None
    except ImmatureSignatureError:
        raise _invalid("The access token is not valid yet.") from None
    except InvalidTokenError:
        raise _invalid() from None
    missing = required_scopes - token_scopes(claims)
    if missing:
        raise TokenRefused('insufficient_scope',
            "The access token lacks a required scope.",
            scope=' '.join(sorted(required_scopes)))
    return claims


def _invalid(description="The access token is invalid."):
    return TokenRefused('invalid_token', description)
