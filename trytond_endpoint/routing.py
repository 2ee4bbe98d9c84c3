"""Published definitions turned into a Werkzeug map and matched.

A :class:`LiveMap` is built once per registry version per process and
then only read, so it is shared by every thread of the worker.
"""
import base64
import logging
import re
import threading
from collections import OrderedDict
from functools import lru_cache

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, RequestRedirect, Rule

from .problem import Problem


class Base64Converter(BaseConverter):
    "URL-safe base64 text, padding optional: Tryton's own converter"

    def to_python(self, value):
        if missing_padding := len(value) % 4:
            value += '=' * (4 - missing_padding)
        try:
            return base64.urlsafe_b64decode(value).decode('utf-8')
        except ValueError:
            raise Problem(400, "Path segment is not valid base64.")

    def to_url(self, value):
        return (base64.urlsafe_b64encode(value.encode('utf-8'))
            .decode('ascii').rstrip('='))


class MatchRule(Rule):
    """A rule that only matches.

    Werkzeug compiles two URL builders per rule, most of the cost of adding
    one; the registry never builds URLs from its rules.
    """

    def _compile_builder(self, append_unknown=True):
        return _no_builder


def _no_builder(rule, *args, **kwargs):
    raise NotImplementedError("endpoint routes do not build URLs")


CONVERTERS = {'base64': Base64Converter}
logger = logging.getLogger(__name__)
# Paths whose match a live map remembers (hot paths skip Werkzeug).
MATCH_MEMO = 4096
_VARIABLE = re.compile(r'<(?:([a-zA-Z_][a-zA-Z0-9_]*)(\([^>]*\))?:)?[^>]+>')


def new_map(rules=()):
    # No redirects: an API answers the path it is given, 404 otherwise.
    return Map(list(rules), converters=CONVERTERS, strict_slashes=False,
        merge_slashes=False)


def check_route(route):
    """Return an error message for a route that cannot be served, or None."""
    if not route or not route.startswith('/'):
        return "The route must start with '/'."
    if '<' not in route and '>' not in route:
        # A static path: nothing for Werkzeug to parse, and most routes of
        # a large registry are static.
        return None
    if _check_rule(_rule_shape(route)) is None:
        return None
    return _check_rule(route)


def _rule_shape(route):
    """The route with each run of plain characters outside its variables
    made one letter: what Werkzeug's parser accepts does not depend on
    them, so generated routes share one check."""
    return _PLAIN_RUN.sub('a', route)


# Runs of letters, digits, '_' and '-' not inside <…>.
_PLAIN_RUN = re.compile(r'[A-Za-z0-9_-]+(?![^<]*>)')


@lru_cache(maxsize=4096)
def _check_rule(route):
    try:
        new_map([MatchRule(route, endpoint=0)]).bind('localhost').match(
            '/', method='GET')
    except (NotFound, MethodNotAllowed, RequestRedirect):
        pass
    except Exception as exception:
        return str(exception)
    return None


def path_variables(route):
    "``{name: converter text}`` of a route's variables"
    return {m.group(0).rsplit(':', 1)[-1].strip('<>').strip():
        (m.group(1) or 'default') + (m.group(2) or '')
        for m in _VARIABLE.finditer(route)}


def alias_errors(definition, reserved=()):
    """Messages of what prevents serving a definition's aliases: each a
    rule of its own, with the route's path parameters (names and
    converters: the code reads the same ``path_params``), none served twice
    by the endpoint itself."""
    messages = []
    route = definition.route or ''
    expected = path_variables(route)
    shapes = {route_shape(route)}
    for alias in definition.routes()[1:]:
        message = check_route(alias)
        if message:
            messages.append(f"{alias}: {message}")
            continue
        if alias.rstrip('/') in reserved or alias.startswith('/docs/'):
            messages.append(
                f"{alias} is reserved for the API documentation.")
            continue
        variables = path_variables(alias)
        if variables != expected:
            messages.append(f"{alias} must have the path parameters of the "
                f"route ({_variables_text(expected)}), "
                f"not {_variables_text(variables)}.")
            continue
        shape = route_shape(alias)
        if shape in shapes:
            messages.append(f"{alias} is already a route of this endpoint.")
            continue
        shapes.add(shape)
    return messages


def _variables_text(variables):
    return ', '.join(f'<{c}:{n}>' for n, c in sorted(variables.items())
        ) or 'none'


def route_shape(route):
    "The route without its variable names: two routes with one shape clash"
    return _VARIABLE.sub(
        lambda m: '<%s%s>' % (m.group(1) or 'default', m.group(2) or ''),
        route)


def route_clashes(routes):
    """Yield ``(item, first)`` for each item whose route shape and method an
    earlier ``first`` already has; ``routes`` gives ``(item, route, method)``
    in the order that decides which is first."""
    seen = {}
    for item, route, method in routes:
        key = (route_shape(route), method)
        if key in seen:
            yield item, seen[key]
        else:
            seen[key] = item


class Entry:
    "One served endpoint with what was compiled for it"
    __slots__ = ('definition', 'compiled', 'facts', '_lock')

    def __init__(self, definition):
        self.definition = definition
        self.compiled = None
        self.facts = None
        self._lock = threading.Lock()

    def get_facts(self, make):
        # Read-only facts of the definition, shared by its requests.
        if self.facts is None:
            self.facts = make(self.definition)
        return self.facts

    def get_compiled(self, compile_):
        # Compiled on first use so a sync of thousands of endpoints stays
        # cheap; then kept for as long as this map is live.
        if self.compiled is None:
            with self._lock:
                if self.compiled is None:
                    self.compiled = compile_(self.definition)
        return self.compiled


class LiveMap:
    "The routes of one registry version"

    def __init__(self, version, definitions):
        self.version = version
        self.definitions = [d for d in definitions if d.active]
        self.entries = {}
        self.map = new_map()
        for definition in self.definitions:
            served = False
            # Its aliases match the same entry: one compiled snippet.
            for route in definition.routes():
                try:
                    self.map.add(MatchRule(route, endpoint=definition.id,
                            methods=[definition.method]))
                except Exception:
                    # Checked at sync; should one still fail, it alone is
                    # lost.
                    logger.exception("Route %s of endpoint %s refused",
                        route, definition.id)
                    continue
                served = True
            if served:
                self.entries[definition.id] = Entry(definition)
        self._adapter = self.map.bind('localhost')
        self.cache = {}  # derived documents (OpenAPI…) of this version
        # A map never changes: what it answered for a path it answers again.
        self._matched = {}

    def match(self, path, method):
        """Return ``(entry, path_params)`` or raise :class:`Problem`.

        ``OPTIONS`` is answered by :meth:`allowed_methods`, HEAD matches
        the GET record.
        """
        key = (path, method)
        matched = self._matched.get(key)
        if matched is not None:
            id_, params = matched
            return self.entries[id_], dict(params)
        try:
            id_, params = self._adapter.match(path, method=method)
        except MethodNotAllowed as exception:
            allowed = sorted(set(exception.valid_methods or ()) | {'OPTIONS'})
            raise Problem(405,
                f"Method {method} is not allowed here.",
                headers={'Allow': ', '.join(allowed)})
        except (NotFound, RequestRedirect):
            raise Problem(404, f"No endpoint at {path}.")
        if len(self._matched) >= MATCH_MEMO:
            self._matched.clear()
        self._matched[key] = (id_, params)
        return self.entries[id_], dict(params)

    def allowed_methods(self, path):
        methods = set(self._adapter.allowed_methods(path))
        if not methods:
            raise Problem(404, f"No endpoint at {path}.")
        return sorted(methods | {'OPTIONS'})


class MapCache:
    "Built maps of one process, by database and registry version"

    def __init__(self, size=4):
        self.size = size
        self._maps = OrderedDict()
        self._lock = threading.Lock()

    def get(self, database, version, load):
        key = (database, version)
        live = self._maps.get(key)
        if live is None:
            with self._lock:
                live = self._maps.get(key)
                if live is None:
                    live = LiveMap(version, load())
                    self._maps[key] = live
                    while len(self._maps) > self.size:
                        self._maps.popitem(last=False)
        return live

    def clear(self):
        with self._lock:
            self._maps.clear()
