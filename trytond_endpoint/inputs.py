# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What a request gives a snippet besides its path: body, query, context.

No ORM here; Tryton's configuration gives the body limits and Tryton's
JSON decoder reads ``X-Tryton-Context``.
"""
import json
from base64 import urlsafe_b64decode

from trytond import config
from trytond.protocols.jsonrpc import JSONDecoder

from trytond_endpoint.content import media_type_matches, parse_content_type
from trytond_endpoint.contracts import decode_body
from trytond_endpoint.definition import BODY_METHODS
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
    context = {}
    environ = request.environ
    header = environ.get('HTTP_X_TRYTON_CONTEXT')
    if header:
        try:
            context = json.loads(urlsafe_b64decode(header),
                object_hook=_json_decoder)
        except (ValueError, TypeError):
            raise Problem(400, "X-Tryton-Context is not base64 JSON.")
        if not isinstance(context, dict):
            raise Problem(400, "X-Tryton-Context must be an object.")
        # Keys with '_' are the server's own (access checks, request…).
        context = {k: v for k, v in context.items()
            if isinstance(k, str) and not k.startswith('_')}
    context.pop('user', None)
    if environ.get('HTTP_ACCEPT_LANGUAGE') and request.accept_languages:
        language = request.accept_languages.best
        if language and language != '*':
            context['language'] = language.replace('-', '_')
    return context


def _body(request, definition, compiled):
    if request.method not in BODY_METHODS:
        return None
    limit = config.getint('request',
        'max_size' if definition.auth == 'public'
        else 'max_size_authenticated')
    if definition.max_body_size:
        limit = min(limit, definition.max_body_size)
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"The body is over {limit} bytes.")
    media_type, params = parse_content_type(
        request.headers.get('Content-Type', ''))
    if not media_type_matches(media_type, compiled.media_type):
        raise Problem(415,
            f"Send the body as {compiled.media_type}.",
            headers={'Accept-Post': compiled.media_type})
    request.max_content_length = limit
    if media_type in {
            'application/x-www-form-urlencoded', 'multipart/form-data'}:
        request.max_form_memory_size = limit
        form, files = request.form, request.files
        data = b''
    else:
        form = files = None
        data = request.get_data(cache=True)
        if len(data) > limit:
            raise Problem(413, f"The body is over {limit} bytes.")
    return decode_body(data, media_type, params, form=form, files=files,
        contract=compiled.request_contract)
