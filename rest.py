# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The ``rest`` helper of snippets: Tryton's REST API, one call per route.

A seed endpoint is one line::

    result['response'] = rest.search(request.path_params['model'])

and an admin's own endpoint narrows the same call::

    result['response'] = rest.search('party.party', fields=['name', 'code'])

Every method reads the parameters of the built-in REST API from the HTTP
request (``d``, ``o``, ``s``, ``p``, ``f``, ``format``, ``Range``,
``X-Tryton-Usage``, the JSON body), runs under the snippet's user with
access checks on, and returns a ``Response`` for ``result['response']``;
HTTP errors are raised as problem+json. What a request may reach (models,
fields, domains, orders, relations, values, methods, reports) is decided by
:mod:`policy`, for the client's parameters and the endpoint's own
``fields`` and ``domain`` alike; writing calls run in its savepoints. See
``doc/rest.rst`` and ``doc/policy.rst``.
"""
import functools
import inspect
import mimetypes
from base64 import urlsafe_b64decode
from contextlib import contextmanager
from urllib.parse import quote, urlencode

from sql import Literal
from trytond import backend
from trytond.model import Model as _TrytonModel
from trytond.model import ModelSQL, ModelStorage, dualmethod
from trytond.model import fields as tryton_fields
from trytond.model.exceptions import AccessError
from trytond.model.modelstorage import local_cache
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONDecoder
from trytond.tools import is_instance_method
from trytond.transaction import Transaction, without_check_access

from trytond_endpoint.http.conditional import (
    entity_tag,
    if_match,
    none_match,
    record_tag,
    record_version,
)
from trytond_endpoint.jsonbody import loads_objects
from trytond_endpoint.problem import Problem
from trytond_endpoint.sandbox import Response
from trytond_endpoint.sandbox_guards import PROXY_TYPES

from . import fast_read, policy, policy_memo, rest_formats

_json_decoder = JSONDecoder()
# Offsets and limits are SQL integers; ten times a page end too.
MAX_INT = 2 ** 31 - 1


@contextmanager
def _asking(parameter=None):
    "The policy's refusals as HTTP problems"
    try:
        yield
    except policy.Unknown as exception:
        raise Problem(404, str(exception)) from None
    except policy.Invalid as exception:
        if parameter is None:
            raise Problem(400, str(exception)) from None
        raise _bad(parameter, str(exception)) from None
    except policy.Refused as exception:
        raise Problem(403, str(exception.message)) from None


class RestHelper:
    """Tryton's REST API for the current request (``rest`` in snippets).

    ``fields``, where accepted, is the list of fields an endpoint exposes:
    the default body, and the only names ``f``, ``d``, ``o`` and a body
    may use. Without it, the model's ``__json__`` fields are the default
    and every field the user may read can be asked for.
    """
    __slots__ = ('_access', '_request')

    def __init__(self, request):
        self._request = request
        self._access = None

    def _policy_access(self):
        if self._access is None:
            self._access = policy.Access()
        return self._access

    # Routes of the built-in API, one method each

    def search(self, model, fields=None, domain=None):
        """GET a collection: ``d``, ``o``, ``s``, ``p``, ``f``, ``Range``;
        ``domain`` is added to the client's one."""
        name, format_ = self._format(model, rest_formats.COLLECTION_FORMATS)
        Model = _model(name)
        with _asking():
            base = policy.domain(
                Model, list(domain or []), self._policy_access())
        return self._collection(
            Model, base, fields, format_, self._path(strip_format=True))

    def read(self, model, id, fields=None):
        "GET a record: its ``__json__`` fields, or ``f``"
        Model = _model(model)
        format_ = self._negotiate(None)
        names = self._fields(Model, fields)
        _check_id(Model, id)
        with _asking():
            policy.check_scope(Model, [id])
        Pool().get('ir.model.access').check(Model.__name__, 'read')
        stamped = _stamped(Model, names)
        representation = self._representation(Model, names, format_)
        if stamped and 'HTTP_IF_NONE_MATCH' in self._request.environ:
            # The timestamp alone tells whether the client's copy is
            # current: no field is read for a 304.
            tag = record_tag(
                _version(Model, id, _timestamp_row(Model, id)),
                *representation)
            if none_match(self._request.environ, tag):
                return Response(b'', status=304, headers={'ETag': tag})
        # One query: Tryton refuses a missing or hidden record itself.
        extra = _rec_name_columns(Model, names, self._policy_access())
        row = _read(Model, id, [*_with_timestamp(Model, names), *extra])
        _drop(row, extra)
        version = _version(Model, id, row)
        return self._answer(_remove_dots(row), format_, Model, fields,
            link_base=self._path(), version=version,
            representation=representation if stamped else None)

    def create(self, model, fields=None):
        "POST a record: 201 with ``Location`` and its body"
        Model = _model(model)
        with _writing(f"create of {Model.__name__}"):
            record, = Model.create([self._values(Model, fields)])
        location = f'{self._path()}/{record.id}'
        return self._written(Model, record.id, fields, status=201,
            headers={'Location': location}, link_base=location)

    def update(self, model, id, fields=None):
        """PUT or PATCH a record: only the given fields change (PUT
        behaves as in the built-in API); answers the record."""
        Model = _model(model)
        record = _record(Model, id)
        self._check_match(Model, record.id)
        with _writing(f"write of {Model.__name__}"):
            values = self._values(Model, fields)
            if values:
                Model.write([record], values)
        return self._written(Model, record.id, fields,
            link_base=self._path())

    def delete(self, model, id):
        "DELETE a record: 204"
        Model = _model(model)
        record = _record(Model, id)
        self._check_match(Model, record.id)
        with _writing(f"delete of {Model.__name__}"):
            Model.delete([record])
        return Response(b'', status=204)

    def relation(self, model, id, field, fields=None):
        """GET a One2Many or Many2Many field of a record as a collection,
        with the parameters of ``search``."""
        field, format_ = self._format(field, rest_formats.COLLECTION_FORMATS)
        Model = _model(model)
        with _asking():
            Target = policy.relation(Model, field, self._policy_access())
        record = _record(Model, id)
        ids = Model.read([record.id], [field])[0][field] or []
        return self._collection(
            Target, [('id', 'in', list(ids))], fields, format_, None)

    def action(self, model, action, id=None):
        """POST an RPC method or button of the model, with the JSON body as
        keyword (object) or positional (array) arguments; on a record
        (``id``) it is called on that record, and a method that returns
        nothing answers the record. The data methods (``read``,
        ``search_read``, ``search_count``…) run with their arguments checked
        like the routes' parameters."""
        Model = _model(model)
        with _asking():
            rpc = policy.rpc(Model, action)
        args, kwargs = self._arguments()
        if action in policy.DATA_METHODS:
            if id is not None:
                raise Problem(404,
                    f"{action!r} is a method of the model, not a record.")
            result = self._data_method(Model, action, args, kwargs)
            if result is None:
                return Response(b'', status=204)
            return _json_response(_plain(result))
        method = getattr(Model, action)
        if id is not None:
            record = _record(Model, id)
            target = record if is_instance_method(Model, action) else [record]
            args = [target, *args]
        elif args and rpc.instantiate is not None:
            args, kwargs, _, _ = rpc.convert(Model, *args, **kwargs,
                context={})
        try:
            _signature(Model, action, method).bind(*args, **kwargs)
        except TypeError as exception:
            raise Problem(400, f"Bad arguments for {action}: {exception}.")
        except ValueError:
            pass
        if rpc.readonly:
            result = method(*args, **kwargs)
        else:
            with _writing(f"{action} of {Model.__name__}"):
                result = method(*args, **kwargs)
        result = rpc.result(result)
        if id is not None and result is None:
            return self._written(Model, id, None)
        if result is None:
            return Response(b'', status=204)
        return _json_response(_plain(result))

    def _data_method(self, Model, action, args, kwargs):
        "An RPC data method, its arguments checked by the policy"
        method = getattr(Model, action)
        try:
            bound = inspect.signature(method).bind(*args, **kwargs)
        except TypeError as exception:
            raise Problem(400, f"Bad arguments for {action}: {exception}.")
        with _asking():
            arguments = _data_arguments(
                Model, action, bound.arguments, self._policy_access())
        rpc = Model.__rpc__[action]
        if action == 'write':
            with _writing(f"write of {Model.__name__}"):
                method(*arguments['args'])
            return None
        if rpc.readonly:
            return rpc.result(method(**arguments))
        with _writing(f"{action} of {Model.__name__}"):
            return rpc.result(method(**arguments))

    def report(self, name, id):
        """GET a report of a record, as an attachment; the JSON body, if
        any, is the report's data."""
        with _asking():
            Report, action, Model = policy.report(name)
        _record(Model, id)
        data = self._json_body()
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise Problem(400, "The report data must be a JSON object.")
        data = {**data, 'action_id': action.id, 'model': Model.__name__}
        ext, content, _, filename = Report.execute([id], data)
        if isinstance(content, str):
            content = content.encode('utf-8')
        filename = f'{filename}.{ext}'
        mimetype = mimetypes.guess_type(filename)[0]
        return Response(bytes(content),
            content_type=mimetype or 'application/octet-stream',
            headers={'Content-Disposition': _attachment(filename)})

    # Conditional requests

    def _representation(self, Model, names, format_):
        "What an answer is built with, besides the records' versions"
        transaction = Transaction()
        environ = self._request.environ
        return (Model.__name__, *names, format_, transaction.language,
            sorted(self._usages()), transaction.user,
            environ.get('HTTP_X_TRYTON_CONTEXT', ''))

    def _check_match(self, Model, id):
        "412 when If-Match names no tag of the record as it is now"
        environ = self._request.environ
        if 'HTTP_IF_MATCH' not in environ:
            return
        version = (_version(Model, id, _timestamp_row(Model, id))
            if _has_timestamp(Model) else None)
        if not if_match(environ, version):
            raise Problem(412, f"{Model.__name__} {id} changed since that "
                "ETag was given: read it again.")

    # Request parameters

    def _path(self, strip_format=False):
        path = self._request.script_root + self._request.path
        if strip_format and path.endswith(rest_formats.SUFFIXES):
            path = path.rsplit('.', 1)[0]
        return path.rstrip('/')

    def _format(self, name, formats=rest_formats.FORMATS):
        "The name without its format suffix, and the format to answer"
        suffix = None
        stem, dot, ext = name.rpartition('.')
        if dot and ext in formats and not _is_model(name):
            name, suffix = stem, ext
        return name, self._negotiate(suffix, formats)

    def _negotiate(self, suffix, formats=rest_formats.FORMATS):
        requested = self._request.args.get('format') or suffix
        if requested is not None:
            if requested not in formats:
                raise _not_acceptable(formats)
            return requested
        accept = self._request.accept_mimetypes
        if not accept:
            return 'json'
        best = accept.best_match(list(formats.values()))
        if best is None:
            raise _not_acceptable(formats)
        return {v: k for k, v in formats.items()}[best]

    def _usages(self):
        header = self._request.headers.get('X-Tryton-Usage', '')
        return {u.strip() for u in header.split(',') if u.strip()}

    def _json_arg(self, name, default):
        if name not in self._request.args:
            return default
        value = self._request.args[name]
        try:
            text = urlsafe_b64decode(value + '=' * (-len(value) % 4))
            text = text.decode('utf-8')
        except ValueError:
            raise _bad(name, f"{name} is not URL-safe base64 JSON.")
        try:
            return loads_objects(text, _json_decoder, name)
        except Problem as problem:
            raise _bad(name, f"{problem.detail}.")

    def _int_arg(self, name, default):
        value = self._request.args.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = -1
        if not 0 <= number <= MAX_INT:
            raise _bad(name,
                f"{name} must be an integer from 0 to {MAX_INT}.")
        return number

    def _range(self):
        """offset, limit and whether a ``Range`` asked for them (multiple
        and suffix ranges are ignored, as by the built-in API)"""
        header = self._request.headers.get('Range')
        if header:
            unit, equal, spec = header.partition('=')
            if not equal:
                raise Problem(400, "Range must be records=start-end.")
            if unit.strip().lower() == 'records' and ',' not in spec:
                start, dash, end = (s.strip() for s in spec.partition('-'))
                if not dash or not (start.isdigit() and
                        (end.isdigit() or not end)):
                    if dash and not start and end.isdigit():
                        return 0, self._int_arg('s', None), False
                    raise Problem(400, "Range must be records=start-end.")
                if len(start) > 10 or len(end) > 10 or max(
                        int(start), int(end or 0)) > MAX_INT:
                    raise Problem(400, "The Range is beyond "
                        f"{MAX_INT} records.")
                offset = int(start)
                if not end:
                    return offset, None, True
                if int(end) < offset:
                    raise Problem(400, "The Range ends before it starts.")
                return offset, int(end) - offset, True
        return self._int_arg('p', 0), self._int_arg('s', None), False

    def _json_body(self):
        data = self._request.get_data(cache=True)
        if not data:
            return None
        try:
            text = data.decode('utf-8')
        except ValueError:
            raise Problem(400, "The body is not valid JSON.")
        return loads_objects(text, _json_decoder, "The body")

    def _arguments(self):
        data = self._json_body()
        if data is None:
            return [], {}
        if isinstance(data, dict):
            if 'context' in data:
                raise Problem(400, "Send the context as X-Tryton-Context.")
            return [], data
        if isinstance(data, list):
            return data, {}
        raise Problem(400, "The arguments must be a JSON object or array.")

    def _values(self, Model, fields):
        values = self._json_body()
        if not isinstance(values, dict):
            raise Problem(400, "The body must be a JSON object of fields.")
        allowed = _roots(fields)
        errors = []
        for key in values:
            if key == 'id' or (allowed is not None and key not in allowed) \
                    or not _is_field(Model, key):
                errors.append({'pointer': '/' + _pointer(key),
                        'detail': "Not a field that can be written here."})
        if errors:
            raise Problem(400, "Unknown fields in the body.", errors=errors)
        with _asking():
            return policy.values(Model, values, allowed)

    def _fields(self, Model, fields):
        "The fields to read, as the built-in's ``_get_fields``"
        asked = (tuple(self._request.args.getlist('f'))
            if 'f' in self._request.args else None)
        key = ('rest', Model.__name__,
            None if fields is None else tuple(fields), asked,
            None if asked or fields is not None
            else tuple(sorted(self._usages())))
        return list(policy_memo.get(key,
                lambda: tuple(self._check_fields(Model, fields, asked))))

    def _check_fields(self, Model, fields, asked):
        access = self._policy_access()
        if asked is not None:
            names = list(asked)
            allowed = set(fields) | policy.PSEUDO_FIELDS if fields else None
            for path in names:
                if allowed is not None and path not in allowed:
                    raise _bad('f', f"Field {path!r} is not available.")
            with _asking('f'):
                names = policy.fields_names(
                    Model, names, access, unreadable='skip')
            for path in list(names):
                parents = path.split('.')[:-1]
                while parents:
                    names.append('.'.join(parents) + '.id')
                    names.append('.'.join(parents) + '.__name__')
                    parents.pop()
        elif fields is not None:
            with _asking():
                names = policy.fields_names(
                    Model, list(fields), access, unreadable='skip')
        else:
            names = [p for p in _flatten_fields(Model.__json__(self._usages()))
                if _default_readable(Model, p, access)]
        names = list(dict.fromkeys(['id', '__name__', *names]))
        return [p for p in names if policy.path(Model, p, access)]

    # Answers

    def _collection(self, Model, base_domain, fields, format_, link_base):
        access = self._policy_access()
        allowed = _roots(fields)
        with _asking('d'):
            domain = policy.domain(
                Model, self._json_arg('d', []), access, allowed)
        with _asking('o'):
            order = policy.order(
                Model, self._json_arg('o', None), access, allowed)
        offset, limit, ranged = self._range()
        fetch = rest_formats.fetch_limit(format_, limit)
        names = self._fields(Model, fields)
        domain = [base_domain, domain] if base_domain else domain
        domain = [domain, *policy.scope(Model)] if policy.scope(
            Model) else domain
        stamped = _stamped(Model, names)
        extra = _rec_name_columns(Model, names, access)
        getter = _rec_name_getter(Model) if extra else None
        read = [n for n in names if n != 'rec_name'] if getter else names
        if getter:
            # Tryton's read checks the access to each field it reads.
            Pool().get('ir.model.field.access').check(
                Model.__name__, ['rec_name'], 'read')
        try:
            # The rows are read right after: as for Tryton's RPC search,
            # the search need not fill the cache with their columns.
            with Transaction().set_context(_search_prefetch=False):
                rows = fast_read.search_read(Model, domain, offset=offset,
                    limit=fetch,
                    order=order, fields_names=[*read, *extra, '_timestamp']
                    if stamped else [*read, *extra])
        except (ValueError, TypeError, KeyError, IndexError) as exception:
            raise Problem(400, f"Invalid domain or order: {exception}.")
        if getter:
            _get_rec_names(Model, getter, rows)
        versions = [(r['id'], r.get('_timestamp')) for r in rows] \
            if stamped else None
        rows = _answer_rows(rows, names, {*extra, '_timestamp'})
        headers = {'Accept-Ranges': 'records'}
        if ranged:
            if not rows and offset:
                total = self._count(Model, domain, None)
                raise Problem(416, "No records in that range.",
                    headers={'Content-Range': f'records */{total}'})
            if limit is None:
                limit = len(rows)
            if len(rows) >= limit:
                count = self._count(Model, domain, 10 * (limit + offset))
            else:
                count = offset + len(rows)
            headers['Content-Range'] = (
                f'records {offset}-{offset + len(rows)}/{count}')
        else:
            links = self._page_links(offset, limit, len(rows))
            if links:
                headers['Link'] = links
        if link_base:
            templates = [
                f'"{link_base}/{{id}}/{f}"; rel="related"; title="{f}"; '
                f'anchor="{link_base}/{{id}}"'
                for f in _relations(Model, fields)]
            if templates:
                headers['Link-Template'] = ', '.join(templates)
        if versions is not None:
            # The page's records and versions, and what frames them.
            headers['ETag'] = entity_tag(
                *self._representation(Model, names, format_),
                versions, sorted(headers.items()))
            if none_match(self._request.environ, headers['ETag']):
                # Nothing to encode: the client has this page.
                return Response(b'', status=304, headers={
                        k: v for k, v in headers.items()
                        if k in {'ETag', 'Link', 'Link-Template'}})
        body = rest_formats.encode(rows, format_, Model.__name__)
        if versions is None:
            headers['ETag'] = entity_tag(body, sorted(headers.items()))
        return Response(body, headers=headers,
            content_type=rest_formats.content_type(format_))

    def _count(self, Model, domain, count_limit):
        "The built-in's count: '*' from ten times the page end on"
        count = Model.search(
            domain, order=[], limit=count_limit, count=True)
        if count_limit is not None and count >= count_limit:
            return '*'
        return count

    def _page_links(self, offset, limit, size):
        if not limit:
            return None
        args = [(k, v) for k, v in self._request.args.items(multi=True)
            if k not in {'p', 's'}]
        path = self._path()
        links = []
        if size >= limit:
            query = urlencode(args + [('s', limit), ('p', offset + limit)])
            links.append(f'<{path}?{query}>; rel="next"')
        if offset:
            query = urlencode(
                args + [('s', limit), ('p', max(offset - limit, 0))])
            links.append(f'<{path}?{query}>; rel="prev"')
        return ', '.join(links)

    def _written(self, Model, id, fields, status=200, headers=None,
            link_base=None):
        "The record after a write, or no body when the user may not read it"
        names = self._fields(Model, fields)
        stamped = _stamped(Model, names)
        try:
            data, = Model.read([id], _with_timestamp(Model, names))
        except AccessError:
            return Response(b'', status=204 if status == 200 else status,
                headers=headers)
        version = _version(Model, id, data)
        return self._answer(_remove_dots(data), 'json', Model, fields,
            status=status, headers=headers, link_base=link_base,
            version=version, representation=self._representation(
                Model, names, 'json') if stamped else None)

    def _answer(self, data, format_, Model, fields, status=200, headers=None,
            link_base=None, version=None, representation=None):
        """A record's answer; with its version, tagged by the representation
        or, when that does not say it all, by the content"""
        headers = dict(headers or {})
        if link_base:
            links = [f'<{link_base}/{f}>; rel="related"; title="{f}"'
                for f in _relations(Model, fields)]
            if links:
                headers['Link'] = ', '.join(links)
        body = rest_formats.encode(data, format_, Model.__name__)
        if representation is not None:
            headers['ETag'] = record_tag(version, *representation)
        elif version is not None:
            headers['ETag'] = record_tag(version, body)
        else:
            headers['ETag'] = entity_tag(body)
        return Response(body, status=status, headers=headers,
            content_type=rest_formats.content_type(format_))


# Models, records and fields

def _is_model(name):
    try:
        Pool().get(name)
    except KeyError:
        return False
    return True


def _model(name):
    with _asking():
        return policy.model(name)


def _signature(Model, action, method):
    static = inspect.getattr_static(Model, action, None)
    if isinstance(static, dualmethod):
        # Its wrapper shows the function's signature, ``cls`` included.
        return inspect.signature(functools.partial(static.func, Model))
    return inspect.signature(method)


def _check_id(Model, id):
    if not isinstance(id, int) or isinstance(id, bool):
        raise Problem(404, f"No {Model.__name__} {id!r}.")


def _stamped(Model, names):
    """Whether the record's Tryton timestamp versions what names read of
    it: its own table's fields, no path through a relation.

    Function fields count as the record's own, as for the desktop client's
    ``_timestamp`` check.
    """
    return _has_timestamp(Model) and not any('.' in n for n in names)


def _has_timestamp(Model):
    return issubclass(Model, ModelSQL) and not Model._is_table_query()


def _with_timestamp(Model, names):
    return [*names, '_timestamp'] if _has_timestamp(Model) else names


def _rec_name_columns(Model, names, access):
    """The model's ``_rec_name`` column when ``rec_name`` is read without it.

    Read in the same query, it is in the records' cache when the getter of
    ``rec_name`` asks for it (Tryton's own and most modules' getters),
    which then reads no record again; it is left out of the answer.
    """
    if 'rec_name' not in names:
        return []
    column = getattr(Model, '_rec_name', None)
    field = Model._fields.get(column)
    if (column in names or field is None or not field.sql_type()
            or not _default_readable(Model, column, access)):
        return []
    return [column]


@functools.lru_cache(maxsize=256)
def _rec_name_getter(Model):
    """The name of the getter of ``rec_name`` when it can be called on
    records made one by one, as ``Function.get`` would call it, else None.

    ``Function.get`` browses the page's records as one list, and each
    record Tryton makes of a list checks every id of it: a page of n
    records costs n² steps. Records made alone skip that; what their
    getter reads besides the row's columns is loaded record by record.
    Only the plain case qualifies: Tryton's ``read``, one instance getter
    of one name, with the context, no datetime field, a text value.
    """
    field = Model._fields.get('rec_name')
    if (not isinstance(field, tryton_fields.Function)
            or not field.getter or not field.getter_with_context
            or getattr(field, 'datetime_field', None)
            or field._field._type != 'char'
            or not fast_read.keeps(Model, 'read', ModelSQL)
            or not fast_read.keeps(Model, 'search_read', ModelStorage)
            or not fast_read.keeps(Model, '_after_read', ModelStorage)):
        return None
    if (not is_instance_method(Model, field.getter)
            or field.getter_multiple(getattr(Model, field.getter))):
        return None
    return field.getter


_RELATIONS = {'many2one', 'reference', 'one2many', 'many2many', 'one2one'}


def _get_rec_names(Model, getter, rows):
    """``rec_name`` of the rows, as ``Function.get`` computes it: without
    access checks, the rows' values in the records' cache."""
    getter = getattr(Model, getter)
    transaction = Transaction()
    cache = local_cache(Model, transaction)
    columns = [n for n in rows[0] if n in Model._fields
        and Model._fields[n]._type not in _RELATIONS] if rows else []
    with without_check_access():
        context = transaction.context
        transaction_cache = transaction.get_cache()
        for row in rows:
            id_ = row['id']
            values = cache[id_]
            for name in columns:
                values[name] = row[name]
            record = Model(id_, _local_cache=cache,
                _transaction_cache=transaction_cache,
                _transaction=transaction, _context=context)
            value = getter(record, 'rec_name')
            if value is not None and not isinstance(value, str):
                value = str(value)
            row['rec_name'] = value


def _drop(row, extra):
    for name in extra:
        row.pop(name, None)


def _read(Model, id, names):
    "The row of a record the user may read, else 404"
    try:
        row, = fast_read.read(Model, [id], names)
    except AccessError:
        raise Problem(404, f"No {Model.__name__} {id}.")
    return row


def _timestamp_row(Model, id):
    """``{'_timestamp': …}`` of a record the user may read, else 404.

    Where no record rule of the user applies, no history is asked for and
    the model reads as Tryton's ``ModelSQL`` does, it is one plain query of
    the expression Tryton's ``read`` uses; otherwise Tryton's ``read``.
    """
    if not fast_read.reads_as_tryton(Model) \
            or not fast_read.no_read_rule(Model):
        return _read(Model, id, ['_timestamp'])
    cursor = Transaction().connection.cursor()
    query, params = _timestamp_query(Model, backend.name)
    # The id is the query's last parameter, that of its WHERE.
    cursor.execute(query, (*params[:-1], id))
    row = cursor.fetchone()
    if row is None:
        raise Problem(404, f"No {Model.__name__} {id}.")
    return {'_timestamp': row[0]}


@functools.lru_cache(maxsize=256)
def _timestamp_query(Model, backend_name):
    """The SQL and parameters of a record's ``_timestamp``, as
    ``ModelSQL.read`` writes it"""
    table = Model.__table__()
    return tuple(table.select(fast_read.timestamp(table),
            where=table.id == Literal(0)))


def _version(Model, id, row):
    "The version part of the record's tags, from a row read with it"
    timestamp = row.pop('_timestamp', None)
    if timestamp is None:
        return None
    return record_version(Model.__name__, id, timestamp)


def _data_arguments(Model, action, arguments, access):
    "The arguments of a data method, as the policy lets them through"
    arguments = dict(arguments)
    if 'domain' in arguments:
        arguments['domain'] = policy.scoped_domain(
            Model, arguments['domain'], access)
    if arguments.get('order') is not None:
        arguments['order'] = policy.order(Model, arguments['order'], access)
    if arguments.get('fields_names') is not None:
        arguments['fields_names'] = policy.fields_names(
            Model, arguments['fields_names'], access)
    for name in ['offset', 'limit']:
        value = arguments.get(name)
        if value is not None and (type(value) is not int or value < 0):
            raise policy.Invalid(f"{name} is a positive number.")
    if action == 'read':
        if arguments.get('fields_names') is None:
            raise policy.Invalid("read needs the list of field names.")
        arguments['ids'] = policy.ids(Model, arguments['ids'])
    elif action in {'delete', 'copy'}:
        checked = policy.ids(Model, arguments['records'])
        # copy reads the originals without checks: check them first.
        Model.read(checked, ['id'])
        arguments['records'] = Model.browse(checked)
        if arguments.get('default') is not None:
            arguments['default'] = policy.values(Model, arguments['default'])
    elif action == 'create':
        vlist = arguments['vlist']
        if not isinstance(vlist, list):
            raise policy.Invalid("create takes a list of values.")
        arguments['vlist'] = [policy.values(Model, v) for v in vlist]
    elif action == 'write':
        pairs = [arguments['records'], arguments['values'],
            *arguments.get('args', ())]
        if len(pairs) % 2:
            raise policy.Invalid("write takes records and values, in pairs.")
        arguments = {'args': [
                Model.browse(policy.ids(Model, a)) if i % 2 == 0
                else policy.values(Model, a)
                for i, a in enumerate(pairs)]}
    return arguments


def _record(Model, id):
    "The record if the user may read it (access and rules), else 404"
    _check_id(Model, id)
    with _asking():
        policy.check_scope(Model, [id])
    records = Model.search([('id', '=', id)], limit=1)
    if not records:
        raise Problem(404, f"No {Model.__name__} {id}.")
    return records[0]


@contextmanager
def _writing(what):
    with _asking(), policy.writing(what):
        yield


def _roots(fields):
    if fields is None:
        return None
    return {f.split('.')[0] for f in fields} | {'id'}


def _flatten_fields(fields):
    for field in fields:
        if isinstance(field, str):
            yield field
        else:
            parent, nested = field
            for name in _flatten_fields(['id', '__name__', *nested]):
                yield f'{parent}.{name}'


def _is_field(Model, name):
    try:
        return bool(policy.field(Model, name))
    except policy.Invalid:
        return False


def _default_readable(Model, path, access):
    "A default field the policy lets through (others are left out)"
    try:
        return policy.path(Model, path, access)
    except (policy.Refused, policy.Invalid):
        return False


def _relations(Model, fields):
    "The sub-collections the user may follow"
    allowed = _roots(fields)
    # It depends on the user's groups and the access rights only.
    followable = policy_memo.get(('followable', Model.__name__),
        lambda: tuple(policy.followable(Model)))
    return [name for name in followable
        if allowed is None or name in allowed]


def _remove_dots(result):
    "As the built-in: 'party.' keys of dotted reads become 'party'"
    if not isinstance(result, dict):
        return [_remove_dots(v) for v in result]
    for key in list(result.keys()):
        if key.endswith('.'):
            value = result.pop(key)
            result[key[:-1]] = _remove_dots(value) if value else value
    return result


def _plain(value):
    "An RPC result JSON can carry: records become their ids"
    if isinstance(value, _TrytonModel):
        if policy.is_admin_model(value.__name__):
            return value.id
        return {'__name__': value.__name__, 'id': value.id}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Answers and errors

def _json_response(data, status=200):
    return Response(rest_formats.encode(data, 'json'), status=status,
        content_type=rest_formats.content_type('json'))


def _attachment(filename):
    ascii_name = filename.encode('ascii', 'replace').decode('ascii')
    ascii_name = ascii_name.replace('\\', '_').replace('"', '_')
    return (f'attachment; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(filename)}")


def _pointer(key):
    return str(key).replace('~', '~0').replace('/', '~1')


def _bad(parameter, detail):
    return Problem(400, detail,
        errors=[{'parameter': parameter, 'detail': detail}])


def _not_acceptable(formats=rest_formats.FORMATS):
    return Problem(406, "Available formats: "
        + ', '.join(formats.values()) + '.')


def _answer_rows(rows, names, hidden):
    """The rows as answered: their keys in the order the fields were asked,
    for stable columns, dotted keys as the built-in's (``party.`` becomes
    ``party``), without the hidden ones"""
    position = {}
    for index, name in enumerate(names):
        position.setdefault(name.split('.', 1)[0], index)

    def key(name):
        return position.get(name.rstrip('.'), len(names))

    def plan(keys):
        return [(k, k[:-1], True) if k.endswith('.') else (k, k, False)
            for k in sorted(keys, key=key) if k not in hidden]
    answered = []
    keys = steps = None
    # A read gives every row the same keys: their order is found once.
    for row in rows:
        if row.keys() != keys:
            keys, steps = row.keys(), plan(row)
        answered.append({
                out: (_remove_dots(row[k]) if dotted and row[k] else row[k])
                for k, out, dotted in steps})
    return answered


PROXY_TYPES.add(RestHelper)
