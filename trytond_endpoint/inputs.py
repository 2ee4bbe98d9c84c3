# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What a request gives a snippet besides its path: body, query, context.

No ORM here; Tryton's configuration gives the body limits and Tryton's
JSON decoder reads ``X-Tryton-Context``.
"""
from trytond import config
from trytond.protocols.jsonrpc import JSONDecoder
from werkzeug.datastructures import MultiDict

from trytond_endpoint.content import media_type_matches, parse_content_type
from trytond_endpoint.contracts import decode_body
from trytond_endpoint.definition import BODY_METHODS
from trytond_endpoint.http.body import check_declared, has_body, read_body
from trytond_endpoint.http.context import accepted_language, parse_context
from trytond_endpoint.http.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    body_limit,
)
from trytond_endpoint.problem import Problem

__all__ = ['_body', '_context', 'query_args']

_json_decoder = JSONDecoder()


def query_args(request, compiled):
    "The query as the snippet's request.args: coerced by its contract"
    if compiled.query_contract is not None:
        return compiled.query_contract.coerce(request.args)
    if request.environ.get('QUERY_STRING'):
        # Pairs: a repeated parameter stays repeated for getlist().
        return list(request.args.items(multi=True))
    # Werkzeug would parse the empty query string into a new MultiDict.
    return None


def _context(request):
    environ = request.environ
    header = environ.get('HTTP_X_TRYTON_CONTEXT')
    context = parse_context(header, _json_decoder) if header else {}
    if environ.get('HTTP_ACCEPT_LANGUAGE') and request.accept_languages:
        language = accepted_language(request.accept_languages.best)
        if language:
            context['language'] = language
    return context


MAX_BODY_SIZE = config.getint('endpoint', 'max_body_size',
    default=DEFAULT_MAX_BODY_SIZE)
BODY_TIMEOUT = config.getfloat('endpoint', 'body_timeout',
    default=DEFAULT_BODY_TIMEOUT)


def _body(request, definition, compiled):
    environ = request.environ
    limit = body_limit(definition.auth == 'public',
        tryton_public=config.getint('request', 'max_size'),
        tryton_authenticated=config.getint(
            'request', 'max_size_authenticated'),
        module=MAX_BODY_SIZE, endpoint=definition.max_body_size)
    if request.method not in BODY_METHODS:
        if has_body(environ):
            # Only for trusted code: a report's data comes with a GET.
            request._cached_data = read_body(
                environ, limit, timeout=BODY_TIMEOUT)
        return None
    if not has_body(environ):
        # No body needs no Content-Type: an empty body of the endpoint's.
        return decode_body(b'', compiled.media_type, {},
            form=MultiDict(), files=MultiDict(),
            contract=compiled.request_contract)
    check_declared(environ, limit)
    media_type, params = parse_content_type(
        request.headers.get('Content-Type', ''))
    if not media_type_matches(media_type, compiled.media_type):
        raise Problem(415,
            f"Send the body as {compiled.media_type}.",
            headers={'Accept-Post': compiled.media_type})
    data = read_body(environ, limit, timeout=BODY_TIMEOUT)
    # What request.get_data() gives trusted code (the REST helper).
    request._cached_data = data
    return decode_body(data, media_type, params,
        contract=compiled.request_contract, form_limit=limit)
