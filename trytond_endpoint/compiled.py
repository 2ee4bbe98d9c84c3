"""Everything compiled for one definition, and the checks done at save."""
import ast
from dataclasses import dataclass
from functools import lru_cache

from .content import parse_content_type
from .contracts import (
    SchemaError,
    compile_query_schema,
    compile_request_schema,
)
from .definition import AUTH_MODES, BODY_METHODS, CONTENT_TYPES, METHODS
from .http.auth_checks import check_auth
from .http.fields_check import check_http_fields
from .routing import alias_errors, check_route
from .sandbox import SnippetError, compile_snippet

RESERVED_ROUTES = frozenset(
    {'/openapi.json', '/openapi.yaml', '/docs', '/metrics'})


@dataclass(frozen=True)
class Compiled:
    code: object
    request_contract: object
    query_contract: object
    media_type: str | None
    # The names of its run the snippet reads, and the attributes it reads
    # of any object: what the request view needs (see snippet_reads).
    names: frozenset
    attributes: frozenset


@lru_cache(maxsize=4096)
def _compile(source):
    # Many endpoints share a snippet (seed REST, copies, generated ones):
    # compile each text once per process.
    return compile_snippet(source, '<endpoint>')


@lru_cache(maxsize=4096)
def snippet_reads(source):
    """The names and the attribute names source writes.

    A snippet reaches a name of its run, or an attribute, only by writing
    it (``getattr``, ``globals``, ``vars`` and frames are refused at
    compile time, ``str.format`` looks no attribute up): what it never
    writes need not be built for its runs.
    """
    nodes = list(ast.walk(ast.parse(source)))
    return (frozenset(n.id for n in nodes if isinstance(n, ast.Name)),
        frozenset(n.attr for n in nodes if isinstance(n, ast.Attribute)))


def compile_definition(definition):
    "Compile a definition; raises SnippetError or SchemaError"
    media_type = None
    if definition.content_type:
        media_type, _ = parse_content_type(definition.content_type)
    code = _compile(definition.code or '')
    names, attributes = snippet_reads(definition.code or '')
    return Compiled(
        code=code,
        request_contract=compile_request_schema(
            definition.request_schema, definition.content_type),
        query_contract=compile_query_schema(definition.query_schema),
        media_type=media_type, names=names, attributes=attributes)


def check_definition(definition, root_user=0):
    """Return ``[(field, message)]`` of what prevents serving it."""
    errors = []
    if definition.method not in METHODS:
        errors.append(('method', f"Unknown method {definition.method!r}."))
    message = check_route(definition.route)
    if message:
        errors.append(('route', message))
    elif definition.route.rstrip('/') in RESERVED_ROUTES or (
            definition.route.startswith('/docs/')):
        errors.append(('route',
                f"{definition.route} is reserved for the API documentation "
                "and metrics."))
    errors.extend(
        ('aliases', m) for m in alias_errors(definition, RESERVED_ROUTES))
    if definition.auth not in AUTH_MODES:
        errors.append(('auth', f"Unknown auth mode {definition.auth!r}."))
    if definition.auth == 'public' and not definition.exec_user:
        errors.append(('exec_user',
                "A public endpoint needs a user to run as."))
    errors.extend(check_auth(definition))
    if definition.exec_user == root_user:
        errors.append(('exec_user',
                "The root user can not run endpoints; choose a user with "
                "the access rights the code needs."))
    if definition.method in BODY_METHODS and not definition.content_type:
        errors.append(('content_type',
                f"{definition.method} endpoints need a content type."))
    if (definition.content_type
            and definition.content_type not in CONTENT_TYPES):
        errors.append(('content_type',
                f"Unknown content type {definition.content_type!r}."))
    try:
        _compile(definition.code or '')
    except SnippetError as exception:
        line = f" (line {exception.lineno})" if exception.lineno else ''
        errors.append(('code', f"{exception.message}{line}"))
    for field, compile_ in [
            ('request_schema', lambda d: compile_request_schema(
                    d.request_schema, d.content_type)),
            ('query_schema', lambda d: compile_query_schema(
                    d.query_schema)),
            ]:
        try:
            compile_(definition)
        except SchemaError as exception:
            line = f" (line {exception.line})" if exception.line else ''
            errors.append((field, f"{exception.message}{line}"))
    errors.extend(check_http_fields(definition))
    return errors
