"""CORS of one endpoint, decided from its record.

Tryton's application allows an ``Origin`` that is the request's own host
or listed in ``[web] cors`` (and adds its ``Access-Control-*`` headers
itself); any other is answered 403 before a route runs.  For the mount's
paths the guard (:mod:`.guard`) keeps such an origin aside instead, and
the endpoint the request reaches decides with :func:`allowed`: its own
origins (``cors_origins``, one a line, or ``*`` for a public endpoint)
and ``null`` when ``allow_null_origin`` is set.
"""
import re
from dataclasses import dataclass

__all__ = ['Origins', 'parse_origins', 'allowed', 'answer_headers',
    'preflight_headers', 'ORIGIN_KEY', 'EXPOSED']

# Where the guard keeps an origin only the endpoint can allow.
ORIGIN_KEY = 'endpoint.cors_origin'
# What a browser's script may read of an answer besides the simple
# headers: what the mount's answers carry.
EXPOSED = ', '.join([
        'Content-Language', 'Content-Range', 'Accept-Ranges', 'Link',
        'Location', 'ETag', 'Retry-After', 'RateLimit', 'RateLimit-Policy',
        'Deprecation', 'Sunset', 'X-Request-Id', 'Idempotent-Replayed'])
_ORIGIN = re.compile(r'[a-z][a-z0-9+.-]*://'
    r'(?:[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*|\[[0-9a-f:.]{2,45}\])'
    r'(?::[0-9]{1,5})?', re.IGNORECASE)
_TOKEN_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
    r"(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
DEFAULT_MAX_AGE = 600


@dataclass(frozen=True)
class Origins:
    names: frozenset = frozenset()
    any: bool = False


def parse_origins(text):
    "The origins of a ``cors_origins`` text; ValueError names a bad line"
    names, any_ = set(), False
    for line in (text or '').splitlines():
        line = line.strip()
        if not line:
            continue
        if line == '*':
            any_ = True
        elif _ORIGIN.fullmatch(line):
            # Browsers send scheme and host in lower case.
            names.add(line.lower())
        else:
            raise ValueError(f"{line!r} is not an origin "
                "(scheme://host[:port], no path) nor *.")
    return Origins(frozenset(names), any_)


def allowed(origins, allow_null, origin):
    "Whether an endpoint with these origins answers a script of origin"
    if origin == 'null':
        return allow_null
    return origins.any or origin.lower() in origins.names


def answer_headers(origins, origin):
    "The CORS headers of an answer to a script of an allowed origin"
    if origins.any and origin != 'null':
        return {'Access-Control-Allow-Origin': '*',
            'Access-Control-Expose-Headers': EXPOSED}
    return {'Access-Control-Allow-Origin': origin,
        'Access-Control-Expose-Headers': EXPOSED,
        'Vary': 'Origin'}


def preflight_headers(origins, origin, method, requested, max_age):
    "The headers of the 204 to a preflight the endpoint of method allows"
    headers = answer_headers(origins, origin)
    headers['Access-Control-Allow-Methods'] = method
    if requested and _TOKEN_LIST.fullmatch(requested.strip()):
        headers['Access-Control-Allow-Headers'] = requested.strip()
    headers['Access-Control-Max-Age'] = str(max_age)
    return headers
