# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The pipeline's CORS step: an origin that Tryton's ``[web] cors`` does
not allow (kept aside by the mount's guard) is answered only by an
endpoint whose record allows it; see :mod:`trytond_endpoint.http.cors`."""
from functools import lru_cache

from trytond import config
from werkzeug.wrappers import Response

from trytond_endpoint.http.cors import (
    DEFAULT_MAX_AGE,
    ORIGIN_KEY,
    allowed,
    answer_headers,
    parse_origins,
    preflight_headers,
)
from trytond_endpoint.problem import Problem

__all__ = ['origin', 'check', 'preflight', 'refuse', 'headers']


def origin(request):
    "The origin only an endpoint can allow, or None"
    return request.environ.get(ORIGIN_KEY)


def refuse():
    return Problem(403, "Requests from this origin are refused; "
        "allow it in the endpoint's CORS origins or in the [web] cors "
        "configuration.")


def check(call):
    "Refuse call's origin unless its endpoint allows it"
    if call.origin is not None and not _allows(call.definition, call.origin):
        raise refuse()


def preflight(call, live):
    """The answer to a preflight of an origin kept aside, from the record
    of the endpoint it asks for; None for any other OPTIONS"""
    if call.origin is None:
        return None
    request = call.request
    method = request.headers.get('Access-Control-Request-Method', '')
    # The preflight of a GET is also that of its HEAD.
    if method not in live.allowed_methods(call.path):
        raise refuse()
    entry, _ = live.match(call.path, method)
    definition = entry.definition
    if not _allows(definition, call.origin):
        raise refuse()
    return Response(status=204, headers=preflight_headers(
            _origins(definition.cors_origins), call.origin, method,
            request.headers.get('Access-Control-Request-Headers'),
            config.getint('web', 'cache_timeout', default=DEFAULT_MAX_AGE)))


def headers(call):
    "The CORS headers of the answer to an allowed origin kept aside"
    if call.origin is None or call.definition is None:
        return None
    if not _allows(call.definition, call.origin):
        return None
    return answer_headers(_origins(call.definition.cors_origins),
        call.origin)


def _allows(definition, origin):
    return allowed(_origins(definition.cors_origins),
        definition.allow_null_origin, origin)


@lru_cache(maxsize=1024)
def _origins(text):
    return parse_origins(text)
