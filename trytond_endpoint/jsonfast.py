"""A fast yes/no answer for the usual subset of JSON Schema.

jsonschema walks a 2 KB order in about half a millisecond: too slow to pay
on every request. The usual keywords are compiled here, once, into plain
closures that only say "valid or not". A request that passes is done; one
that fails is handed to jsonschema, which remains the only judge of the
errors reported. A schema using a keyword not implemented here gets no fast
check at all (``compile_check`` returns None): the semantics never differ
from jsonschema's, they are only faster.
"""
import numbers
import re

# Validation keywords without a fast implementation: their presence in a
# reachable subschema sends the whole schema to jsonschema.
UNSUPPORTED = frozenset({
        'if', 'then', 'else', 'contains', 'minContains', 'maxContains',
        'dependentRequired', 'dependentSchemas', 'dependencies',
        'propertyNames', 'unevaluatedItems', 'unevaluatedProperties',
        '$dynamicRef', '$recursiveRef',
        })


class Unsupported(Exception):
    pass


def _always(instance):
    return True


def _never(instance):
    return False


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


_TYPES = {
    'object': lambda v: isinstance(v, dict),
    'array': lambda v: isinstance(v, list),
    'string': lambda v: isinstance(v, str),
    'boolean': lambda v: isinstance(v, bool),
    'null': lambda v: v is None,
    'number': _is_number,
    # Draft 2020-12 counts 1.0 as an integer.
    'integer': lambda v: not isinstance(v, bool) and (
        isinstance(v, int) or (isinstance(v, float) and v.is_integer())),
    }


def equal(one, two):
    """JSON equality as jsonschema has it: true is not 1, 1.0 is 1."""
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(
            equal(a, b) for a, b in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(
            equal(one[k], two[k]) for k in one)
    if isinstance(one, (list, dict)) or isinstance(two, (list, dict)):
        return False
    return one == two


def compile_check(root, format_checker):
    """A function instance -> bool, or None when the schema uses keywords
    this module does not implement."""
    try:
        return _Compiler(root, format_checker).compile(root)
    except Unsupported:
        return None


class _Compiler:

    def __init__(self, root, format_checker):
        self.root = root
        self.format_checker = format_checker
        self.memo = {}

    def compile(self, schema):
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported
        key = id(schema)
        if key in self.memo:
            return self.memo[key]
        # A recursive $ref meets this placeholder while its target is
        # being compiled; it calls the real check once built.
        cell = []
        self.memo[key] = lambda instance: cell[0](instance)
        check = self._compile(schema)
        cell.append(check)
        self.memo[key] = check
        return check

    def _compile(self, schema):
        if UNSUPPORTED.intersection(schema):
            raise Unsupported
        if '$id' in schema and schema is not self.root:
            raise Unsupported
        checks = []
        if '$ref' in schema:
            checks.append(self.compile(self._resolve(schema['$ref'])))
        if 'type' in schema:
            checks.append(_type_check(schema['type']))
        for build in (self._any, self._string, self._number, self._object,
                self._array):
            check = build(schema)
            if check is not None:
                checks.append(check)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        checks = tuple(checks)

        def check_all(instance):
            for check in checks:
                if not check(instance):
                    return False
            return True
        return check_all

    def _resolve(self, ref):
        if not isinstance(ref, str) or not (ref == '#' or ref.startswith('#/')):
            raise Unsupported
        node = self.root
        for part in ref[2:].split('/') if ref != '#' else ():
            part = part.replace('~1', '/').replace('~0', '~')
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise Unsupported
        return node

    def _any(self, schema):
        checks = []
        if 'enum' in schema:
            values = tuple(schema['enum'])
            checks.append(
                lambda v: any(equal(v, each) for each in values))
        if 'const' in schema:
            const = schema['const']
            checks.append(lambda v: equal(v, const))
        if 'allOf' in schema:
            subs = tuple(self.compile(s) for s in schema['allOf'])
            checks.append(lambda v: all(s(v) for s in subs))
        if 'anyOf' in schema:
            subs = tuple(self.compile(s) for s in schema['anyOf'])
            checks.append(lambda v: any(s(v) for s in subs))
        if 'oneOf' in schema:
            subs = tuple(self.compile(s) for s in schema['oneOf'])
            checks.append(lambda v: sum(1 for s in subs if s(v)) == 1)
        if 'not' in schema:
            sub = self.compile(schema['not'])
            checks.append(lambda v: not sub(v))
        if 'format' in schema and self.format_checker is not None:
            conforms = self.format_checker.conforms
            name = schema['format']
            checks.append(lambda v: conforms(v, name))
        return _all_of(checks)

    def _string(self, schema):
        low = schema.get('minLength')
        high = schema.get('maxLength')
        pattern = schema.get('pattern')
        if low is None and high is None and pattern is None:
            return None
        search = re.compile(pattern).search if pattern is not None else None

        def check(value):
            if not isinstance(value, str):
                return True
            if low is not None and len(value) < low:
                return False
            if high is not None and len(value) > high:
                return False
            return search is None or search(value) is not None
        return check

    def _number(self, schema):
        bounds = [(schema[k], k) for k in (
                'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum')
            if k in schema]
        multiple = schema.get('multipleOf')
        if isinstance(multiple, float):
            # jsonschema's float arithmetic there is subtle: not copied.
            raise Unsupported
        if not bounds and multiple is None:
            return None
        minimum = schema.get('minimum')
        maximum = schema.get('maximum')
        exclusive_min = schema.get('exclusiveMinimum')
        exclusive_max = schema.get('exclusiveMaximum')

        def check(value):
            if not _is_number(value):
                return True
            if minimum is not None and value < minimum:
                return False
            if maximum is not None and value > maximum:
                return False
            if exclusive_min is not None and value <= exclusive_min:
                return False
            if exclusive_max is not None and value >= exclusive_max:
                return False
            return multiple is None or not value % multiple
        return check

    def _object(self, schema):
        keys = ('properties', 'required', 'additionalProperties',
            'patternProperties', 'minProperties', 'maxProperties')
        if not any(k in schema for k in keys):
            return None
        properties = {name: self.compile(sub)
            for name, sub in schema.get('properties', {}).items()}
        required = tuple(schema.get('required', ()))
        patterns = tuple(
            (re.compile(pattern).search, self.compile(sub))
            for pattern, sub in schema.get('patternProperties', {}).items())
        additional = None
        if 'additionalProperties' in schema:
            additional = self.compile(schema['additionalProperties'])
        low = schema.get('minProperties')
        high = schema.get('maxProperties')

        def check(value):
            if not isinstance(value, dict):
                return True
            for name in required:
                if name not in value:
                    return False
            if low is not None and len(value) < low:
                return False
            if high is not None and len(value) > high:
                return False
            for name, item in value.items():
                sub = properties.get(name)
                matched = sub is not None
                if matched and not sub(item):
                    return False
                for search, sub in patterns:
                    if search(name):
                        matched = True
                        if not sub(item):
                            return False
                if not matched and additional is not None and not additional(
                        item):
                    return False
            return True
        return check

    def _array(self, schema):
        keys = ('items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems')
        if not any(k in schema for k in keys):
            return None
        prefix = tuple(self.compile(s) for s in schema.get('prefixItems', ()))
        items = self.compile(schema['items']) if 'items' in schema else None
        low = schema.get('minItems')
        high = schema.get('maxItems')
        unique = schema.get('uniqueItems') is True

        def check(value):
            if not isinstance(value, list):
                return True
            if low is not None and len(value) < low:
                return False
            if high is not None and len(value) > high:
                return False
            for i, item in enumerate(value):
                sub = prefix[i] if i < len(prefix) else items
                if sub is not None and not sub(item):
                    return False
            if unique:
                for i, item in enumerate(value):
                    for other in value[i + 1:]:
                        if equal(item, other):
                            return False
            return True
        return check


def _type_check(types):
    if isinstance(types, str):
        types = [types]
    try:
        checks = tuple(_TYPES[t] for t in types)
    except (KeyError, TypeError):
        raise Unsupported
    if len(checks) == 1:
        return checks[0]
    return lambda v: any(check(v) for check in checks)


def _all_of(checks):
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    checks = tuple(checks)
    return lambda v: all(check(v) for check in checks)
