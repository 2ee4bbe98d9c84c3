# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The OpenAPI document and the docs page, without a database."""
import json
import re

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from trytond_endpoint.definition import Definition
from trytond_endpoint.openapi import (
    build_openapi,
    docs_page,
    openapi_yaml,
    static_file,
)
from trytond_endpoint.xlsx import MEDIA_TYPE as SPREADSHEET

XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="order" type="xs:string"/>
</xs:schema>"""
JSON_BODY = json.dumps({
        '$schema': 'https://json-schema.org/draft/2020-12/schema',
        'type': 'object',
        'required': ['lines'],
        'properties': {
            'lines': {'type': 'array', 'items': {'$ref': '#/$defs/Line'}},
            'parent': {'$ref': '#'},
            },
        '$defs': {'Line': {
                'type': 'object',
                'properties': {
                    'qty': {'type': 'integer', 'minimum': 1},
                    'next': {'$ref': '#/$defs/Line'},
                    }}},
        })
YAML_BODY = """\
type: object
properties:
  name: {type: string}
  since: {type: string, format: date, default: 2024-01-01}
required: [name]
"""
QUERY = json.dumps({
        'type': 'object',
        'properties': {
            'limit': {'type': 'integer', 'default': 10,
                'description': 'How many.'},
            'active': {'type': 'boolean'},
            'tag': {'type': 'array', 'items': {'type': 'string'}},
            'sort': {'$ref': '#/$defs/Sort'},
            },
        'required': ['limit'],
        '$defs': {'Sort': {'enum': ['name', 'date']}},
        })
RESPONSE = '{"type": "array", "items": {"type": "string"}}'

SEEDS = [
    Definition(101, 'REST search', '/rest/model/<name>', 'GET',
        auth='application', group='REST'),
    Definition(102, 'REST create', '/rest/model/<name>', 'POST',
        'application/json', auth='application', group='REST'),
    Definition(103, 'REST read', '/rest/model/<name>/<int:id>', 'GET',
        auth='application', group='REST'),
    Definition(104, 'REST update', '/rest/model/<name>/<int:id>', 'PUT',
        'application/json', auth='application', group='REST'),
    Definition(105, 'REST patch', '/rest/model/<name>/<int:id>', 'PATCH',
        'application/json', auth='application', group='REST'),
    Definition(106, 'REST delete', '/rest/model/<name>/<int:id>', 'DELETE',
        auth='application', group='REST'),
    Definition(107, 'REST relation', '/rest/model/<name>/<int:id>/<field>',
        'GET', auth='application', group='REST'),
    Definition(108, 'REST record action',
        '/rest/model/<name>/<int:id>/<action>', 'POST', 'application/json',
        auth='application', group='REST'),
    Definition(109, 'REST model action', '/rest/model/<name>/<action>',
        'POST', 'application/json', auth='application', group='REST'),
    Definition(110, 'REST report', '/rest/report/<name>/<int:id>', 'GET',
        auth='application', group='REST'),
    ]
CUSTOM = [
    Definition(1, 'Converters',
        '/convert/<a>/<string:b>/<int:c>/<float:d>/<uuid:e>'
        '/<any(red, blue):f>/<base64:g>/<path:h>', 'GET'),
    Definition(2, 'List partners', '/partners', 'GET', auth='user',
        query_schema=QUERY, response_schema=RESPONSE, group='Partners',
        description='Partners, *paged*.'),
    Definition(3, 'Create order', '/orders', 'POST', 'application/json',
        auth='application', request_schema=JSON_BODY, group='Sales'),
    Definition(4, 'Create partner', '/partners', 'POST', 'application/json',
        auth='user', request_schema=YAML_BODY, group='Partners'),
    Definition(5, 'Import order', '/orders/xml', 'POST', 'application/xml',
        request_schema=XSD, exec_user=2),
    Definition(6, 'Web hook', '/hook/<token>', 'POST',
        'application/x-www-form-urlencoded', exec_user=2,
        request_schema='{"type": "object", "properties": '
        '{"event": {"type": "string"}}}'),
    Definition(7, 'Upload CSV', '/upload', 'PUT', 'text/csv',
        auth='application'),
    Definition(8, 'No schema', '/raw', 'PATCH', 'application/json',
        auth='user'),
    Definition(9, 'Hidden', '/hidden', 'GET', documented=False),
    Definition(10, 'Archived', '/archived', 'GET', active=False),
    Definition(11, 'Broken', '/broken/<int:id>', 'POST', 'application/json',
        request_schema='{"type": "object",', query_schema='- [unclosed',
        response_schema='just: [text', exec_user=2),
    Definition(12, 'Bad route', '/bad/<nope:x>', 'GET'),
    Definition(13, 'Remove item', '/items/<int:id>', 'DELETE',
        auth='application'),
    Definition(14, 'Crème brûlée', '/dessert', 'GET', exec_user=2),
    ]


@pytest.fixture(scope='module')
def doc():
    return build_openapi(CUSTOM + SEEDS, title='Shop', version='8.2',
        server_url='http://localhost:8000/shop/api',
        rest_seed_ids={d.id for d in SEEDS})


def operations(doc):
    "Return {operationId: (path, method, operation)}."
    return {op['operationId']: (path, method, op)
        for path, item in doc['paths'].items()
        for method, op in item.items()}


def by_id(doc, id_):
    for op_id, found in operations(doc).items():
        if op_id.endswith(f'_{id_}'):
            return found
    raise KeyError(id_)


def params(operation, where=None):
    return {p['name']: p for p in operation.get('parameters', [])
        if '$ref' not in p and where in {None, p['in']}}


def refs(operation):
    return [p['$ref'].rsplit('/', 1)[1]
        for p in operation.get('parameters', []) if '$ref' in p]


def test_valid_openapi_31(doc):
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc['openapi'] == '3.1.0'
    assert doc['info'] == {'title': 'Shop', 'version': '8.2'}
    assert doc['servers'] == [{'url': 'http://localhost:8000/shop/api'}]


def test_empty_document_valid():
    doc = build_openapi([], title='Empty', version='1', server_url='/api')
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc['paths'] == {}


def test_left_out(doc):
    ids = {op_id.rsplit('_', 1)[1] for op_id in operations(doc)}
    assert '9' not in ids  # undocumented
    assert '10' not in ids  # archived
    assert '12' not in ids  # route that does not compile
    assert '/hidden' not in doc['paths']
    assert '/archived' not in doc['paths']


def test_converters(doc):
    path, method, op = by_id(doc, 1)
    assert path == '/convert/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}'
    assert method == 'get'
    found = params(op, 'path')
    assert list(found) == list('abcdefgh')
    assert all(p['required'] for p in found.values())
    assert found['a']['schema'] == {'type': 'string'}
    assert found['b']['schema'] == {'type': 'string'}
    assert found['c']['schema'] == {'type': 'integer', 'minimum': 0}
    assert found['d']['schema'] == {'type': 'number', 'minimum': 0}
    assert found['e']['schema'] == {'type': 'string', 'format': 'uuid'}
    assert found['f']['schema'] == {'type': 'string',
        'enum': ['blue', 'red']}
    assert found['g']['schema']['type'] == 'string'
    assert found['h']['schema'] == {'type': 'string'}
    assert '/' in found['h']['description']


def test_operation(doc):
    path, method, op = by_id(doc, 2)
    assert (path, method) == ('/partners', 'get')
    assert op['operationId'] == 'list_partners_2'
    assert op['summary'] == 'List partners'
    assert op['description'] == 'Partners, *paged*.'
    assert op['tags'] == ['Partners']
    assert by_id(doc, 14)[2]['operationId'] == 'creme_brulee_14'
    assert 'tags' not in by_id(doc, 1)[2]


def test_operation_ids_unique_and_stable(doc):
    ids = [op['operationId'] for item in doc['paths'].values()
        for op in item.values()]
    assert len(ids) == len(set(ids))
    again = build_openapi(list(reversed(CUSTOM + SEEDS)), title='Shop',
        version='8.2', server_url='http://localhost:8000/shop/api',
        rest_seed_ids={d.id for d in SEEDS})
    assert again == doc


def test_query_parameters(doc):
    _, _, op = by_id(doc, 2)
    query = params(op, 'query')
    assert query['limit']['required'] is True
    assert query['limit']['schema'] == {
        'type': 'integer', 'default': 10, 'description': 'How many.'}
    assert query['limit']['description'] == 'How many.'
    assert query['active']['schema'] == {'type': 'boolean'}
    assert 'required' not in query['active']
    assert query['tag']['style'] == 'form'
    assert query['tag']['explode'] is True
    assert query['tag']['schema']['type'] == 'array'
    # local definitions are moved where a reference in the document finds them
    assert query['sort']['schema'] == {
        '$ref': '#/components/schemas/ListPartners2QuerySort'}
    assert doc['components']['schemas']['ListPartners2QuerySort'] == {
        'enum': ['name', 'date']}


def test_json_body(doc):
    _, _, op = by_id(doc, 3)
    body = op['requestBody']
    assert body['required'] is True
    schema = body['content']['application/json']['schema']
    assert schema == {'$ref': '#/components/schemas/CreateOrder3Request'}
    schemas = doc['components']['schemas']
    request = schemas['CreateOrder3Request']
    assert '$defs' not in request and '$schema' not in request
    assert request['properties']['lines']['items'] == {
        '$ref': '#/components/schemas/CreateOrder3RequestLine'}
    assert request['properties']['parent'] == {
        '$ref': '#/components/schemas/CreateOrder3Request'}
    line = schemas['CreateOrder3RequestLine']
    assert line['properties']['next'] == {
        '$ref': '#/components/schemas/CreateOrder3RequestLine'}


def test_yaml_body(doc):
    _, _, op = by_id(doc, 4)
    ref = op['requestBody']['content']['application/json']['schema']['$ref']
    schema = doc['components']['schemas'][ref.rsplit('/', 1)[1]]
    assert schema['required'] == ['name']
    # YAML reads the default as a date: documented as its JSON string
    assert schema['properties']['since']['default'] == '2024-01-01'


def test_xml_body(doc):
    _, _, op = by_id(doc, 5)
    media = op['requestBody']['content']['application/xml']
    assert media['schema'] == {'type': 'string'}
    assert media['x-xsd'] == XSD
    assert 'XSD' in op['requestBody']['description']


def test_form_body(doc):
    path, method, op = by_id(doc, 6)
    assert (path, method) == ('/hook/{token}', 'post')
    content = op['requestBody']['content']
    ref = content['application/x-www-form-urlencoded']['schema']['$ref']
    schema = doc['components']['schemas'][ref.rsplit('/', 1)[1]]
    assert schema['properties'] == {'event': {'type': 'string'}}


def test_body_without_schema(doc):
    _, _, op = by_id(doc, 7)
    assert op['requestBody']['content'] == {
        'text/csv': {'schema': {'type': 'string'}}}
    _, method, op = by_id(doc, 8)
    assert method == 'patch'
    assert op['requestBody']['content'] == {
        'application/json': {'schema': {}}}
    assert 'required' not in op['requestBody']
    _, _, op = by_id(doc, 13)
    assert 'requestBody' not in op


def test_responses(doc):
    _, _, op = by_id(doc, 2)
    success = op['responses']['200']['content']['application/json']
    ref = success['schema']['$ref']
    assert doc['components']['schemas'][ref.rsplit('/', 1)[1]] == {
        'type': 'array', 'items': {'type': 'string'}}
    _, _, op = by_id(doc, 13)
    assert op['responses']['200']['content']['application/json'] == {
        'schema': {}}


def test_problem_responses(doc):
    components = doc['components']
    problem = components['schemas']['Problem']
    assert set(problem['required']) == {'type', 'title', 'status', 'detail'}
    item = problem['properties']['errors']['items']
    assert set(item['properties']) == {'pointer', 'parameter', 'detail'}
    for name, _status in [('BadRequest', 400), ('Unauthorized', 401),
            ('Forbidden', 403), ('NotFound', 404),
            ('PayloadTooLarge', 413), ('UnsupportedMediaType', 415),
            ('InternalServerError', 500), ('ServiceUnavailable', 503)]:
        content = components['responses'][name]['content']
        assert content['application/problem+json']['schema'] == {
            '$ref': '#/components/schemas/Problem'}
    assert 'WWW-Authenticate' in components['responses']['Unauthorized'][
        'headers']

    def statuses(id_):
        return set(by_id(doc, id_)[2]['responses'])
    # public, GET without path variables
    assert statuses(14) == {'200', '2XX', '304', '400', '500', '503'}
    # a path variable: 404, and 405 when its value fits another route
    assert statuses(6) >= {'404', '405'}
    # the code may answer nothing: 204, but not to a GET
    assert '204' in statuses(6) and '204' not in statuses(14)
    # public POST with a body and a path variable
    assert statuses(6) >= {'404', '413', '415'}
    assert not statuses(6) & {'401', '403'}
    # application, DELETE without a body
    assert statuses(13) >= {'401', '403', '404'}
    assert not statuses(13) & {'413', '415'}


def test_request_id_on_every_response(doc):
    "Every answer of the mount carries X-Request-Id, so does the document"
    components = doc['components']
    assert components['headers']['RequestId']['schema'] == {
        'type': 'string'}
    responses = [r for item in doc['paths'].values()
        for operation in item.values()
        for r in operation['responses'].values() if '$ref' not in r]
    responses += components['responses'].values()
    assert len(responses) > 20
    for response in responses:
        assert response['headers']['X-Request-Id'] == {
            '$ref': '#/components/headers/RequestId'}
    # the headers a response had are kept beside it
    assert 'WWW-Authenticate' in components['responses']['Unauthorized'][
        'headers']


def test_security(doc):
    schemes = doc['components']['securitySchemes']
    assert schemes['bearer'] == {'type': 'http', 'scheme': 'bearer',
        'description': schemes['bearer']['description']}
    assert schemes['basic']['scheme'] == 'basic'
    assert by_id(doc, 14)[2]['security'] == []
    assert by_id(doc, 2)[2]['security'] == [{'basic': []}]
    assert by_id(doc, 3)[2]['security'] == [{'bearer': []}]
    assert 'security' not in doc


def test_tags(doc):
    assert doc['tags'] == [
        {'name': 'Partners'}, {'name': 'REST'}, {'name': 'Sales'}]


def test_broken_schemas(doc):
    path, method, op = by_id(doc, 11)
    assert (path, method) == ('/broken/{id}', 'post')
    assert op['requestBody']['content']['application/json'] == {
        'schema': {}}
    assert op['responses']['200']['content']['application/json'] == {
        'schema': {}}
    assert not params(op, 'query')


def test_seed_routes(doc):
    paths = doc['paths']
    assert list(paths['/rest/model/{name}']) == ['get', 'post']
    assert list(paths['/rest/model/{name}/{id}']) == [
        'get', 'post', 'put', 'patch', 'delete']
    assert list(paths['/rest/model/{name}/{id}/{field}']) == ['get', 'post']
    assert list(paths['/rest/report/{name}/{id}']) == ['get']

    search = paths['/rest/model/{name}']['get']
    assert refs(search) == ['Domain', 'Order', 'Limit', 'Offset', 'Fields',
        'Range', 'CollectionFormat', 'XTrytonContext', 'XTrytonUsage',
        'AcceptLanguage', 'IfNoneMatch']
    parameters = doc['components']['parameters']
    assert [parameters[n]['name'] for n in refs(search)] == [
        'd', 'o', 's', 'p', 'f', 'Range', 'format', 'X-Tryton-Context',
        'X-Tryton-Usage', 'Accept-Language', 'If-None-Match']
    assert parameters['CollectionFormat']['schema']['enum'] == [
        'json', 'xlsx']
    assert set(search['responses']['200']['content']) == {
        'application/json', SPREADSHEET}
    assert parameters['Fields']['schema']['type'] == 'array'
    assert parameters['Fields']['explode'] is True
    assert parameters['Range']['in'] == 'header'
    headers = search['responses']['200']['headers']
    assert set(headers) == {
        'Content-Range', 'Accept-Ranges', 'Content-Language', 'ETag',
        'X-Request-Id'}
    assert '416' in search['responses']

    create = paths['/rest/model/{name}']['post']
    assert set(create['responses']['201']['headers']) == {
        'Location', 'Content-Language', 'ETag', 'X-Request-Id'}
    assert '200' not in create['responses']
    read = paths['/rest/model/{name}/{id}']['get']
    assert 'Link' in read['responses']['200']['headers']
    assert params(read, 'path')['id']['schema']['type'] == 'integer'
    assert '204' in paths['/rest/model/{name}/{id}']['delete']['responses']
    report = paths['/rest/report/{name}/{id}']['get']
    assert 'application/octet-stream' in report['responses']['200'][
        'content']
    assert 'Range' not in refs(report)
    assert 'CollectionFormat' not in refs(read)
    assert set(read['responses']['200']['content']) == {'application/json'}
    for item in paths.values():
        for op in item.values():
            if op['operationId'].rsplit('_', 1)[1] in {'101', '103'}:
                assert op['security'] == [{'bearer': []}]


def test_aliases():
    "Each alias is a path with the route's operation, its own operationId"
    query = json.dumps({'type': 'object',
            'properties': {'q': {'type': 'string'}}})
    response = json.dumps({'type': 'array', 'items': {'type': 'object'}})
    document = build_openapi([
            Definition(1, 'Item', '/items/<int:id>', 'GET',
                aliases='/things/<int:id>\n/v1/items/<int:id>',
                query_schema=query, response_schema=response),
            Definition(2, 'Other', '/other', 'GET'),
            ], title='Shop', version='8.2',
        server_url='http://localhost:8000/shop/api')
    validate(document, cls=OpenAPIV31SpecValidator)
    found = operations(document)
    assert {op_id: (path, method) for op_id, (path, method, _)
        in found.items()} == {
        'item_1': ('/items/{id}', 'get'),
        'item_1_alias_1': ('/things/{id}', 'get'),
        'item_1_alias_2': ('/v1/items/{id}', 'get'),
        'other_2': ('/other', 'get'),
        }
    route = found['item_1'][2]
    for op_id in ['item_1_alias_1', 'item_1_alias_2']:
        alias = found[op_id][2]
        assert alias['parameters'] == route['parameters']
        assert alias['responses'] == route['responses']
    # One set of components for the endpoint's schemas
    assert [n for n in document['components']['schemas']
        if n.startswith('Item1')] == ['Item1Response']
    # A list of records can be a spreadsheet
    assert set(route['responses']['200']['content']) == {
        'application/json', SPREADSHEET}
    assert set(found['other_2'][2]['responses']['200']['content']) == {
        'application/json'}
def test_conditional_and_idempotency(doc):
    "ETag, If-None-Match, If-Match, Idempotency-Key and their statuses"
    paths = doc['paths']
    record = paths['/rest/model/{name}/{id}']
    assert 'IfNoneMatch' in refs(record['get'])
    assert '304' in record['get']['responses']
    assert 'ETag' in record['get']['responses']['200']['headers']
    for method in ['put', 'patch', 'delete']:
        assert 'IfMatch' in refs(record[method])
        assert '412' in record[method]['responses']
    assert 'IfMatch' not in refs(record['get'])
    components = doc['components']
    assert components['responses']['NotModified']['headers'] == {
        'ETag': {'$ref': '#/components/headers/ETag'},
        'X-Request-Id': {'$ref': '#/components/headers/RequestId'}}
    assert components['parameters']['IdempotencyKey']['in'] == 'header'
    # Not idempotent: no Idempotency-Key.
    create = paths['/rest/model/{name}']['post']
    assert 'IdempotencyKey' not in refs(create)

    idempotent = build_openapi([Definition(1, 'Pay', '/pay', 'POST',
                'application/json', exec_user=2, idempotent=True)],
        title='Shop', version='8.2', server_url='http://localhost/shop/api')
    validate(idempotent, cls=OpenAPIV31SpecValidator)
    pay = idempotent['paths']['/pay']['post']
    assert refs(pay) == ['IdempotencyKey']
    assert {'400', '409', '422'} <= set(pay['responses'])
    assert pay['responses']['200']['headers'] == {'Idempotent-Replayed': {
            '$ref': '#/components/headers/IdempotentReplayed'},
        'X-Request-Id': {'$ref': '#/components/headers/RequestId'}}
    assert '304' not in pay['responses']


def test_same_shape_shares_names(doc):
    "OpenAPI takes /a/{x} and /a/{y} for one path: no such pair is left."
    shapes = [re.sub(r'\{[^}]*\}', '{}', p) for p in doc['paths']]
    assert len(shapes) == len(set(shapes))
    item = doc['paths']['/rest/model/{name}/{id}/{field}']
    assert params(item['get'], 'path')['field']['schema'] == {
        'type': 'string'}
    renamed = params(item['post'], 'path')['field']
    assert '`action`' in renamed['description']
    # the class-level action shares /rest/model/{name}/{id} with reads
    model_action = doc['paths']['/rest/model/{name}/{id}']['post']
    assert params(model_action, 'path')['id']['schema'] == {
        'type': 'string'}
    # every template variable is declared by each of its operations
    for path, item in doc['paths'].items():
        names = set(re.findall(r'\{([^}]*)\}', path))
        for op in item.values():
            assert set(params(op, 'path')) == names


def test_yaml_dump(doc):
    text = openapi_yaml(doc)
    assert text.startswith('openapi: 3.1.0\n')
    assert '&id' not in text and '*id' not in text
    assert yaml.safe_load(text) == doc


def test_static_file():
    content, mimetype = static_file('swagger-ui-bundle.js')
    assert mimetype == 'text/javascript'
    assert b'SwaggerUIBundle' in content
    assert static_file('swagger-ui.css')[1] == 'text/css'
    assert static_file('docs.js')[1] == 'text/javascript'
    for name in ['../openapi.py', '..', 'static/docs.js', '/etc/passwd',
            '..%2Fopenapi.py', '..\\openapi.py', 'docs.js/..', '',
            'openapi.py', '__init__.py', 'docs.html', None]:
        assert static_file(name) is None, name


def test_docs_page():
    page = docs_page().decode('utf-8')
    assert 'data-spec-url="openapi.json"' in page
    assert 'src="docs/swagger-ui-bundle.js"' in page
    assert 'href="docs/swagger-ui.css"' in page
    assert 'src="docs/docs.js"' in page
    assert '://' not in page  # nothing from a CDN
    for url in re.findall(r'(?:src|href)="docs/([^"]+)"', page):
        assert static_file(url) is not None, url
    page = docs_page('x.json?a=1&b="2"').decode('utf-8')
    assert 'data-spec-url="x.json?a=1&amp;b=&quot;2&quot;"' in page
