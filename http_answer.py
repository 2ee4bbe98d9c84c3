# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What an endpoint's record adds to every answer of the endpoint, errors
included: CORS for an origin it allows, its rate limit quota, deprecation
and sunset; and ``Cache-Control`` on a successful GET."""
from trytond_endpoint.http.headers import cache_control, lifecycle_headers

from . import cors, ratelimit

__all__ = ['finish']

_CACHED_METHODS = frozenset({'GET', 'HEAD'})


def finish(call, response):
    definition = call.definition
    if definition is None:
        return
    headers = response.headers
    for extra in (cors.headers(call), ratelimit.headers(call)):
        if extra:
            _add(headers, extra)
    if definition.deprecation or definition.sunset:
        _add(headers, lifecycle_headers(
                definition.deprecation, definition.sunset))
    if (definition.cache_max_age is not None
            and 200 <= response.status_code < 300
            and call.request.method in _CACHED_METHODS
            and 'Cache-Control' not in headers):
        headers['Cache-Control'] = cache_control(definition)
        if definition.auth == 'public':
            # The answer's language is chosen by the caller.
            response.vary.add('Accept-Language')


def _add(headers, extra):
    for name, value in extra.items():
        if name == 'Vary':
            headers['Vary'] = ', '.join(
                filter(None, [headers.get('Vary'), value]))
        else:
            headers[name] = value
