# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Answers built without the ORM: a snippet run's ``result`` as an HTTP
response, and the mount's answer to ``OPTIONS``."""
from werkzeug.wrappers import Response

from trytond_endpoint import jsonenc
from trytond_endpoint.http.etag import check_etag
from trytond_endpoint.sandbox import Response as SnippetResponse
from trytond_endpoint.sandbox import check_payload
from trytond_endpoint.sandbox_namespaces import (
    AnswerHeaderError,
    FrozenMultiMapping,
    check_answer_headers,
)

__all__ = ['_response', '_from_snippet_response', 'options']


def _response(result, method, mount):
    "The HTTP answer of result; mount() gives the database's mount path"
    if not isinstance(result, dict):
        raise TypeError("result must stay a dict")
    if len(result) == 1 and type(result.get('payload')) in (dict, list):
        # The common answer: a JSON payload with no status or header.
        return Response(jsonenc.dumps(check_payload(result['payload'])),
            content_type='application/json')
    response = result.get('response')
    if response is not None:
        if not isinstance(response, SnippetResponse):
            raise TypeError("result['response'] must be a Response")
        return _from_snippet_response(response, mount)
    payload = result.get('payload')
    status = result.get('status_code', 200 if payload is not None or
        method in {'GET', 'HEAD'} else 204)
    headers = result.get('headers') or {}
    if isinstance(payload, FrozenMultiMapping):
        payload = payload.to_dict()
    if payload is None:
        payload = b''
    elif not isinstance(payload, (str, bytes, bytearray, dict, list)):
        # Numbers, booleans, decimals: a JSON scalar.
        check_payload(payload)
        payload = jsonenc.dumps(payload)
        headers = {'Content-Type': 'application/json', **headers}
    return _from_snippet_response(SnippetResponse(
            payload, status=status, headers=headers), mount)


def _from_snippet_response(response, mount):
    # Every answer of a snippet with headers passes here, Response(...)
    # and result['headers'] alike.
    if response.headers:
        check_answer_headers(response.headers, mount())
    body = response.body
    content_type = response.content_type
    if isinstance(body, (dict, list, tuple)):
        check_payload(body)
        body = jsonenc.dumps(body)
        content_type = content_type or 'application/json'
    elif isinstance(body, str):
        body = body.encode('utf-8')
        content_type = content_type or 'text/plain; charset=utf-8'
    elif isinstance(body, (bytes, bytearray)):
        body = bytes(body)
        content_type = content_type or 'application/octet-stream'
    else:
        raise TypeError("The payload must be a dict, list, str or bytes.")
    if response.status == 204:
        body = b''
    answer = Response(body, status=response.status,
        content_type=content_type if body else None)
    for name, value in (response.headers or {}).items():
        if name.lower() == 'etag':
            # result['headers'] is not checked when set, as Response is.
            try:
                value = check_etag(value)
            except ValueError as exception:
                raise AnswerHeaderError(f"ETag: {exception}") from None
        answer.headers[name] = value
    return answer


def options(live, path):
    "The answer to OPTIONS: the methods the map has for path"
    allowed = live.allowed_methods(path)
    return Response(status=204, headers={
            'Allow': ', '.join(allowed),
            'Access-Control-Allow-Methods': ', '.join(allowed),
            })
