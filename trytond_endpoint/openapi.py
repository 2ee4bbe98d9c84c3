"""The OpenAPI 3.1 document of the published endpoints, and its docs page.

Everything is derived from :class:`~.definition.Definition` values and
never raises on a bad schema text: an endpoint whose schema does not parse
is still documented, with an empty schema ``{}``.
"""
import copy
import functools
import html
import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from string import Template
from urllib.parse import unquote

import yaml
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    IntegerConverter,
    NumberConverter,
    PathConverter,
    UUIDConverter,
)

from . import openapi_auth, openapi_conditional
from .definition import BODY_METHODS, METHODS
from .http import openapi_http
from .problem import PROBLEM_CONTENT_TYPE
from .routing import Base64Converter, new_map
from .xlsx import MEDIA_TYPE as SPREADSHEET

OPENAPI_VERSION = '3.1.0'
STATIC = Path(__file__).parent / 'static'
# What static_file() may serve: a fixed list, so no name can reach outside.
ASSETS = {
    'swagger-ui-bundle.js': 'text/javascript',
    'swagger-ui.css': 'text/css',
    'docs.js': 'text/javascript',
    'favicon-32x32.png': 'image/png',
    'LICENSE.swagger-ui': 'text/plain',
    'NOTICE.swagger-ui': 'text/plain',
    'swagger-ui-bundle.js.LICENSE.txt': 'text/plain',
    }


SECURITY = {
    'public': [],
    'user': [{'basic': []}],
    'application': [{'bearer': []}],
    }
# status: (component name, description)
ERRORS = {
    '400': ('BadRequest', (
        "Malformed body or query, a schema violation or Tryton's "
        "user error; `errors` points at each fault.")),
    '401': ('Unauthorized', "Missing or bad credentials."),
    '403': ('Forbidden', "Refused by Tryton's access rights."),
    '404': ('NotFound', "No such resource."),
    '405': ('MethodNotAllowed', (
        "The path is served, for other methods only (a value that does "
        "not fit this route may fit another); `Allow` lists them.")),
    '413': ('PayloadTooLarge', "The body is over the size limit."),
    '406': ('NotAcceptable', (
        "No answer in the asked format (`format`, a suffix or `Accept`); "
        "`detail` lists the available ones.")),
    '415': ('UnsupportedMediaType',
        "The body is not of the documented content type."),
    '416': ('RangeNotSatisfiable', "The `Range` is past the last record."),
    '500': ('InternalServerError', (
        "Unexpected failure; the problem carries an id found in the "
        "server log.")),
    '503': ('ServiceUnavailable', "Temporarily unavailable; retry later."),
    }
TEXT_TYPES = {'text/plain', 'text/csv'}


def build_openapi(definitions, *, title, version, server_url,
        rest_seed_ids=frozenset()):
    "Return the OpenAPI 3.1.0 document of the documented, active endpoints."
    schemas = _Schemas()
    operations = _operations(definitions)
    paths, tags = {}, set()
    # The operation of each endpoint's route, that its aliases repeat.
    built = {}
    for definition, template, variables, alias in operations:
        method = definition.method.lower()
        item = paths.setdefault(template, {})
        if method in item:
            # Werkzeug can tell `<int:a>` from `<b>` at one place,
            # OpenAPI cannot: the first one is documented.
            continue
        seed = (_seed_kind(template, definition.method)
            if definition.id in rest_seed_ids else None)
        if alias and definition.id in built:
            item[method] = _alias_operation(
                built[definition.id], variables, alias)
        else:
            item[method] = built.setdefault(definition.id,
                _operation(definition, variables, schemas, seed))
        if definition.group:
            tags.add(definition.group)
    document = {
        'openapi': OPENAPI_VERSION,
        'info': {'title': title, 'version': version},
        'servers': [{'url': server_url}],
        }
    if tags:
        document['tags'] = [{'name': t} for t in sorted(tags)]
    rank = {m.lower(): i for i, m in enumerate(METHODS)}
    document['paths'] = {
        template: dict(sorted(item.items(), key=lambda i: rank[i[0]]))
        for template, item in sorted(paths.items())}
    document['components'] = {
        'schemas': schemas.components,
        'responses': {**_error_responses(),
            **openapi_http.response_components('#/components/schemas/Problem')},
        'parameters': _seed_parameter_components(),
        'headers': {**_seed_header_components(),
            **openapi_http.header_components()},
        'securitySchemes': {
            'bearer': {
                'type': 'http', 'scheme': 'bearer',
                'description': (
                    "Key of a Tryton user application `endpoint`."),
                },
            'basic': {
                'type': 'http', 'scheme': 'basic',
                'description': "Tryton login and password.",
                },
            **openapi_auth.security_schemes(
                d for d, _, _, alias in operations if not alias),
            },
        }
    openapi_conditional.add_components(document['components'])
    openapi_http.quote_request_ids(document)
    # The caller may cache or alter it: share nothing with this module.
    return copy.deepcopy(document)


# The document is built once per registry version with this origin in
# its server URL, replaced at each answer by the origin the client used:
# Host headers are the client's to vary, the document must not be kept
# per Host value.
_ORIGIN_MARK = 'https://openapi-server.invalid'
_ORIGIN = re.compile(r'https?://(?:[A-Za-z0-9._~-]{1,253}|'
    r'\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?')
# Script roots kept per version (they vary only behind trusted proxies).
_MAX_ROOTS = 8


def served_documents(cache, build, origin, path):
    """The OpenAPI document as (JSON, YAML) for a server at ``origin`` +
    ``path``.

    ``build(server_url)`` makes the (JSON, YAML) texts; they are kept in
    ``cache`` (the registry version's) per ``path`` only, at most a few.
    An ``origin`` that is no plain scheme and host gives a relative server
    URL.
    """
    key = ('openapi', path)
    texts = cache.get(key)
    if texts is None:
        texts = build(_ORIGIN_MARK + path)
        if sum(1 for k in list(cache) if k[0] == 'openapi') < _MAX_ROOTS:
            cache[key] = texts
    if not _ORIGIN.fullmatch(origin):
        origin = ''
    return tuple(_with_origin(text, origin) for text in texts)


def _with_origin(text, origin):
    if isinstance(text, bytes):
        return text.replace(_ORIGIN_MARK.encode(), origin.encode())
    return text.replace(_ORIGIN_MARK, origin)


class _YAMLDumper(yaml.SafeDumper):
    "Never writes anchors: the document reuses dicts, readers want them out."

    def ignore_aliases(self, data):
        return True


def openapi_yaml(doc):
    "Return the document as YAML, keys in their order."
    return yaml.dump(doc, Dumper=_YAMLDumper, sort_keys=False,
        allow_unicode=True, default_flow_style=False)


def docs_page(spec_url='openapi.json', *, assets_url='docs/',
        title='API documentation'):
    """Return the HTML page of the interactive docs.

    The URLs are relative by default: the page is served at ``<mount>/docs``
    next to ``openapi.json``, its assets below ``<mount>/docs/``.
    """
    template = Template((STATIC / 'docs.html').read_text(encoding='utf-8'))
    return template.substitute(
        spec_url=html.escape(spec_url),
        assets=html.escape(assets_url),
        title=html.escape(title)).encode('utf-8')


def static_file(name):
    "Return (content, mimetype) of a packaged docs asset, None if unknown."
    if (not isinstance(name, str) or '/' in name or '\\' in name
            or '..' in name or name not in ASSETS):
        return None
    content = _read_asset(name)
    if content is None:
        return None
    return content, ASSETS[name]


@functools.cache
def _read_asset(name):
    try:
        return (STATIC / name).read_bytes()
    except OSError:
        return None


def operation_id(definition):
    "Return a stable, unique operationId: the name as a slug plus the id."
    text = unicodedata.normalize('NFKD', definition.name or '')
    text = text.encode('ascii', 'ignore').decode()
    slug = re.sub(r'[^0-9A-Za-z]+', '_', text).strip('_').lower()
    return f'{slug or "endpoint"}_{definition.id}'


def route_template(route):
    """Return the OpenAPI path template of a Werkzeug rule and its variables.

    Variables are ``[(name, converter)]`` in route order; None when the rule
    does not compile.
    """
    try:
        rule = Rule(route, endpoint='documented')
        # The served map's options and converters: documented as served.
        new_map([rule])
    except (ValueError, LookupError, TypeError):
        return None
    # The parsed parts are only kept privately by the compiled rule; they
    # have been stable for many releases and spare a parser of our own.
    trace = rule._trace
    trace = trace[trace.index((False, '|')) + 1:]
    template = ''.join(
        f'{{{text}}}' if dynamic else text for dynamic, text in trace)
    variables = [(text, rule._converters[text])
        for dynamic, text in trace if dynamic]
    return template, variables


def converter_schema(converter):
    "Return the JSON Schema of the values a Werkzeug converter accepts."
    if isinstance(converter, NumberConverter):
        schema = {'type': 'integer'
            if isinstance(converter, IntegerConverter) else 'number'}
        if converter.min is not None:
            schema['minimum'] = converter.min
        elif not converter.signed:
            schema['minimum'] = 0
        if converter.max is not None:
            schema['maximum'] = converter.max
        return schema
    if isinstance(converter, UUIDConverter):
        return {'type': 'string', 'format': 'uuid'}
    if isinstance(converter, AnyConverter):
        return {'type': 'string', 'enum': sorted(converter.items)}
    if isinstance(converter, Base64Converter):
        return {'type': 'string', 'contentEncoding': 'base64url'}
    return {'type': 'string'}


def load_schema(text):
    """Return the JSON Schema written in JSON or YAML text.

    None without text; ``{}`` (any value) when it does not parse.
    """
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return {}
    if not isinstance(value, dict):
        return {}
    try:
        # YAML gives dates and non-string keys that JSON cannot carry.
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return {}


def _operations(definitions):
    """Return [(definition, template, variables, alias)] with consistent
    names; alias numbers the endpoint's aliases from 1 (0: its route)."""
    parsed = []
    order = {m: i for i, m in enumerate(METHODS)}
    for definition in sorted(
            (d for d in definitions
                if d.documented and d.active and d.method in order),
            key=lambda d: (order[d.method], d.route, d.id)):
        for alias, route in enumerate(definition.routes()):
            result = route_template(route)
            if result is not None:
                parsed.append((definition, *result, alias))
    # OpenAPI holds `/a/{x}` and `/a/{y}` for the same path: routes of one
    # shape share the variable names, the most used one at each place.
    votes = defaultdict(lambda: defaultdict(Counter))
    for _, template, variables, _ in parsed:
        for position, (name, _) in enumerate(variables):
            votes[_shape(template)][position][name] += 1
    operations = []
    for definition, template, variables, alias in parsed:
        shape = _shape(template)
        names = [votes[shape][i].most_common(1)[0][0]
            for i in range(len(variables))]
        template = shape.format(*(f'{{{n}}}' for n in names))
        variables = [(new, old, converter)
            for new, (old, converter) in zip(names, variables)]
        operations.append((definition, template, variables, alias))
    return operations


def _shape(template):
    "Return the template with anonymous places, ready for str.format."
    escaped = template.replace('{', '{{').replace('}', '}}')
    return re.sub(r'\{\{[^}]*\}\}', '{}', escaped)


def _alias_operation(operation, variables, alias):
    "The operation of an endpoint's route, at one of its aliases"
    operation = copy.deepcopy(operation)
    operation['operationId'] = f"{operation['operationId']}_alias_{alias}"
    parameters = [_path_parameter(*v) for v in variables] + [
        p for p in operation.get('parameters', ()) if p.get('in') != 'path']
    if parameters:
        operation['parameters'] = parameters
    return operation


def _operation(definition, variables, schemas, seed):
    op_id = operation_id(definition)
    base = ''.join(p.capitalize() for p in op_id.split('_'))
    operation = {'operationId': op_id, 'summary': definition.name or op_id}
    if definition.description:
        operation['description'] = definition.description
    if definition.group:
        operation['tags'] = [definition.group]

    parameters = [_path_parameter(*v) for v in variables]
    query = load_schema(definition.query_schema)
    if query:
        query = schemas.embed(base + 'Query', query, root=False)
        parameters.extend(_query_parameters(query))
    if seed:
        parameters.extend(_seed_parameters(seed, parameters))
    if parameters:
        operation['parameters'] = parameters

    has_body = definition.method in BODY_METHODS
    if has_body:
        operation['requestBody'] = _request_body(
            definition, schemas, base, seed)

    response = load_schema(definition.response_schema)
    # A list of records can also be asked as a spreadsheet.
    listed = bool(response) and response.get('type') == 'array'
    if response:
        response = schemas.embed(base + 'Response', response)
    if seed:
        responses = _seed_responses(seed, response)
    else:
        content = {'application/json': {'schema': response or {}}}
        if listed:
            content[SPREADSHEET] = {'schema': {
                    'type': 'string', 'contentMediaType': SPREADSHEET}}
        responses = {
            '200': {'description': 'Success.', 'content': content},
            # The code may set its own status (201 Created, 202…).
            '2XX': {
                'description': "Success, with the status the code chose.",
                'content': content},
            }
        if definition.method != 'GET':
            responses['204'] = {
                'description': 'Done, nothing to answer.'}
        if listed:
            responses['406'] = {
                '$ref': '#/components/responses/NotAcceptable'}
    statuses = ['400']
    if definition.auth != 'public':
        statuses += ['401', '403']
    if variables:
        statuses += ['404', '405']
    if has_body:
        statuses += ['413', '415']
    statuses += ['500', '503']
    for status in statuses:
        responses.setdefault(status, {
                '$ref': f'#/components/responses/{ERRORS[status][0]}'})
    openapi_conditional.add_to_operation(
        operation, responses, definition, seed)
    operation['responses'] = dict(sorted(responses.items()))
    operation['security'] = (openapi_auth.security(definition)
        or SECURITY.get(definition.auth, []))
    openapi_http.decorate(operation, definition)
    return operation


def _path_parameter(name, original, converter):
    parameter = {
        'name': name, 'in': 'path', 'required': True,
        'schema': converter_schema(converter),
        }
    notes = []
    if name != original:
        notes.append(f'`{original}` of the route.')
    if isinstance(converter, PathConverter):
        # OpenAPI 3.1 refuses allowReserved on a path parameter, so say it.
        notes.append('May contain `/`, sent as is (not percent-encoded).')
    if isinstance(converter, Base64Converter):
        notes.append('URL-safe base64.')
    if notes:
        parameter['description'] = ' '.join(notes)
    return parameter


def _query_parameters(schema):
    properties = schema.get('properties')
    if not isinstance(properties, dict):
        return []
    required = schema.get('required')
    required = set(required) if isinstance(required, list) else set()
    parameters = []
    for name, sub in properties.items():
        sub = sub if isinstance(sub, dict) else {}
        parameter = {'name': name, 'in': 'query', 'schema': sub}
        if name in required:
            parameter['required'] = True
        if isinstance(sub.get('description'), str):
            parameter['description'] = sub['description']
        types = sub.get('type')
        if types == 'array' or (isinstance(types, list) and 'array' in types):
            # `?tag=a&tag=b`, as the query is read
            parameter['style'] = 'form'
            parameter['explode'] = True
        parameters.append(parameter)
    return parameters


def _request_body(definition, schemas, base, seed):
    content_type = definition.content_type or 'application/json'
    body = {}
    if content_type == 'application/xml':
        media = {'schema': {'type': 'string'}}
        if definition.request_schema:
            # No JSON Schema can say what an XSD says: ship it verbatim.
            media['x-xsd'] = definition.request_schema
            body['description'] = (
                'An XML document valid against the XSD in `x-xsd`.')
    elif content_type in TEXT_TYPES:
        media = {'schema': {'type': 'string'}}
    else:
        schema = load_schema(definition.request_schema)
        if schema:
            schema = schemas.embed(base + 'Request', schema)
        elif schema is None and seed:
            schema = _seed_request_schema(seed)
        media = {'schema': schema or {}}
    if definition.request_schema:
        body['required'] = True
    body['content'] = {content_type: media}
    return body


def _error_responses():
    responses = {}
    for status, (name, description) in ERRORS.items():
        response = {
            'description': description,
            'content': {PROBLEM_CONTENT_TYPE: {
                    'schema': {'$ref': '#/components/schemas/Problem'}}},
            }
        if status == '401':
            response['headers'] = {'WWW-Authenticate': {
                    'description': 'The accepted scheme.',
                    'schema': {'type': 'string'}}}
        if status == '405':
            response['headers'] = {'Allow': {
                    'description': 'The methods served at the path.',
                    'schema': {'type': 'string'}}}
        responses[name] = response
    return responses


def _problem_schema():
    return {
        'type': 'object',
        'description': 'RFC 9457 problem details.',
        'properties': {
            'type': {
                'type': 'string', 'format': 'uri-reference',
                'default': 'about:blank'},
            'title': {'type': 'string'},
            'status': {'type': 'integer'},
            'detail': {'type': 'string'},
            'errors': {
                'type': 'array',
                'items': {
                    'type': 'object',
                    'properties': {
                        'pointer': {
                            'type': 'string',
                            'description': 'JSON Pointer into the body.'},
                        'parameter': {
                            'type': 'string',
                            'description': 'Name of the query parameter.'},
                        'detail': {'type': 'string'},
                        },
                    'required': ['detail'],
                    },
                },
            },
        'required': ['type', 'title', 'status', 'detail'],
        }


class _Schemas:
    """The document's components.schemas.

    Endpoint schemas are placed here under a name, so that generators name
    their models; their ``$defs`` become components of their own and every
    local ``$ref`` is rewritten, as ``#/...`` now means the document.
    """

    def __init__(self):
        self.components = {
            'Problem': _problem_schema(),
            'TrytonRecord': _record_schema(),
            }

    def embed(self, name, schema, root=True):
        """Return the schema to use in place of ``schema``.

        With ``root`` a reference to the new component; else the schema
        itself (registered too only if something refers to its root).
        """
        name = self._unique(name)
        targets, found = {}, []
        for key in ('$defs', 'definitions'):
            defs = schema.get(key) or {}
            for def_name, sub in (defs.items()
                    if isinstance(defs, dict) else ()):
                target = self._unique(name + _pascal(def_name))
                self.components[target] = None  # reserve the name
                targets[(key, def_name)] = target
                found.append((target, sub if isinstance(sub, dict) else {}))
        uses_root = False

        def relocate(ref):
            nonlocal uses_root
            tokens = ref[1:].split('/')
            if len(tokens) >= 3:
                key = (tokens[1], _unescape(tokens[2]))
                if key in targets:
                    return '/'.join(['#/components/schemas', targets[key],
                            *tokens[3:]])
            uses_root = True
            return f'#/components/schemas/{name}{ref[1:]}'

        def rewrite(node):
            if isinstance(node, list):
                return [rewrite(v) for v in node]
            if not isinstance(node, dict):
                return node
            return {k: relocate(v) if k == '$ref' and isinstance(v, str)
                and (v == '#' or v.startswith('#/')) else rewrite(v)
                for k, v in node.items()}

        for target, sub in found:
            self.components[target] = rewrite(sub)
        # A base or dialect of its own would change what the refs mean.
        schema = rewrite({k: v for k, v in schema.items()
                if k not in {'$id', '$schema', '$defs', 'definitions'}})
        if root or uses_root:
            self.components[name] = schema
        if root:
            return {'$ref': f'#/components/schemas/{name}'}
        return schema

    def _unique(self, name):
        candidate, counter = name, 1
        while candidate in self.components:
            counter += 1
            candidate = f'{name}{counter}'
        return candidate


def _pascal(text):
    text = re.sub(r'[^0-9A-Za-z]+', ' ', str(text))
    return ''.join(w[:1].upper() + w[1:] for w in text.split()) or 'Schema'


def _unescape(token):
    "Decode one token of a JSON Pointer written in a URI fragment."
    return unquote(token).replace('~1', '/').replace('~0', '~')


# The seed REST endpoints answer as Tryton's built-in REST API does: they
# are documented with its parameters, headers and statuses.

_LIST = ['Domain', 'Order', 'Limit', 'Offset', 'Fields', 'Range']
_CONTEXT = ['XTrytonContext', 'XTrytonUsage', 'AcceptLanguage']
_SEED_PARAMETERS = {
    'search': _LIST + ['CollectionFormat'] + _CONTEXT,
    'relation': _LIST + ['CollectionFormat'] + _CONTEXT,
    'read': ['Fields'] + _CONTEXT,
    'create': ['Fields'] + _CONTEXT,
    'update': ['Fields'] + _CONTEXT,
    'delete': _CONTEXT,
    'model_action': _CONTEXT,
    'record_action': ['Fields'] + _CONTEXT,
    'report': _CONTEXT,
    }


def _seed_kind(template, method):
    "Return what a seed route does, from its place below /rest."
    parts = template.strip('/').split('/')
    if parts[:2] == ['rest', 'report']:
        return 'report'
    if parts[:2] != ['rest', 'model']:
        return None
    return {
        (3, 'GET'): 'search', (3, 'POST'): 'create',
        (4, 'GET'): 'read', (4, 'PUT'): 'update', (4, 'PATCH'): 'update',
        (4, 'DELETE'): 'delete', (4, 'POST'): 'model_action',
        (5, 'GET'): 'relation', (5, 'POST'): 'record_action',
        }.get((len(parts), method))


def _seed_parameters(kind, parameters):
    "Return references to the seed parameters not already in parameters."
    components = _seed_parameter_components()
    taken = {(p.get('name'), p.get('in')) for p in parameters}
    return [{'$ref': f'#/components/parameters/{name}'}
        for name in _SEED_PARAMETERS.get(kind, [])
        if (components[name]['name'], components[name]['in']) not in taken]


def _seed_request_schema(kind):
    if kind in {'model_action', 'record_action'}:
        return {'type': 'object',
            'description': 'Keyword arguments of the method.'}
    return {'type': 'object',
        'description': "Field values in Tryton's JSON encoding."}


def _seed_responses(kind, schema):
    "Return the success responses of a seed endpoint."
    record = {'$ref': '#/components/schemas/TrytonRecord'}
    language = {'Content-Language': _header('ContentLanguage')}
    no_content = {'description': 'Done, nothing to answer.'}
    if kind in {'search', 'relation'}:
        headers = dict(language, **{
                'Content-Range': _header('ContentRange'),
                'Accept-Ranges': _header('AcceptRanges')})
        records = _json('The records.', schema
            or {'type': 'array', 'items': record}, headers)
        records['content'][SPREADSHEET] = {'schema': {
                'type': 'string', 'contentMediaType': SPREADSHEET,
                'description': ("A sheet with a header row and a row per "
                    "record (`format=xlsx`, `.xlsx` or `Accept`); over the "
                    "server's row limit 400: page with `s` or `Range`.")}}
        return {
            '200': records,
            '406': {'$ref': '#/components/responses/NotAcceptable'},
            '416': {'$ref': '#/components/responses/RangeNotSatisfiable'},
            }
    if kind == 'read':
        return {'200': _json('The record.', schema or record, dict(
                    language, Link=_header('Link')))}
    if kind == 'create':
        return {
            '201': _json('Created.', schema or record, dict(
                    language, Location=_header('Location'))),
            '204': no_content,
            }
    if kind == 'update':
        return {'200': _json('The record.', schema or record, language),
            '204': no_content}
    if kind == 'delete':
        return {'204': no_content}
    if kind == 'report':
        return {'200': {
                # Served with the file's own type (PDF, ODT…); generators
                # turn octet-stream into bytes, which fits every one.
                'description': (
                    'The report file, with its own Content-Type.'),
                'headers': dict(language, **{
                        'Content-Disposition': _header(
                            'ContentDisposition')}),
                'content': {'application/octet-stream': {'schema': {
                            'type': 'string', 'format': 'binary'}}},
                }}
    return {'200': _json('What the method returns.', schema or {}, language),
        '204': no_content}


def _json(description, schema, headers):
    return {
        'description': description,
        'headers': headers,
        'content': {'application/json': {'schema': schema}},
        }


def _header(name):
    return {'$ref': f'#/components/headers/{name}'}


def _record_schema():
    return {
        'type': 'object',
        'description': (
            "A record in Tryton's JSON encoding: dates, times, decimals "
            "and bytes are objects with a `__class__`."),
        'properties': {
            'id': {'type': 'integer'},
            '__name__': {'type': 'string'},
            },
        'required': ['id', '__name__'],
        'additionalProperties': True,
        }


def _seed_parameter_components():
    def parameter(name, where, description, schema=None, **extra):
        return dict({'name': name, 'in': where, 'description': description,
                'schema': schema or {'type': 'string'}}, **extra)
    return {
        'Domain': parameter('d', 'query',
            'Search domain: URL-safe base64 of its JSON.'),
        'Order': parameter('o', 'query',
            'Order: URL-safe base64 of a JSON list of [field, direction].'),
        'Limit': parameter('s', 'query',
            'Size: the most records to answer (unless `Range`).',
            {'type': 'integer', 'minimum': 0}),
        'Offset': parameter('p', 'query',
            'Position of the first record (unless `Range`).',
            {'type': 'integer', 'minimum': 0, 'default': 0}),
        'Fields': parameter('f', 'query',
            'A field to answer, dotted through relations; repeat for more. '
            "By default the model's JSON fields for the usages.",
            {'type': 'array', 'items': {'type': 'string'}},
            style='form', explode=True),
        'CollectionFormat': parameter('format', 'query',
            'The format of the answer, instead of `Accept` or a suffix '
            '(`.xlsx`…) of the model or field name.',
            {'type': 'string', 'enum': ['json', 'xlsx']}),
        'Range': parameter('Range', 'header',
            '`records=<first>-<end>`, answered with `Content-Range`.',
            {'type': 'string', 'pattern': r'^records=\d+-\d*$'}),
        'XTrytonContext': parameter('X-Tryton-Context', 'header',
            'URL-safe base64 of a JSON Tryton context.'),
        'XTrytonUsage': parameter('X-Tryton-Usage', 'header',
            'Comma-separated usages that choose the default fields.'),
        'AcceptLanguage': parameter('Accept-Language', 'header',
            'Language of the answer.'),
        }


def _seed_header_components():
    def header(description):
        return {'description': description, 'schema': {'type': 'string'}}
    return {
        'ContentLanguage': header('Language of the answer.'),
        'ContentRange': header(
            '`records <first>-<end>/<count>`, count `*` when large.'),
        'AcceptRanges': header('`records`.'),
        'Link': header('The relations of the record as sub-collections.'),
        'Location': header('URL of the new record.'),
        'ContentDisposition': header('File name of the report.'),
        }
