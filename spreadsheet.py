# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""A snippet's list of records as a spreadsheet, when the caller asks.

A caller asks with ``?format=xlsx``, a path ending in ``.xlsx`` (a route
or an alias like ``/partners.xlsx``) or an ``Accept`` that prefers the
spreadsheet's media type to JSON. Only ``result['payload']`` is
converted; a snippet that builds its own ``Response`` (``rest.search``
among them) answers what it built.
"""
from trytond_endpoint import xlsx
from trytond_endpoint.answers import _from_snippet_response
from trytond_endpoint.problem import Problem
from trytond_endpoint.sandbox import Response
from trytond_endpoint.sandbox_namespaces import check_payload

from . import rest_formats

_JSON = 'application/json'


def asked(request, path):
    "Whether the caller asks for a spreadsheet"
    if path.endswith('.xlsx'):
        return True
    # request.args parses the query string even when it is empty.
    if (request.environ.get('QUERY_STRING')
            and request.args.get('format') == 'xlsx'):
        return True
    accept = request.headers.get('Accept')
    # Parsing Accept costs more than the rest of this test: only when the
    # header names a spreadsheet at all.
    if not accept or 'spreadsheetml' not in accept:
        return False
    return request.accept_mimetypes.best_match(
        [_JSON, xlsx.MEDIA_TYPE]) == xlsx.MEDIA_TYPE


def answer(request, path, result, mount, name):
    """The spreadsheet answer of result, or None when none is asked or
    the snippet built its own Response; 406 when the payload is no list
    of records."""
    if not isinstance(result, dict) or result.get('response') is not None:
        return None
    if not asked(request, path):
        return None
    payload = result.get('payload')
    if not xlsx.is_records(payload):
        raise Problem(406, "Only a list of records can be a spreadsheet; "
            "this endpoint answers JSON.")
    check_payload(payload)
    body = rest_formats.encode(list(payload), 'xlsx', name)
    return _from_snippet_response(Response(body,
            status=result.get('status_code', 200),
            headers=result.get('headers') or {},
            content_type=xlsx.MEDIA_TYPE), mount)
