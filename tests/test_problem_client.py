# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Problem answers as exceptions in httpx, without a server."""
import asyncio
import json
import pickle

import httpx
import pytest

from trytond_endpoint.problem import Problem
from trytond_endpoint.problem_client import (
    ProblemError,
    araise_for_problem,
    is_problem,
    raise_for_problem,
)

PROBLEM = 'application/problem+json'
FULL = {
    'type': 'https://example.com/problems/out-of-stock',
    'title': 'Out of stock',
    'status': 409,
    'detail': 'Only 2 left of P1.',
    'instance': '/orders/42',
    'errors': [
        {'pointer': '/lines/0/qty', 'detail': 'at most 2'},
        {'parameter': 'limit', 'detail': 'is over 100'},
        ],
    'error_id': 'abc123',
    'balance': 30,
    }


def answer(status, body=None, content_type=PROBLEM, headers=None,
        text=None):
    def handler(request):
        content = (text.encode() if text is not None
            else json.dumps(body).encode())
        return httpx.Response(status, content=content, headers={
                'Content-Type': content_type, **(headers or {})})
    return httpx.MockTransport(handler)


def client(transport):
    return httpx.Client(transport=transport, base_url='http://shop/db/api',
        event_hooks={'response': [raise_for_problem]})


def test_every_member():
    with client(answer(409, FULL)) as http:
        with pytest.raises(ProblemError) as info:
            http.post('/orders', json={})
    error = info.value
    assert error.status == 409
    assert error.title == 'Out of stock'
    assert error.detail == 'Only 2 left of P1.'
    assert error.type == 'https://example.com/problems/out-of-stock'
    assert error.instance == '/orders/42'
    assert error.errors == FULL['errors']
    assert error.extra == {'error_id': 'abc123', 'balance': 30}
    assert error.error_id == 'abc123'
    assert error.response.status_code == 409
    assert error.response.request.url.path == '/db/api/orders'
    message = str(error)
    assert message.startswith('409 Out of stock: Only 2 left of P1.')
    assert '/lines/0/qty: at most 2' in message
    assert 'limit: is over 100' in message
    with pytest.raises(AttributeError):
        getattr(error, 'missing')  # noqa: B009


def test_minimal_problem_defaults():
    with client(answer(404, {'title': 'Not Found', 'status': 404})) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/nothing')
    error = info.value
    assert (error.status, error.title) == (404, 'Not Found')
    assert error.detail is None
    assert error.type == 'about:blank'
    assert error.instance is None
    assert error.errors == []
    assert error.extra == {}
    assert str(error) == '404 Not Found'


def test_server_problem_round_trip():
    "What the server answers maps back member for member"
    problem = Problem(400, "The body does not match the schema.",
        errors=[{'pointer': '/qty', 'detail': "'two' is not an integer"}],
        request_id='r1')
    served = problem.response()

    def handler(request):
        return httpx.Response(served.status_code,
            headers=dict(served.headers), content=served.get_data())
    with client(httpx.MockTransport(handler)) as http:
        with pytest.raises(ProblemError) as info:
            http.post('/orders', json={'qty': 'two'})
    error = info.value
    assert error.status == 400
    assert error.title == 'Bad Request'
    assert error.detail == "The body does not match the schema."
    assert error.errors == [{'pointer': '/qty',
            'detail': "'two' is not an integer"}]
    assert error.extra == {'request_id': 'r1'}


def test_status_from_body_and_from_response():
    with client(answer(400, dict(FULL, status='bad'))) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    assert info.value.status == 400
    # The body's status wins, as RFC 9457 makes it advisory but exact here.
    with client(answer(502, {'status': 503, 'title': 'Busy'})) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    assert info.value.status == 503


def test_ill_typed_members_are_dropped():
    body = {'title': 5, 'detail': ['x'], 'type': None, 'errors': 'bad',
        'instance': {}}
    with client(answer(400, body)) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    error = info.value
    assert error.title == 'Bad Request'
    assert error.detail is None
    assert error.type == 'about:blank'
    assert error.errors == []
    assert error.instance is None


def test_content_type_parameters_and_case():
    with client(answer(422, FULL,
                content_type='Application/Problem+JSON; charset=utf-8')) \
            as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    assert info.value.title == 'Out of stock'


def test_not_a_problem_body():
    "A proxy's HTML page: the status and its phrase, the text as detail"
    with client(answer(502, text='<h1>Bad gateway</h1>',
                content_type='text/html')) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    error = info.value
    assert (error.status, error.title) == (502, 'Bad Gateway')
    assert error.detail == '<h1>Bad gateway</h1>'
    assert error.errors == []
    assert not is_problem(error.response)


def test_broken_problem_json():
    with client(answer(500, text='{not json')) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    assert info.value.status == 500
    assert info.value.title == 'Internal Server Error'
    assert info.value.detail == '{not json'


def test_success_passes():
    with client(answer(201, {'id': 1}, content_type='application/json')) \
            as http:
        assert http.post('/orders', json={}).json() == {'id': 1}
    with client(answer(204, text='', content_type='text/plain')) as http:
        assert http.delete('/orders/1').status_code == 204


def test_retry_after():
    with client(answer(503, {'status': 503, 'title': 'Service Unavailable'},
                headers={'Retry-After': '1'})) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    assert info.value.retry_after == 1
    with client(answer(400, FULL)) as http:
        with pytest.raises(ProblemError) as info:
            http.get('/x')
    assert info.value.retry_after is None


def test_from_response_without_hook():
    with httpx.Client(transport=answer(409, FULL),
            base_url='http://shop/db/api') as http:
        response = http.get('/x')
    error = ProblemError.from_response(response)
    assert (error.status, error.detail) == (409, 'Only 2 left of P1.')


def test_streamed_response():
    "A hook may get a response whose body is not read yet"
    with client(answer(409, FULL)) as http:
        with pytest.raises(ProblemError) as info:
            with http.stream('GET', '/x'):
                pass
    assert info.value.errors == FULL['errors']


def test_async_client():
    async def call():
        async with httpx.AsyncClient(transport=answer(409, FULL),
                base_url='http://shop/db/api',
                event_hooks={'response': [araise_for_problem]}) as http:
            await http.get('/x')
    with pytest.raises(ProblemError) as info:
        asyncio.run(call())
    assert info.value.title == 'Out of stock'
    assert info.value.errors == FULL['errors']


def test_picklable_without_response():
    error = ProblemError(400, detail='x', errors=[{'detail': 'y'}],
        extra={'error_id': 'e'})
    copy = pickle.loads(pickle.dumps(error))
    assert copy.status == 400 and copy.error_id == 'e'
