"""The OpenAPI security of the ``signature`` and ``token`` auth modes.

A signed endpoint's scheme is its signature header as an API key (no
secret of it is ever written here); a token endpoint's is the HTTP bearer
scheme with the scopes it requires.
"""
import re

from .http.signature import scheme_of

__all__ = ['security', 'security_schemes']

TOKEN_SCHEME = {
    'type': 'http', 'scheme': 'bearer', 'bearerFormat': 'JWT',
    'description': (
        "OAuth2 / OpenID Connect access token of the configured identity "
        "provider; the operation lists the scopes it requires."),
    }


def security(definition):
    "The operation's security requirement, None for other auth modes"
    if definition.auth == 'token':
        return [{'token': sorted((definition.token_scopes or '').split())}]
    if definition.auth == 'signature':
        return [{_signature_name(definition): []}]
    return None


def security_schemes(definitions):
    "The schemes the definitions' requirements name"
    schemes = {}
    for definition in definitions:
        if definition.auth == 'token':
            schemes['token'] = TOKEN_SCHEME
        elif definition.auth == 'signature':
            scheme = scheme_of(definition)
            description = (f"HMAC-{scheme.algorithm.upper()} signature of "
                "the raw body")
            if scheme.timestamped:
                description += (", with its timestamp, accepted within "
                    f"{scheme.tolerance} seconds and once")
            schemes[_signature_name(definition)] = {
                'type': 'apiKey', 'in': 'header', 'name': scheme.header,
                'description': (f"{description} "
                    f"({definition.signature_scheme} scheme)."),
                }
    return schemes


def _signature_name(definition):
    scheme = scheme_of(definition)
    name = f'signature-{definition.signature_scheme}'
    if definition.signature_scheme == 'generic':
        # Two generic endpoints may differ in header, algorithm, timing.
        name += (f'-{scheme.header.lower()}-{scheme.algorithm}'
            f'-{scheme.encoding}-{scheme.layout}-{scheme.tolerance}')
    elif scheme.timestamped:
        name += f'-{scheme.tolerance}'
    # Component names allow fewer characters than header names.
    return re.sub(r'[^A-Za-z0-9._-]', '_', name)
