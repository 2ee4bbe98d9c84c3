"""What conditional requests and ``Idempotency-Key`` add to the OpenAPI
document: request headers, the ``ETag`` of answers, and the ``304``,
``412``, ``409`` and ``422`` responses."""
from trytond_endpoint.problem import PROBLEM_CONTENT_TYPE

__all__ = ['add_to_operation', 'add_components']

# Seed routes whose answers carry a record's or a page's ETag.
_TAGGED = {'read', 'search', 'relation', 'create', 'update'}
# Seed routes that take If-Match.
_MATCHED = {'update', 'delete'}
_IDEMPOTENT_METHODS = {'POST', 'PUT', 'PATCH', 'DELETE'}


def add_to_operation(operation, responses, definition, seed):
    "Add the headers and responses that apply to the operation"
    parameters = operation.setdefault('parameters', [])
    if definition.method == 'GET':
        parameters.append(_parameter('IfNoneMatch'))
        responses['304'] = {'$ref': '#/components/responses/NotModified'}
    if seed in _MATCHED:
        parameters.append(_parameter('IfMatch'))
        responses['412'] = {
            '$ref': '#/components/responses/PreconditionFailed'}
    if definition.idempotent and definition.method in _IDEMPOTENT_METHODS:
        parameters.append(_parameter('IdempotencyKey'))
        responses.setdefault('400', {
                '$ref': '#/components/responses/BadRequest'})
        responses['409'] = {
            '$ref': '#/components/responses/IdempotencyConflict'}
        responses['422'] = {
            '$ref': '#/components/responses/IdempotencyKeyReused'}
    for status, response in responses.items():
        if not status.startswith('2') or '$ref' in response:
            continue
        headers = response.setdefault('headers', {})
        if seed in _TAGGED or (not seed and definition.method == 'GET'):
            headers['ETag'] = {'$ref': '#/components/headers/ETag'}
        if definition.idempotent and (
                definition.method in _IDEMPOTENT_METHODS):
            headers['Idempotent-Replayed'] = {
                '$ref': '#/components/headers/IdempotentReplayed'}
    if not parameters:
        del operation['parameters']


def add_components(components):
    "Add the shared parameters, headers and responses"
    parameters = components['parameters']
    parameters['IfNoneMatch'] = _header_parameter('If-None-Match',
        "ETags of the copies the client holds (or `*`): `304` when the "
        "answer would have one of them.")
    parameters['IfMatch'] = _header_parameter('If-Match',
        "An ETag of the record as the client read it (any representation), "
        "or `*`: `412` when the record changed since.")
    parameters['IdempotencyKey'] = _header_parameter('Idempotency-Key',
        "A key unique to this request, 1 to 255 printable ASCII "
        "characters: sent again with the same request, the first answer "
        "is replayed.", {'type': 'string', 'minLength': 1, 'maxLength': 257,
            'pattern': r'^"?[\x20\x21\x23-\x5b\x5d-\x7e]+"?$'})
    headers = components['headers']
    headers['ETag'] = {
        'description': "Entity tag of the answer, for `If-None-Match` and "
        "`If-Match`.", 'schema': {'type': 'string'}}
    headers['IdempotentReplayed'] = {
        'description': "`true` on the replay of an answer kept for the "
        "`Idempotency-Key`.", 'schema': {'type': 'string', 'enum': ['true']}}
    responses = components['responses']
    responses['NotModified'] = {
        'description': "The client's copy named by `If-None-Match` is "
        "current.", 'headers': {
            'ETag': {'$ref': '#/components/headers/ETag'}}}
    responses['PreconditionFailed'] = _problem(
        "The record changed since the `If-Match` ETag was given.")
    responses['IdempotencyConflict'] = _problem(
        "A request with this `Idempotency-Key` is still running.",
        {'Retry-After': {'description': 'Seconds to wait.',
                'schema': {'type': 'string'}}})
    responses['IdempotencyKeyReused'] = _problem(
        "The `Idempotency-Key` was sent with another request.")


def _parameter(name):
    return {'$ref': f'#/components/parameters/{name}'}


def _header_parameter(name, description, schema=None):
    return {'name': name, 'in': 'header', 'description': description,
        'schema': schema or {'type': 'string'}}


def _problem(description, headers=None):
    response = {'description': description, 'content': {
            PROBLEM_CONTENT_TYPE: {
                'schema': {'$ref': '#/components/schemas/Problem'}}}}
    if headers:
        response['headers'] = headers
    return response
