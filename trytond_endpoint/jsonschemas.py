"""JSON Schema contracts: loading schema text, validating, coercing.

Schemas are JSON Schema 2020-12 written in JSON or YAML. Everything that
costs (parsing, meta-validation, reference checks, building the validator
and the coercion plan) happens in the constructor, once per sync; a request
only walks its own data.
"""
import copy
import datetime
import json
import re

import yaml
from jsonschema import (
    Draft202012Validator,
    FormatChecker,
    ValidationError,
    validators,
)
from jsonschema import exceptions as js_exceptions
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from .jsonfast import compile_check
from .problem import Problem

MAX_ERRORS = 100
TRUE_STRINGS = frozenset({'true', '1', 'yes'})
FALSE_STRINGS = frozenset({'false', '0', 'no'})
_INTEGER = re.compile(r'[+-]?\d+')
_NUMBER = re.compile(r'[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?')
# Keywords whose values are data, not subschemas: a "$ref" key there is
# no reference.
_DATA_KEYWORDS = frozenset({'enum', 'const', 'default', 'examples'})
_LOOKS_JSON = re.compile(r'\{\s*["}]|\[')


class SchemaError(ValueError):
    """A schema that cannot be used; ``line`` is 1-based or None."""

    def __init__(self, message, line=None):
        self.message = message
        self.line = line
        super().__init__(f'line {line}: {message}' if line else message)


# -- loading -----------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """safe_load without aliases (an alias bomb expands exponentially when
    walked) and without YAML-only scalars: an unquoted date stays a
    string, as it would in JSON."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, 'aliases are not allowed',
                self.peek_event().start_mark)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
        if tag != 'tag:yaml.org,2002:timestamp']
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _refuse_constant(name):
    raise ValueError(f'{name} is not valid JSON')


def _load_yaml(text):
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SchemaError(
            f'malformed YAML: {exc.problem or exc.context}',
            line=mark.line + 1 if mark else None)
    except yaml.YAMLError as exc:
        raise SchemaError(f'malformed YAML: {exc}')


def load_schema_text(text):
    """The schema document in ``text``, JSON or YAML."""
    stripped = text.lstrip()
    if stripped.startswith('<'):
        raise SchemaError(
            'this looks like XML: an XSD applies to application/xml '
            'bodies; JSON and form bodies take a JSON Schema',
            line=1)
    try:
        # A quoted first key or bracket means JSON: its mistakes are
        # reported as JSON ones, not read as some other YAML.
        if _LOOKS_JSON.match(stripped):
            try:
                data = json.loads(text, parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                raise SchemaError(
                    f'malformed JSON: {exc.msg} (column {exc.colno})',
                    line=exc.lineno)
        else:
            data = _load_yaml(text)
    except RecursionError:
        raise SchemaError('schema nested too deeply')
    except ValueError as exc:
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(f'malformed schema: {exc}')
    _check_plain(data, text)
    if not isinstance(data, (dict, bool)):
        raise SchemaError('a schema must be an object', line=1)
    return data


def _check_plain(data, text):
    """Refuse what YAML allows but JSON has no word for (binary, sets,
    non-string keys), so the schema means the same in both syntaxes."""
    stack = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise SchemaError(
                        f'key {key!r} must be a string',
                        line=line_of(text, path))
                stack.append((item, path + (key,)))
        elif isinstance(value, list):
            stack.extend((item, path + (i,)) for i, item in enumerate(value))
        elif not isinstance(value, (str, int, float, type(None))):
            raise SchemaError(
                f'{type(value).__name__} values are not JSON',
                line=line_of(text, path))


def line_of(text, path):
    """1-based line of the value at ``path`` in the JSON/YAML ``text``, or
    None; only used to point admins at their mistake."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        line = node.start_mark.line + 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        node = value
                        # A key's line is where a reader looks for it.
                        line = key.start_mark.line + 1
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line
    except (yaml.YAMLError, IndexError, TypeError, RecursionError):
        # JSON that PyYAML cannot read (tabs): no line rather than none
        # of the message.
        return None


# -- validator -----------------------------------------------------------

def _required(validator, required, instance, schema):
    # One error per missing property, pointing at the property itself.
    if not validator.is_type(instance, 'object'):
        return
    for name in required:
        if name not in instance:
            yield ValidationError('is required', path=[name])


_additional_properties = Draft202012Validator.VALIDATORS['additionalProperties']


def _additional(validator, additional, instance, schema):
    # One error per unexpected property, pointing at it, when refused
    # outright; other forms keep the standard behaviour.
    if additional is not False or not validator.is_type(instance, 'object'):
        yield from _additional_properties(
            validator, additional, instance, schema)
        return
    properties = schema.get('properties', {})
    patterns = schema.get('patternProperties', {})
    for name in instance:
        if name in properties:
            continue
        if any(re.search(pattern, name) for pattern in patterns):
            continue
        yield ValidationError('unexpected property', path=[name])


_Validator = validators.extend(Draft202012Validator, {
        'required': _required,
        'additionalProperties': _additional,
        })


def _format_checker():
    # A copy: FormatChecker.checks() on the shared one would change every
    # jsonschema user in the process.
    checker = FormatChecker(list(Draft202012Validator.FORMAT_CHECKER.checkers))
    if 'date-time' not in checker.checkers:
        # rfc3339-validator is optional for jsonschema; never skip the
        # check silently.
        @checker.checks('date-time', raises=ValueError)
        def is_datetime(value):
            if not isinstance(value, str):
                return True
            if not re.fullmatch(
                    r'\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?'
                    r'([Zz]|[+-]\d\d:\d\d)', value):
                return False
            datetime.datetime.fromisoformat(value.upper())
            return True
    return checker


FORMAT_CHECKER = _format_checker()


# -- messages -----------------------------------------------------------

TYPE_NAMES = {
    'integer': 'an integer',
    'number': 'a number',
    'string': 'a string',
    'boolean': 'a boolean',
    'object': 'an object',
    'array': 'an array',
    'null': 'null',
    }


def _dump(value):
    return json.dumps(value, ensure_ascii=False, default=str)


def _must_be_types(types):
    if isinstance(types, str):
        types = [types]
    return 'must be ' + ' or '.join(TYPE_NAMES.get(t, t) for t in types)


_DETAILS = {
    'format': lambda v: f'must be a valid {v}',
    'const': lambda v: f'must be {_dump(v)}',
    'minimum': lambda v: f'must be at least {v}',
    'maximum': lambda v: f'must be at most {v}',
    'exclusiveMinimum': lambda v: f'must be greater than {v}',
    'exclusiveMaximum': lambda v: f'must be less than {v}',
    'multipleOf': lambda v: f'must be a multiple of {v}',
    'minLength': lambda v: f'must be at least {v} characters long',
    'maxLength': lambda v: f'must be at most {v} characters long',
    'pattern': lambda v: f'must match the pattern {v}',
    'minItems': lambda v: f'must have at least {v} items',
    'maxItems': lambda v: f'must have at most {v} items',
    'uniqueItems': lambda v: 'must not contain duplicates',
    'minProperties': lambda v: f'must have at least {v} properties',
    'maxProperties': lambda v: f'must have at most {v} properties',
    'anyOf': lambda v: 'does not match any of the allowed forms',
    'oneOf': lambda v: 'must match exactly one of the allowed forms',
    'not': lambda v: 'matches a forbidden form',
    'type': _must_be_types,
    }


def detail_of(error):
    """A short human message for a jsonschema error."""
    if error.message in ('is required', 'unexpected property'):
        return error.message
    if error.validator == 'enum':
        values = ', '.join(_dump(v) for v in error.validator_value[:10])
        if len(error.validator_value) > 10:
            values += ', …'
        return f'must be one of {values}'
    make = _DETAILS.get(error.validator)
    if make is not None:
        return make(error.validator_value)
    return error.message


def pointer_of(path):
    """RFC 6901 JSON Pointer of a path (keys and indexes)."""
    return ''.join(
        '/' + str(part).replace('~', '~0').replace('/', '~1')
        for part in path)


# -- defaults and coercion -----------------------------------------------

def _resolve_local(root, ref):
    """The subschema a local "#/…" reference names, or None."""
    if ref == '#':
        return root
    if not ref.startswith('#/'):
        return None
    node = root
    try:
        for part in ref[2:].split('/'):
            part = part.replace('~1', '/').replace('~0', '~')
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    return node


def _fill_defaults(instance, schema, root, seen):
    """Set missing properties that have a default, following properties,
    items, prefixItems, allOf and local $ref. anyOf/oneOf/if branches are
    not followed: which one applies is unknown before validation."""
    if not isinstance(schema, dict) or id(schema) in seen:
        # ``seen`` is per instance node: a $ref cycle ends here.
        return
    seen.add(id(schema))
    ref = schema.get('$ref')
    if isinstance(ref, str):
        _fill_defaults(instance, _resolve_local(root, ref), root, seen)
    for sub in schema.get('allOf') or ():
        _fill_defaults(instance, sub, root, seen)
    if isinstance(instance, dict):
        properties = schema.get('properties')
        if not isinstance(properties, dict):
            return
        for name, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            if name not in instance:
                default = _default_of(sub, root)
                if default is not _NO_DEFAULT:
                    instance[name] = copy.deepcopy(default)
            if name in instance:
                _fill_defaults(instance[name], sub, root, set())
    elif isinstance(instance, list):
        prefix = schema.get('prefixItems') or []
        items = schema.get('items')
        for i, item in enumerate(instance):
            sub = prefix[i] if i < len(prefix) else items
            _fill_defaults(item, sub, root, set())


_NO_DEFAULT = object()


def _default_of(schema, root):
    # Through a chain of $ref, bounded in case the chain loops.
    for _ in range(16):
        if not isinstance(schema, dict):
            break
        if 'default' in schema:
            return schema['default']
        ref = schema.get('$ref')
        if not isinstance(ref, str):
            break
        schema = _resolve_local(root, ref)
    return _NO_DEFAULT


def _mentions(value, key):
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if key in value:
                return True
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _types_of(schema, root):
    if isinstance(schema, dict) and isinstance(schema.get('$ref'), str):
        schema = _resolve_local(root, schema['$ref']) or {}
    if not isinstance(schema, dict):
        return (), None
    types = schema.get('type', ())
    if isinstance(types, str):
        types = (types,)
    return tuple(types), schema


def coercion_plan(schema):
    """Per property: the accepted types and, for arrays, the item types."""
    plan = {}
    if not isinstance(schema, dict):
        return plan
    properties = schema.get('properties')
    if not isinstance(properties, dict):
        return plan
    for name, sub in properties.items():
        types, resolved = _types_of(sub, schema)
        item_types = None
        if 'array' in types:
            item_types, _ = _types_of(resolved.get('items'), schema)
        plan[name] = (types, item_types)
    return plan


def coerce_scalar(value, types):
    """(True, value) converted to the first fitting type, or (False,
    message). Strings are tried last: "12" for integer-or-string is 12."""
    if not types:
        return True, value
    text = value.strip()
    lowered = text.lower()
    if 'null' in types and lowered in ('', 'null'):
        return True, None
    if 'boolean' in types:
        if lowered in TRUE_STRINGS:
            return True, True
        if lowered in FALSE_STRINGS:
            return True, False
    try:
        if ('integer' in types or 'number' in types) and _INTEGER.fullmatch(
                text):
            return True, int(text)
        if 'number' in types and _NUMBER.fullmatch(text):
            return True, float(text)
    except ValueError:
        # Beyond Python's digit limit: not a number anyone means.
        pass
    if 'string' in types:
        return True, value
    return False, _must_be_types([t for t in types if t != 'null'] or types)


def coerce_multidict(values, plan):
    """Coerce a MultiDict of strings (query or form) per ``plan``: return
    the dict and the [(name, message)] that could not be coerced."""
    result, errors = {}, []
    for name in values:
        raw = values.getlist(name)
        types, item_types = plan.get(name, ((), None))
        if 'array' in types:
            items = []
            for value in raw:
                ok, item = coerce_scalar(value, item_types or ())
                if not ok:
                    errors.append((name, 'each value ' + item))
                    break
                items.append(item)
            else:
                result[name] = items
        elif not types:
            # Unknown to the schema: kept as sent (repeats as a list).
            result[name] = raw[0] if len(raw) == 1 else raw
        elif len(raw) > 1:
            errors.append((name, 'must be given once'))
        else:
            ok, value = coerce_scalar(raw[0], types)
            if ok:
                result[name] = value
            else:
                errors.append((name, value))
    return result, errors


# -- the contract ----------------------------------------------------------

class JsonSchemaContract:
    """A compiled JSON Schema: validator, defaults and coercion plan."""

    def __init__(self, text):
        schema = load_schema_text(text)
        try:
            Draft202012Validator.check_schema(
                schema, format_checker=FORMAT_CHECKER)
        except js_exceptions.SchemaError as exc:
            raise SchemaError(
                f'invalid schema at {exc.json_path}: {exc.message}',
                line=line_of(text, list(exc.absolute_path)))
        _check_refs(schema, text)
        self.schema = schema
        # The specifications registry has no retrieval: a remote $ref can
        # never make the server fetch a URL.
        self.validator = _Validator(
            schema, format_checker=FORMAT_CHECKER, registry=SPECIFICATIONS)
        self.fast_check = compile_check(schema, FORMAT_CHECKER)
        self.has_defaults = _mentions(schema, 'default')
        self.plan = coercion_plan(schema)

    def apply_defaults(self, instance):
        if self.has_defaults:
            _fill_defaults(instance, self.schema, self.schema, set())
        return instance

    def errors(self, instance):
        """[(path tuple, message)] of every violation (capped)."""
        if self.fast_check is not None:
            try:
                if self.fast_check(instance):
                    return []
            except (TypeError, ValueError, RecursionError):
                # jsonschema decides.
                pass
        found, seen = [], set()
        for error in self.validator.iter_errors(instance):
            item = (tuple(error.absolute_path), detail_of(error))
            if item not in seen:
                seen.add(item)
                found.append(item)
                if len(found) >= MAX_ERRORS:
                    break
        return found

    def check_json(self, instance):
        """Apply defaults then validate; Problem 400 listing every error."""
        self.apply_defaults(instance)
        errors = self.errors(instance)
        if errors:
            raise invalid_body([
                    {'pointer': pointer_of(path), 'detail': detail}
                    for path, detail in errors])
        return instance

    def check_form(self, form, file_names=()):
        """Coerce, default and validate form fields. File parts take part
        in validation as their file name, so a schema declares them as
        strings (``format: binary`` as in OpenAPI)."""
        values, failures = coerce_multidict(form, self.plan)
        errors = [{'pointer': pointer_of([name]), 'detail': detail}
            for name, detail in failures]
        failed = {name for name, _ in failures}
        instance = dict(values)
        for name, filename in file_names:
            instance.setdefault(name, filename)
        self.apply_defaults(instance)
        for path, detail in self.errors(instance):
            if path and path[0] in failed:
                continue
            errors.append({'pointer': pointer_of(path), 'detail': detail})
        if errors:
            raise invalid_body(errors)
        file_only = {name for name, _ in file_names} - set(values)
        return {k: v for k, v in instance.items() if k not in file_only}


def invalid_body(errors):
    return Problem(400, detail=_summary(errors, 'the request body'),
        errors=errors[:MAX_ERRORS])


def _summary(errors, what):
    count = len(errors)
    return (f'{what} is invalid: {count} error'
        + ('s' if count > 1 else ''))


class QueryContract:
    """The query string's schema: values coerced from strings."""

    def __init__(self, text):
        self.contract = JsonSchemaContract(text)
        schema = self.contract.schema
        if isinstance(schema, dict) and schema.get('type', 'object') not in (
                'object', ['object']):
            raise SchemaError(
                'a query schema describes an object: its properties are '
                'the parameters', line=line_of(text, ['type']))
        self.plan = self.contract.plan

    def coerce(self, args):
        """The parameters as a dict of typed values; Problem 400 listing
        every bad parameter."""
        values, failures = coerce_multidict(args, self.plan)
        errors = [{'parameter': name, 'detail': detail}
            for name, detail in failures]
        failed = {name for name, _ in failures}
        self.contract.apply_defaults(values)
        for path, detail in self.contract.errors(values):
            if path and path[0] in failed:
                continue
            if detail == 'unexpected property':
                detail = 'unexpected parameter'
            error = {'detail': detail}
            if path:
                error = {'parameter': str(path[0]), 'detail': detail}
            errors.append(error)
        if errors:
            raise Problem(400,
                detail=_summary(errors, 'the query string'),
                errors=errors[:MAX_ERRORS])
        return values


def _check_refs(schema, text):
    """Refuse at compile a $ref that cannot be resolved without the
    network, instead of failing on the first request that reaches it."""
    if not isinstance(schema, dict):
        return
    refs, nested_ids = [], False
    stack = [(schema, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ('$ref', '$dynamicRef') and isinstance(item, str):
                    refs.append((item, path + (key,)))
                elif key == '$id' and path:
                    nested_ids = True
                elif key not in _DATA_KEYWORDS:
                    stack.append((item, path + (key,)))
        elif isinstance(value, list):
            stack.extend((item, path + (i,)) for i, item in enumerate(value))
    if not refs or nested_ids:
        # A nested $id changes the base of the references below it; the
        # validator resolves those, this check would misjudge them.
        return
    resource = DRAFT202012.create_resource(schema)
    base = resource.id() or ''
    registry = SPECIFICATIONS.with_resource(base, resource)
    resolver = registry.resolver(base_uri=base)
    for ref, path in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise SchemaError(
                f'cannot resolve $ref "{ref}" (only references inside the '
                'schema are allowed)', line=line_of(text, path))
