"""Request contracts: schemas compiled once per sync, bodies decoded and
checked per request.

``compile_request_schema``/``compile_query_schema`` do all the parsing;
``decode_body`` and ``QueryContract.coerce`` only walk the request's data.
Every client mistake is a :class:`~.problem.Problem` 400 listing all the
errors found, each with a ``pointer`` (JSON Pointer into the body, or the
element path of an XML document) or a ``parameter``.
"""
import io
import urllib.parse
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import FormDataParser

from . import jsonbody
from .content import (
    FORM,
    JSON,
    XML,
    body_family,
    charset_of,
    decode_text,
    parse_content_type,
)
from .jsonbody import JSON_DEPTH_LIMIT
from .jsonschemas import JsonSchemaContract, QueryContract, SchemaError
from .problem import Problem
from .xmlsafe import (
    XML_DEPTH_LIMIT,
    XML_ELEMENT_LIMIT,
    XsdContract,
    element_view,
    parse_xml,
)

__all__ = [
    'JSON_DEPTH_LIMIT', 'XML_DEPTH_LIMIT', 'XML_ELEMENT_LIMIT',
    'DecodedBody', 'QueryContract', 'RequestContract', 'SchemaError',
    'compile_query_schema', 'compile_request_schema', 'decode_body',
    ]

MAX_FORM_PARTS = 1000


class RequestContract:
    """A compiled request schema: ``kind`` is ``json`` (JSON Schema, for
    JSON and form bodies) or ``xml`` (XSD)."""

    __slots__ = ('engine', 'kind')

    def __init__(self, kind, engine):
        self.kind = kind
        self.engine = engine

    @property
    def schema(self):
        """The JSON Schema as a dict (for API documents), None for XSD."""
        return self.engine.schema if self.kind == 'json' else None

    def __repr__(self):
        return f'<RequestContract {self.kind}>'


def compile_request_schema(text, content_type):
    """The contract for bodies of ``content_type``; None without schema.

    Raises :class:`SchemaError` (with ``line``) when the schema is
    unusable.
    """
    if text is None or not text.strip():
        return None
    mimetype, _ = parse_content_type(content_type)
    family = body_family(mimetype) if mimetype else None
    if family in (JSON, FORM):
        return RequestContract('json', JsonSchemaContract(text))
    if family == XML:
        return RequestContract('xml', XsdContract(text))
    raise SchemaError(
        'request schemas apply to JSON, form and XML bodies, not to '
        f'{mimetype or "endpoints without a content type"}')


def compile_query_schema(text):
    """The contract for the query string; None without schema."""
    if text is None or not text.strip():
        return None
    return QueryContract(text)


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """A request body, decoded once for the snippet."""
    data: bytes = b''
    text: str | None = None
    json: object = None
    form: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    xml: object = None


def decode_body(data, content_type, params=None, *, form=None, files=None,
        contract=None, json_depth_limit=None, form_limit=None):
    """Decode ``data`` as ``content_type`` and check it against
    ``contract``; Problem 400 when malformed or invalid.

    The caller has already refused oversized bodies (413) and media types
    the endpoint does not take (415).
    """
    data = data or b''
    mimetype, header_params = parse_content_type(content_type)
    params = {**header_params, **(params or {})}
    family = body_family(mimetype)
    if contract is not None and contract.kind != (
            'xml' if family == XML else 'json' if family in (JSON, FORM)
            else None):
        raise Problem(415, detail=f'{mimetype} does not fit this endpoint')
    if family == JSON:
        return _decode_json(data, params, contract, json_depth_limit)
    if family == XML:
        return _decode_xml(data, params, contract)
    if family == FORM:
        return _decode_form(data, mimetype, params, form, files, contract,
            form_limit)
    if mimetype.startswith('text/'):
        return DecodedBody(data=data, text=decode_text(data, params))
    return DecodedBody(data=data)


def _empty(what):
    return Problem(400, detail=f'the request body is empty: {what} expected')


def _decode_json(data, params, contract, depth_limit):
    text = decode_text(data, params)
    if not text.strip():
        if contract is not None:
            raise _empty('a JSON document is')
        return DecodedBody(data=data, text=text)
    value = jsonbody.loads(text, depth_limit)
    if contract is not None:
        contract.engine.check_json(value)
    return DecodedBody(data=data, text=text, json=value)


def _decode_xml(data, params, contract):
    if not data.strip():
        if contract is not None:
            raise _empty('an XML document is')
        return DecodedBody(data=data, text='')
    root = parse_xml(data)
    if contract is not None:
        errors = contract.engine.errors(root)
        if errors:
            count = len(errors)
            raise Problem(400, detail=(
                    'the XML document does not match the schema: '
                    f'{count} error' + ('s' if count > 1 else '')),
                errors=errors)
    # RFC 7303: the charset parameter wins over the XML declaration.
    encoding = root.getroottree().docinfo.encoding or 'utf-8'
    text = decode_text(data, params, default=encoding)
    return DecodedBody(data=data, text=text, xml=element_view(root))


def _decode_form(data, mimetype, params, form, files, contract, limit):
    text = None
    if mimetype == 'application/x-www-form-urlencoded' and data:
        text = decode_text(data, params)
    if form is None:
        form, files = _parse_form(data, text, mimetype, params, limit)
    files = files if files is not None else MultiDict()
    file_values = {}
    for name, storages in files.lists():
        parts = [_file_part(storage) for storage in storages]
        file_values[name] = parts[0] if len(parts) == 1 else parts
    if contract is not None:
        names = [(name, storage.filename or '')
            for name, storage in files.items()]
        values = contract.engine.check_form(form, names)
    else:
        values = {name: items[0] if len(items) == 1 else items
            for name, items in form.lists()}
    return DecodedBody(data=data, text=text, form=values, files=file_values)


def _file_part(storage):
    stream = storage.stream
    if stream.seekable():
        stream.seek(0)
    return (storage.filename, storage.mimetype or None, stream.read())


def _parse_form(data, text, mimetype, params, limit=None):
    """Parse a form body the caller did not parse already."""
    if mimetype == 'application/x-www-form-urlencoded':
        try:
            pairs = urllib.parse.parse_qsl(
                text or '', keep_blank_values=True,
                encoding=charset_of(params), errors='strict',
                max_num_fields=MAX_FORM_PARTS)
        except UnicodeDecodeError:
            raise Problem(400, detail='form values are not validly encoded')
        except ValueError:
            raise Problem(400, detail=(
                    f'more than {MAX_FORM_PARTS} form fields'))
        return MultiDict(pairs), MultiDict()
    # The body is read already; the limit bounds what its parts expand to.
    parser = FormDataParser(silent=False, max_form_parts=MAX_FORM_PARTS,
        max_form_memory_size=limit or len(data) or None,
        max_content_length=limit)
    try:
        _, form, files = parser.parse(
            io.BytesIO(data), mimetype, len(data), params)
    except (ValueError, HTTPException) as exc:
        raise Problem(400, detail=f'malformed multipart body: {exc}')
    return form, files
