"""Request contracts: content types, JSON/YAML schemas, XSD, safe parsing.

No database: plain unit tests of ``trytond_endpoint``.
"""
import contextlib
import http.server
import io
import json
import threading
import time
import unittest
from unittest import mock

from werkzeug.datastructures import FileStorage, MultiDict

from trytond_endpoint import jsonschemas, xmlsafe
from trytond_endpoint.content import media_type_matches, parse_content_type
from trytond_endpoint.contracts import (
    JSON_DEPTH_LIMIT,
    XML_DEPTH_LIMIT,
    SchemaError,
    compile_query_schema,
    compile_request_schema,
    decode_body,
)
from trytond_endpoint.problem import Problem

ORDER_JSON = json.dumps({
        'type': 'object',
        'required': ['customer', 'lines'],
        'properties': {
            'customer': {'type': 'string', 'format': 'email'},
            'date': {'type': 'string', 'format': 'date'},
            'currency': {'type': 'string', 'default': 'EUR'},
            'lines': {
                'type': 'array',
                'items': {
                    'type': 'object',
                    'additionalProperties': False,
                    'required': ['product', 'qty'],
                    'properties': {
                        'product': {'type': 'string'},
                        'qty': {'type': 'integer', 'minimum': 1},
                        'unit': {'type': 'string', 'default': 'unit'},
                        'a/b~c': {'type': 'integer'},
                        },
                    },
                },
            },
        }, indent=2)

ORDER_YAML = """\
type: object
required: [customer, lines]
properties:
  customer: {type: string, format: email}
  date: {type: string, format: date}
  currency: {type: string, default: EUR}
  lines:
    type: array
    items:
      type: object
      additionalProperties: false
      required: [product, qty]
      properties:
        product: {type: string}
        qty: {type: integer, minimum: 1}
        unit: {type: string, default: unit}
        a/b~c: {type: integer}
"""

ORDER_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="order">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="customer" type="xs:string"/>
        <xs:element name="line" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="product" type="xs:string"/>
              <xs:element name="qty" type="xs:positiveInteger"/>
            </xs:sequence>
            <xs:attribute name="number" type="xs:int"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""

XSD_NS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def xxe(url):
    return (f'<?xml version="1.0"?>\n<!DOCTYPE x [\n'
        f'<!ENTITY e SYSTEM "{url}">\n]>\n<x>&e;</x>').encode()


def problem(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except Problem as exc:
        return exc
    raise AssertionError('no Problem raised')


class CountingServer:
    """A local HTTP server that counts the requests it receives."""

    def __enter__(self):
        self.hits = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'<x>fetched</x>')

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}/secret'
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *args):
        self.server.shutdown()
        self.server.server_close()


class ContentTypeTestCase(unittest.TestCase):

    def test_parse(self):
        self.assertEqual(
            parse_content_type('Application/JSON; charset=UTF-8'),
            ('application/json', {'charset': 'UTF-8'}))
        self.assertEqual(
            parse_content_type('  text/plain ;  Charset="latin-1" '),
            ('text/plain', {'charset': 'latin-1'}))
        self.assertEqual(
            parse_content_type('multipart/form-data; boundary=XyZ'),
            ('multipart/form-data', {'boundary': 'XyZ'}))
        self.assertEqual(parse_content_type(''), ('', {}))
        self.assertEqual(parse_content_type(None), ('', {}))

    def test_matches(self):
        self.assertTrue(media_type_matches(
                'APPLICATION/json; charset=utf-8', 'application/json'))
        self.assertTrue(media_type_matches(
                'application/merge-patch+json', 'application/json'))
        self.assertTrue(media_type_matches('text/xml', 'application/xml'))
        self.assertTrue(media_type_matches('text/csv', 'text/*'))
        self.assertFalse(media_type_matches('text/plain', 'application/json'))
        self.assertFalse(media_type_matches('', 'application/json'))
        self.assertFalse(media_type_matches(
                'application/x-www-form-urlencoded', 'multipart/form-data'))


class JsonSchemaTestCase(unittest.TestCase):

    def contracts(self):
        for text in (ORDER_JSON, ORDER_YAML):
            yield compile_request_schema(text, 'application/json')

    def test_no_schema(self):
        self.assertIsNone(compile_request_schema(None, 'application/json'))
        self.assertIsNone(compile_request_schema('  \n', 'application/json'))
        self.assertIsNone(compile_query_schema(''))

    def test_valid_with_defaults(self):
        for contract in self.contracts():
            body = decode_body(
                b'{"customer": "a@example.com", "date": "2024-02-29", '
                b'"lines": [{"product": "P", "qty": 2}]}',
                'application/json', {}, contract=contract)
            self.assertEqual(body.json, {
                    'customer': 'a@example.com', 'date': '2024-02-29',
                    'currency': 'EUR',
                    'lines': [{'product': 'P', 'qty': 2, 'unit': 'unit'}],
                    })
            self.assertEqual(body.text[:12], '{"customer":')

    def test_all_errors_with_pointers(self):
        data = json.dumps({
                'customer': 'not-an-email',
                'date': '2024-02-30',
                'lines': [
                    {'product': 'P', 'qty': 1},
                    {'product': 'P', 'qty': 1},
                    {'qty': 0, 'extra': 1, 'a/b~c': 'x'},
                    ],
                }).encode()
        for contract in self.contracts():
            exc = problem(decode_body, data, 'application/json', {},
                contract=contract)
            self.assertEqual(exc.status, 400)
            errors = {e['pointer']: e['detail'] for e in exc.errors}
            self.assertEqual(errors, {
                    '/customer': 'must be a valid email',
                    '/date': 'must be a valid date',
                    '/lines/2/product': 'is required',
                    '/lines/2/qty': 'must be at least 1',
                    '/lines/2/extra': 'unexpected property',
                    '/lines/2/a~1b~0c': 'must be an integer',
                    })
            self.assertIn('6 errors', exc.to_dict()['detail'])

    def test_missing_root_required(self):
        contract = compile_request_schema(ORDER_YAML, 'application/json')
        exc = problem(decode_body, b'{}', 'application/json', {},
            contract=contract)
        self.assertEqual(
            sorted(e['pointer'] for e in exc.errors),
            ['/customer', '/lines'])

    def test_wrong_root_type(self):
        contract = compile_request_schema(ORDER_YAML, 'application/json')
        exc = problem(decode_body, b'[1]', 'application/json', {},
            contract=contract)
        self.assertEqual(
            exc.errors, [{'pointer': '', 'detail': 'must be an object'}])

    def test_empty_body_with_schema(self):
        contract = compile_request_schema(ORDER_YAML, 'application/json')
        exc = problem(decode_body, b'', 'application/json', {},
            contract=contract)
        self.assertIn('empty', exc.detail)
        self.assertIsNone(decode_body(b'', 'application/json', {}).json)

    def test_no_schema_parsing_per_request(self):
        contract = compile_request_schema(ORDER_YAML, 'application/json')
        with mock.patch.object(jsonschemas, 'load_schema_text',
                    side_effect=AssertionError('parsed again')), \
                mock.patch('yaml.load',
                    side_effect=AssertionError('parsed again')):
            decode_body(b'{"customer": "a@b.c", "lines": []}',
                'application/json', {}, contract=contract)

    def test_ref_and_defs(self):
        contract = compile_request_schema(json.dumps({
                    '$defs': {'qty': {'type': 'integer', 'default': 1}},
                    'type': 'object',
                    'properties': {'qty': {'$ref': '#/$defs/qty'}},
                    }), 'application/json')
        self.assertEqual(
            decode_body(b'{}', 'application/json', {},
                contract=contract).json, {'qty': 1})
        exc = problem(decode_body, b'{"qty": "x"}', 'application/json', {},
            contract=contract)
        self.assertEqual(
            exc.errors, [{'pointer': '/qty', 'detail': 'must be an integer'}])

    def test_fast_check_agrees_with_jsonschema(self):
        schema = {
            'type': 'object',
            'required': ['a'],
            'additionalProperties': False,
            'patternProperties': {'^x-': {'type': 'string'}},
            'properties': {
                'a': {'type': 'integer', 'minimum': 0, 'multipleOf': 2},
                'b': {'enum': [1, 'one', None, [1]]},
                'c': {'type': 'array', 'prefixItems': [{'type': 'string'}],
                    'items': {'type': 'number'}, 'uniqueItems': True,
                    'maxItems': 3},
                'd': {'anyOf': [{'type': 'string', 'maxLength': 2},
                        {'type': 'null'}]},
                'e': {'oneOf': [{'minimum': 5}, {'maximum': 10}]},
                'f': {'not': {'const': True}},
                'g': {'type': 'string', 'pattern': '^[A-Z]+$',
                    'format': 'date'},
                },
            }
        contract = compile_request_schema(json.dumps(schema),
            'application/json').engine
        self.assertIsNotNone(contract.fast_check)
        samples = [
            {'a': 2}, {'a': 3}, {'a': -2}, {'a': 2.0}, {'a': True}, {},
            {'a': 2, 'b': 1}, {'a': 2, 'b': True}, {'a': 2, 'b': 1.0},
            {'a': 2, 'b': [1]}, {'a': 2, 'b': [True]}, {'a': 2, 'b': 'two'},
            {'a': 2, 'c': ['s', 1, 2.5]}, {'a': 2, 'c': [1]},
            {'a': 2, 'c': ['s', 1, 1.0]}, {'a': 2, 'c': ['s', 1, 2, 3]},
            {'a': 2, 'd': 'ab'}, {'a': 2, 'd': 'abc'}, {'a': 2, 'd': None},
            {'a': 2, 'e': 7}, {'a': 2, 'e': 3}, {'a': 2, 'f': True},
            {'a': 2, 'f': 1}, {'a': 2, 'g': 'ABC'}, {'a': 2, 'g': 'abc'},
            {'a': 2, 'x-y': 's'}, {'a': 2, 'x-y': 1}, {'a': 2, 'z': 1},
            ]
        for sample in samples:
            with self.subTest(sample=sample):
                self.assertEqual(
                    contract.fast_check(sample),
                    contract.validator.is_valid(sample))

    def test_unsupported_keywords_use_jsonschema(self):
        contract = compile_request_schema(
            '{"if": {"required": ["a"]}, "then": {"required": ["b"]}}',
            'application/json')
        self.assertIsNone(contract.engine.fast_check)
        exc = problem(decode_body, b'{"a": 1}', 'application/json', {},
            contract=contract)
        self.assertEqual(exc.errors, [{'pointer': '/b', 'detail': 'is required'}])


class SchemaErrorTestCase(unittest.TestCase):

    def assertRefused(self, text, line, *words, content_type='application/json'):
        with self.assertRaises(SchemaError) as cm:
            compile_request_schema(text, content_type)
        self.assertEqual(cm.exception.line, line, cm.exception.message)
        for word in words:
            self.assertIn(word, cm.exception.message)
        return cm.exception

    def test_malformed_json(self):
        self.assertRefused('{\n  "type": "object",\n  "x": \n}', 4,
            'malformed JSON')

    def test_malformed_yaml(self):
        self.assertRefused('type: object\nproperties:\n  a: [1, 2\n', 4,
            'malformed YAML')

    def test_invalid_keyword_json(self):
        self.assertRefused(
            '{\n "type": "object",\n "properties": {\n'
            '  "qty": {"type": "integr"}\n }\n}', 4,
            '$.properties.qty.type')

    def test_invalid_keyword_yaml(self):
        self.assertRefused(
            'type: object\nproperties:\n  qty:\n    minimum: ten\n', 4,
            '$.properties.qty.minimum')

    def test_bad_pattern(self):
        self.assertRefused('properties:\n  a:\n    pattern: "[a-"\n', 3,
            'pattern')

    def test_unresolvable_ref(self):
        self.assertRefused(
            'properties:\n  a:\n    $ref: "#/$defs/missing"\n', 3, '$ref')
        self.assertRefused(
            'properties:\n  a:\n    $ref: "https://example.com/s.json"\n', 3,
            '$ref')

    def test_yaml_aliases_refused(self):
        self.assertRefused('a: &x [1, 2]\nb: *x\n', 2, 'aliases')

    def test_not_an_object(self):
        self.assertRefused('- 1\n- 2\n', 1, 'object')

    def test_xsd_for_json(self):
        self.assertRefused(ORDER_XSD, 1, 'XSD')

    def test_text_bodies_take_no_schema(self):
        for content_type in ('text/plain', 'text/csv', None):
            with self.assertRaises(SchemaError) as cm:
                compile_request_schema('type: object', content_type)
            self.assertIn('JSON, form and XML', cm.exception.message)

    def test_query_schema_must_describe_object(self):
        with self.assertRaises(SchemaError):
            compile_query_schema('type: array')

    def test_bad_xsd(self):
        self.assertRefused(
            f'<xs:schema {XSD_NS}>\n<xs:element name="a" type="xs:nope"/>\n'
            '</xs:schema>', 2, 'invalid XSD',
            content_type='application/xml')
        self.assertRefused(
            f'<xs:schema {XSD_NS}>\n\n<xs:element name="a">\n</xs:schema>',
            4, 'malformed XSD', content_type='application/xml')
        self.assertRefused('<schema/>', 1, 'xs:schema',
            content_type='application/xml')

    def test_xsd_inclusions_refused(self):
        for element in (
                '<xs:include schemaLocation="other.xsd"/>',
                '<xs:include schemaLocation="/etc/passwd"/>',
                ('<xs:import namespace="urn:x" '
                    'schemaLocation="http://example.com/x.xsd"/>'),
                '<xs:redefine schemaLocation="file:///tmp/x.xsd"/>'):
            with self.subTest(element=element):
                self.assertRefused(
                    f'<xs:schema {XSD_NS}>\n\n{element}\n</xs:schema>', 3,
                    'not allowed', content_type='application/xml')

    def test_xsd_inclusion_never_read(self):
        # Even past the static refusal, the resolver reads nothing.
        with CountingServer() as server, mock.patch.object(
                xmlsafe, '_XSD_INCLUSIONS', frozenset()):
            for location in (server.url, '/etc/passwd',
                    'file:///etc/passwd'):
                with self.assertRaises(SchemaError):
                    compile_request_schema(
                        f'<xs:schema {XSD_NS}><xs:include '
                        f'schemaLocation="{location}"/></xs:schema>',
                        'application/xml')
            self.assertEqual(server.hits, [])

    def test_xsd_doctype_refused(self):
        self.assertRefused(
            '<!DOCTYPE xs:schema [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f'<xs:schema {XSD_NS}/>', 1, 'DOCTYPE',
            content_type='application/xml')


class JsonBodyTestCase(unittest.TestCase):

    def test_malformed_position(self):
        exc = problem(decode_body, b'{\n  "a": 1,\n  "b" 2\n}',
            'application/json', {})
        self.assertEqual(exc.status, 400)
        self.assertIn('line 3, column 7', exc.detail)

    def test_deep_nesting_refused_fast(self):
        for data in (b'[' * 100_000, b'{"a":' * 100_000,
                b'[' * 100_000 + b']' * 100_000):
            start = time.perf_counter()
            exc = problem(decode_body, data, 'application/json', {})
            self.assertLess(time.perf_counter() - start, 1)
            self.assertIn('nested deeper', exc.detail)

    def test_depth_limit(self):
        ok = '[' * JSON_DEPTH_LIMIT + ']' * JSON_DEPTH_LIMIT
        self.assertEqual(
            len(json.dumps(decode_body(ok.encode(), 'application/json',
                        {}).json)), 2 * JSON_DEPTH_LIMIT)
        deep = '[' * (JSON_DEPTH_LIMIT + 1) + ']' * (JSON_DEPTH_LIMIT + 1)
        problem(decode_body, deep.encode(), 'application/json', {})
        # Brackets inside strings do not count.
        text = json.dumps({'a': '[' * 1000})
        self.assertEqual(
            decode_body(text.encode(), 'application/json', {}).json,
            {'a': '[' * 1000})
        self.assertEqual(decode_body(deep.encode(), 'application/json', {},
                json_depth_limit=100).text, deep)

    def test_invalid_utf8(self):
        exc = problem(decode_body, b'{"a": "\xff"}', 'application/json', {})
        self.assertIn('UTF-8', exc.detail)

    def test_charset(self):
        body = decode_body('{"a": "é"}'.encode('latin-1'),
            'application/json; charset=ISO-8859-1', {})
        self.assertEqual(body.json, {'a': 'é'})
        body = decode_body('{"a": "é"}'.encode('utf-16'), 'application/json',
            {'charset': 'utf-16'})
        self.assertEqual(body.json, {'a': 'é'})
        exc = problem(decode_body, b'{}', 'application/json',
            {'charset': 'nope'})
        self.assertIn('charset', exc.detail)

    def test_nan_refused(self):
        problem(decode_body, b'{"a": NaN}', 'application/json', {})

    def test_text_and_binary(self):
        body = decode_body('a;b\né;1'.encode(), 'text/csv', {})
        self.assertEqual(body.text, 'a;b\né;1')
        problem(decode_body, b'\xff', 'text/plain', {})
        body = decode_body(b'\x00\xff', 'application/octet-stream', {})
        self.assertIsNone(body.text)
        self.assertEqual(body.data, b'\x00\xff')


class FormTestCase(unittest.TestCase):

    schema = """
type: object
additionalProperties: false
required: [name, qty]
properties:
  name: {type: string, minLength: 2}
  qty: {type: integer}
  price: {type: number}
  urgent: {type: boolean, default: false}
  tags: {type: array, items: {type: string}}
  doc: {type: string, format: binary}
"""

    def contract(self, content_type='application/x-www-form-urlencoded'):
        return compile_request_schema(self.schema, content_type)

    def test_without_schema(self):
        body = decode_body(b'a=1&b=x&b=y&c=', 'application/x-www-form-urlencoded',
            {})
        self.assertEqual(body.form, {'a': '1', 'b': ['x', 'y'], 'c': ''})
        self.assertEqual(body.text, 'a=1&b=x&b=y&c=')

    def test_coerced_and_defaulted(self):
        body = decode_body(b'name=Bob&qty=3&price=2.5&tags=a&tags=b',
            'application/x-www-form-urlencoded', {}, contract=self.contract())
        self.assertEqual(body.form, {
                'name': 'Bob', 'qty': 3, 'price': 2.5, 'urgent': False,
                'tags': ['a', 'b']})

    def test_werkzeug_form_passed(self):
        form = MultiDict([('name', 'Bob'), ('qty', '1'), ('urgent', 'yes')])
        body = decode_body(b'', 'application/x-www-form-urlencoded', {},
            form=form, files=MultiDict(), contract=self.contract())
        self.assertEqual(body.form,
            {'name': 'Bob', 'qty': 1, 'urgent': True})

    def test_errors(self):
        exc = problem(decode_body, b'name=B&qty=x&other=1&qty2=',
            'application/x-www-form-urlencoded', {}, contract=self.contract())
        self.assertEqual(
            {e['pointer']: e['detail'] for e in exc.errors}, {
                '/qty': 'must be an integer',
                '/name': 'must be at least 2 characters long',
                '/other': 'unexpected property',
                '/qty2': 'unexpected property',
                })

    def test_multipart_with_file(self):
        boundary = 'BOUNDARY'
        data = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"'
            f'\r\n\r\nBob\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="qty"'
            f'\r\n\r\n4\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="doc"; '
            f'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
            f'--{boundary}--\r\n').encode()
        content_type = f'multipart/form-data; boundary={boundary}'
        body = decode_body(data, content_type, {},
            contract=self.contract('multipart/form-data'))
        self.assertEqual(body.form, {'name': 'Bob', 'qty': 4, 'urgent': False})
        self.assertEqual(body.files, {'doc': ('a.txt', 'text/plain', b'hello')})
        self.assertIsNone(body.text)
        # The same, parsed by werkzeug beforehand.
        files = MultiDict([('doc', FileStorage(
                        io.BytesIO(b'hello'), filename='a.txt',
                        content_type='text/plain'))])
        body = decode_body(b'', 'multipart/form-data', {},
            form=MultiDict([('name', 'Bob'), ('qty', '4')]), files=files,
            contract=self.contract('multipart/form-data'))
        self.assertEqual(body.files, {'doc': ('a.txt', 'text/plain', b'hello')})


class QueryTestCase(unittest.TestCase):

    schema = """
type: object
additionalProperties: false
properties:
  limit: {type: integer, default: 20, maximum: 100}
  price: {type: number}
  active: {type: boolean}
  ids: {type: array, items: {type: integer}}
  q: {type: string}
  since: {type: [string, 'null'], format: date}
"""

    def test_coercion(self):
        contract = compile_query_schema(self.schema)
        self.assertEqual(
            contract.coerce(MultiDict([
                        ('price', '-2.5e1'), ('active', 'Yes'),
                        ('ids', '1'), ('ids', '2'), ('q', '42')])),
            {'price': -25.0, 'active': True, 'ids': [1, 2], 'q': '42',
                'limit': 20})
        for raw, value in (('true', True), ('1', True), ('yes', True),
                ('false', False), ('0', False), ('no', False)):
            self.assertEqual(
                contract.coerce(MultiDict([('active', raw)]))['active'],
                value)
        self.assertEqual(
            contract.coerce(MultiDict([('price', '3')]))['price'], 3)
        self.assertEqual(
            contract.coerce(MultiDict([('since', '')]))['since'], None)
        self.assertEqual(contract.coerce(MultiDict()), {'limit': 20})

    def test_errors(self):
        contract = compile_query_schema(self.schema)
        exc = problem(contract.coerce, MultiDict([
                    ('limit', 'ten'), ('price', 'nan'), ('active', 'maybe'),
                    ('ids', '1'), ('ids', 'x'), ('q', 'a'), ('q', 'b'),
                    ('since', '2024-13-01'), ('sort', 'name')]))
        self.assertEqual(exc.status, 400)
        self.assertEqual(
            {e['parameter']: e['detail'] for e in exc.errors}, {
                'limit': 'must be an integer',
                'price': 'must be a number',
                'active': 'must be a boolean',
                'ids': 'each value must be an integer',
                'q': 'must be given once',
                'since': 'must be a valid date',
                'sort': 'unexpected parameter',
                })
        exc = problem(contract.coerce, MultiDict([('limit', '500')]))
        self.assertEqual(exc.errors,
            [{'parameter': 'limit', 'detail': 'must be at most 100'}])

    def test_required(self):
        contract = compile_query_schema(
            '{"type": "object", "required": ["q"], '
            '"properties": {"q": {"type": "string"}}}')
        exc = problem(contract.coerce, MultiDict([('x', '1')]))
        self.assertEqual(exc.errors,
            [{'parameter': 'q', 'detail': 'is required'}])
        self.assertEqual(contract.coerce(MultiDict([('q', 'a'), ('x', '1')])),
            {'q': 'a', 'x': '1'})


class XmlTestCase(unittest.TestCase):

    def setUp(self):
        self.contract = compile_request_schema(ORDER_XSD, 'application/xml')

    def test_valid(self):
        body = decode_body(
            b'<order><customer>Bob</customer>'
            b'<line number="1"><product>P</product><qty>2</qty></line>'
            b'<!-- note --><line><product>Q</product><qty>1</qty></line>'
            b'</order>', 'text/xml; charset=utf-8', {}, contract=self.contract)
        order = body.xml
        self.assertEqual(order.tag, 'order')
        self.assertEqual(len(order), 3)
        self.assertEqual([e.tag for e in order], ['customer', 'line', 'line'])
        self.assertEqual(order.findtext('customer'), 'Bob')
        self.assertEqual(
            [line.findtext('qty') for line in order.findall('line')],
            ['2', '1'])
        self.assertEqual(order.find('line').get('number'), '1')
        self.assertIsNone(order.find('nothing'))
        self.assertEqual(order[1].attrib, {'number': '1'})
        self.assertEqual(body.text[:7], '<order>')

    def test_view_is_read_only_and_sealed(self):
        order = decode_body(b'<order a="1"><b>x</b></order>',
            'application/xml', {}).xml
        order.attrib['a'] = '2'
        self.assertEqual(order.get('a'), '1')
        with self.assertRaises(AttributeError):
            order.text = 'changed'
        with self.assertRaises(AttributeError):
            order._XmlElement__element  # noqa: B018
        with self.assertRaises(TypeError):
            type(order)(None)
        # Nothing public hands out an lxml object.
        for name in dir(order):
            if name.startswith('_'):
                continue
            value = getattr(order, name)
            if callable(value):
                continue
            self.assertNotIn('lxml', type(value).__module__, name)
        for value in (order.find('b'), order[0], next(iter(order)),
                order.findall('b')[0], next(order.iter('b'))):
            self.assertIs(type(value), type(order))
        self.assertNotIn('getroottree', dir(order))
        self.assertNotIn('docinfo', dir(order))

    def test_namespaced(self):
        contract = compile_request_schema(
            f'<xs:schema {XSD_NS} targetNamespace="urn:o" xmlns="urn:o" '
            'elementFormDefault="qualified"><xs:element name="order">'
            '<xs:complexType><xs:sequence><xs:element name="qty" '
            'type="xs:int" maxOccurs="3"/></xs:sequence></xs:complexType>'
            '</xs:element></xs:schema>', 'application/xml')
        exc = problem(decode_body,
            b'<order xmlns="urn:o"><qty>1</qty><qty>x</qty></order>',
            'application/xml', {}, contract=contract)
        self.assertEqual(exc.errors[0]['path'], '/order/qty[2]')
        order = decode_body(b'<order xmlns="urn:o"><qty>1</qty></order>',
            'application/xml', {}, contract=contract).xml
        self.assertEqual(order.localname, 'order')
        self.assertEqual(order.namespace, 'urn:o')
        self.assertEqual(order.findtext('{urn:o}qty'), '1')
        self.assertEqual(order.findtext('o:qty', namespaces={'o': 'urn:o'}),
            '1')

    def test_xsd_errors(self):
        exc = problem(decode_body,
            b'<order>\n<customer>Bob</customer>\n'
            b'<line><product>P</product><qty>1</qty></line>\n'
            b'<line><product>P</product><qty>zero</qty></line>\n'
            b'<line number="x"><product>P</product><qty>1</qty></line>\n'
            b'</order>', 'application/xml', {}, contract=self.contract)
        self.assertEqual(exc.status, 400)
        self.assertEqual(len(exc.errors), 2)
        first, second = exc.errors
        self.assertEqual(first['line'], 4)
        self.assertEqual(first['path'], '/order/line[2]/qty')
        self.assertEqual(first['pointer'], first['path'])
        self.assertIn('zero', first['detail'])
        self.assertIn('column', first)
        self.assertEqual(second['line'], 5)
        self.assertEqual(second['path'], '/order/line[3]')
        self.assertIn('number', second['detail'])

    def test_empty_with_schema(self):
        exc = problem(decode_body, b'  ', 'application/xml', {},
            contract=self.contract)
        self.assertIn('empty', exc.detail)

    def test_malformed_position(self):
        exc = problem(decode_body, b'<a>\n  <b></a>', 'application/xml', {})
        self.assertIn('line 2, column', exc.detail)
        self.assertIn('malformed XML', exc.detail)

    def test_doctype_refused(self):
        for data in (
                b'<!DOCTYPE a><a/>',
                b'<?xml version="1.0"?>\n<!-- hi -->\n<!DOCTYPE a []><a/>',
                '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'
                .encode('utf-16'),
                (b'\xef\xbb\xbf<!DOCTYPE a SYSTEM "http://example.com/a.dtd">'
                    b'<a/>')):
            with self.subTest(data=data):
                exc = problem(decode_body, data, 'application/xml', {})
                self.assertIn('DOCTYPE', exc.detail)

    def test_billion_laughs(self):
        start = time.perf_counter()
        exc = problem(decode_body, BILLION_LAUGHS, 'application/xml', {})
        self.assertLess(time.perf_counter() - start, 0.5)
        self.assertEqual(exc.status, 400)
        self.assertIn('DOCTYPE', exc.detail)

    def test_billion_laughs_past_the_prolog_check(self):
        # The parser itself expands nothing either.
        with mock.patch.object(xmlsafe, 'has_doctype', return_value=False):
            start = time.perf_counter()
            exc = problem(decode_body, BILLION_LAUGHS, 'application/xml', {})
            self.assertLess(time.perf_counter() - start, 0.5)
        self.assertEqual(exc.status, 400)

    def test_external_entities_never_read(self):
        with CountingServer() as server:
            for url in ('file:///etc/passwd', server.url):
                for check in (True, False):
                    # Without the prolog check, the parser must still
                    # neither read nor fetch.
                    bypass = (contextlib.nullcontext() if check
                        else mock.patch.object(
                            xmlsafe, 'has_doctype', return_value=False))
                    with self.subTest(url=url, prolog_check=check), bypass:
                        exc = problem(decode_body, xxe(url), 'application/xml',
                            {})
                        self.assertEqual(exc.status, 400)
                        self.assertNotIn('root:', json.dumps(exc.to_dict()))
                        self.assertNotIn('fetched', json.dumps(exc.to_dict()))
            self.assertEqual(server.hits, [])

    def test_deep_xml(self):
        depth = XML_DEPTH_LIMIT + 10
        data = ('<a>' * depth + '</a>' * depth).encode()
        exc = problem(decode_body, data, 'application/xml', {})
        self.assertIn('nested deeper', exc.detail)
        with mock.patch.object(xmlsafe, 'XML_DEPTH_LIMIT', 5):
            exc = problem(decode_body, ('<a>' * 6 + '</a>' * 6).encode(),
                'application/xml', {})
            self.assertIn('nested deeper than 5', exc.detail)
            decode_body(('<a>' * 5 + '</a>' * 5).encode(), 'application/xml',
                {})

    def test_element_limit(self):
        with mock.patch.object(xmlsafe, 'XML_ELEMENT_LIMIT', 10):
            exc = problem(decode_body,
                b'<a>' + b'<b/>' * 10 + b'</a>', 'application/xml', {})
            self.assertIn('more than 10 elements', exc.detail)
            decode_body(b'<a>' + b'<b/>' * 9 + b'</a>', 'application/xml', {})

    def test_encoding(self):
        data = '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode(
            'latin-1')
        body = decode_body(data, 'application/xml', {})
        self.assertEqual(body.xml.text, 'é')
        self.assertIn('é', body.text)


if __name__ == '__main__':
    unittest.main()
