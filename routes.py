# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The one Tryton route that serves every endpoint of a database."""
from trytond import config
from trytond.protocols.wrappers import (
    exceptions,
    set_max_request_size,
    with_pool,
)
from trytond.wsgi import app
from werkzeug.routing import PathConverter

from trytond_endpoint.http.guard import MountGuard
from trytond_endpoint.http.request_id import RequestIds, quote_in_logs
from trytond_endpoint.inputs import MAX_BODY_SIZE
from trytond_endpoint.problem import Problem

from .pipeline import PREFIX, serve

# The mount reads bodies itself, within each endpoint's limit; this is
# only what Werkzeug would let anything else read.
_max_size = MAX_BODY_SIZE


def _problems(func):
    def wrapper(request, *args, **kwargs):
        try:
            return func(request, *args, **kwargs)
        except exceptions.HTTPException as exception:
            # Unknown database and the like, raised before serving.
            if exception.response is not None:
                return exception.response
            return Problem(exception.code, exception.description).response()
    return wrapper


class _MountPath(PathConverter):
    "Any rest of the path, new lines too: the map answers what is unknown"
    regex = r'[^/](?s:.)*?'


app.url_map.converters['endpoint_path'] = _MountPath


@app.route(f'/<database_name>/{PREFIX}/<endpoint_path:path>')
@app.route(f'/<database_name>/{PREFIX}/', defaults={'path': ''})
@set_max_request_size(_max_size)
@_problems
@with_pool
def mount(request, pool, path):
    return serve(request, pool, '/' + path)


def _cors():
    return config.get('web', 'cors', default='').splitlines()


def _install_guard():
    "Put the mount's guard in front of Tryton's application, once"
    if getattr(app.wsgi_app, 'endpoint_guard', False):
        return
    guard = MountGuard(app.wsgi_app, PREFIX, cors=_cors,
        proxies=config.getint('web', 'num_proxies', default=0))
    # Outside the guard: its refusals carry a request id too.
    guard = RequestIds(guard, guard.mount)
    guard.endpoint_guard = True
    app.wsgi_app = guard
    quote_in_logs()


_install_guard()
