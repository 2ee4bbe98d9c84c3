# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Auth mode ``token``: an OAuth2 / OpenID Connect access token (JWT).

The identity provider is the configuration's (``[endpoint] token_issuer``,
``token_audience``, ``token_jwks``, ``token_algorithms``, ``token_leeway``,
``token_user_claim``, ``token_jwks_timeout``); the endpoint adds the
scopes it requires.  The Tryton user is the active one whose login is the
claim's value; root never is.
"""
from functools import lru_cache

from trytond import config
from trytond.transaction import Transaction

from trytond_endpoint.http.jwt_token import (
    ASYMMETRIC,
    KeySet,
    KeysUnavailable,
    Policy,
    TokenRefused,
    parse_scopes,
    verify,
)
from trytond_endpoint.problem import Problem

__all__ = ['run_as', 'policy']

_DEFAULT_ALGORITHMS = 'RS256 ES256'


@lru_cache(maxsize=1)
def policy():
    "The token policy of the configuration, None when no keys are set"
    source = config.get('endpoint', 'token_jwks', default='')
    if not source:
        return None
    algorithms = frozenset(config.get('endpoint', 'token_algorithms',
            default=_DEFAULT_ALGORITHMS).split())
    # Pinned to public-key algorithms whatever the configuration says.
    algorithms &= ASYMMETRIC
    return Policy(
        keys=KeySet(source,
            timeout=config.getfloat(
                'endpoint', 'token_jwks_timeout', default=5),
            ttl=config.getint('endpoint', 'token_jwks_ttl', default=3600)),
        issuer=config.get('endpoint', 'token_issuer', default=None) or None,
        audience=config.get(
            'endpoint', 'token_audience', default=None) or None,
        algorithms=algorithms,
        leeway=config.getfloat('endpoint', 'token_leeway', default=30))


def user_claim():
    return config.get('endpoint', 'token_user_claim',
        default='preferred_username')


def run_as(definition, request, pool):
    "The user a request's valid token names; else the problem to answer"
    token = _bearer(request)
    if not token:
        raise _challenge(None)
    token_policy = policy()
    if token_policy is None:
        raise Problem(503, "Token authentication is not configured.")
    try:
        claims = verify(token, token_policy,
            parse_scopes(definition.token_scopes))
    except TokenRefused as refused:
        raise _challenge(refused) from None
    except KeysUnavailable:
        raise Problem(503, "The token keys are unavailable; retry later.",
            headers={'Retry-After': '30'}) from None
    login = claims.get(user_claim())
    user_id = _user(pool, login) if isinstance(login, str) else None
    if not user_id:
        raise _challenge(TokenRefused('invalid_token',
                "The access token names no user of this database."))
    return definition.exec_user or user_id


def _user(pool, login):
    User = pool.get('res.user')
    table = User.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.id,
            where=(table.login == login) & (table.active == True)  # noqa
            & (table.id != 0), limit=1))
    row = cursor.fetchone()
    return row[0] if row else None


def _bearer(request):
    scheme, _, token = request.headers.get('Authorization', '').partition(
        ' ')
    return token.strip() if scheme.lower() == 'bearer' else None


def _challenge(refused):
    "401 or 403 with RFC 6750's WWW-Authenticate"
    challenge = 'Bearer realm="Tryton"'
    if refused is None:
        return Problem(401, "Missing or invalid credentials.",
            headers={'WWW-Authenticate': challenge})
    challenge += (f', error="{refused.error}", '
        f'error_description="{refused.description}"')
    if refused.scope:
        challenge += f', scope="{refused.scope}"'
    status = 403 if refused.error == 'insufficient_scope' else 401
    return Problem(status, refused.description,
        headers={'WWW-Authenticate': challenge})
