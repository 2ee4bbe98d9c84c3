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
HTTP errors are raised as problem+json. See ``doc/rest.rst``.
"""
import inspect
import mimetypes
import re
from base64 import urlsafe_b64decode
from urllib.parse import quote, urlencode

from trytond.const import OPERATORS
from trytond.model import Model as _TrytonModel
from trytond.model import ModelStorage
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONDecoder
from trytond.tools import is_instance_method
from trytond.transaction import Transaction, without_check_access

from trytond_endpoint.jsonbody import loads_objects
from trytond_endpoint.problem import Problem
from trytond_endpoint.sandbox import Response
from trytond_endpoint.sandbox_guards import PROXY_TYPES

from . import rest_formats
from .snippet_pool import is_admin_model

_json_decoder = JSONDecoder()
# Offsets and limits are SQL integers; ten times a page end too.
MAX_INT = 2 ** 31 - 1
_ORDER_DIRECTION = re.compile(
    r'^(ASC|DESC)( NULLS (FIRST|LAST))?$', re.IGNORECASE)
_X2MANY = {'one2many', 'many2many'}
_PSEUDO_FIELDS = {'id', '__name__'}
# RPC methods that take domains, field paths or values: their routes check
# what an action could not (administration models, unknown fields).
_DATA_METHODS = frozenset({
        'read', 'search', 'search_read', 'search_count', 'create', 'write',
        'export_data', 'export_data_domain', 'import_data', 'autocomplete',
        })


class RestHelper:
    """Tryton's REST API for the current request (``rest`` in snippets).

    ``fields``, where accepted, is the list of fields an endpoint exposes:
    the default body, and the only names ``f``, ``d``, ``o`` and a body
    may use. Without it, the model's ``__json__`` fields are the default
    and every field the user may read can be asked for.
    """
    __slots__ = ('_request',)

    def __init__(self, request):
        self._request = request

    # Routes of the built-in API, one method each

    def search(self, model, fields=None, domain=None):
        """GET a collection: ``d``, ``o``, ``s``, ``p``, ``f``, ``Range``;
        ``domain`` is added to the client's one."""
        name, format_ = self._format(model)
        Model = _model(name)
        return self._collection(
            Model, list(domain or []), fields, format_,
            self._path(strip_format=True))

    def read(self, model, id, fields=None):
        "GET a record: its ``__json__`` fields, or ``f``"
        Model = _model(model)
        format_ = self._negotiate(None)
        names = self._fields(Model, fields)
        _check_id(Model, id)
        Pool().get('ir.model.access').check(Model.__name__, 'read')
        try:
            # One query: Tryton refuses a missing or hidden record itself.
            row, = Model.read([id], names)
        except AccessError:
            raise Problem(404, f"No {Model.__name__} {id}.")
        return self._answer(_remove_dots(row), format_, Model, fields,
            link_base=self._path())

    def create(self, model, fields=None):
        "POST a record: 201 with ``Location`` and its body"
        Model = _model(model)
        values = self._values(Model, fields)
        record, = Model.create([values])
        location = f'{self._path()}/{record.id}'
        return self._written(Model, record.id, fields, status=201,
            headers={'Location': location}, link_base=location)

    def update(self, model, id, fields=None):
        """PUT or PATCH a record: only the given fields change (PUT
        behaves as in the built-in API); answers the record."""
        Model = _model(model)
        record = _record(Model, id)
        values = self._values(Model, fields)
        if values:
            Model.write([record], values)
        return self._written(Model, record.id, fields,
            link_base=self._path())

    def delete(self, model, id):
        "DELETE a record: 204"
        Model = _model(model)
        Model.delete([_record(Model, id)])
        return Response(b'', status=204)

    def relation(self, model, id, field, fields=None):
        """GET a One2Many or Many2Many field of a record as a collection,
        with the parameters of ``search``."""
        field, format_ = self._format(field)
        Model = _model(model)
        descriptor = Model._fields.get(field)
        if descriptor is None or descriptor._type not in _X2MANY:
            raise Problem(404,
                f"{Model.__name__} has no sub-collection {field!r}.")
        Target = descriptor.get_target()
        if is_admin_model(Target.__name__):
            raise _refused(Target.__name__)
        FieldAccess = Pool().get('ir.model.field.access')
        FieldAccess.check(Model.__name__, [field], 'read')
        record = _record(Model, id)
        ids = Model.read([record.id], [field])[0][field] or []
        return self._collection(
            Target, [('id', 'in', list(ids))], fields, format_, None)

    def action(self, model, action, id=None):
        """POST an RPC method or button of the model, with the JSON body as
        keyword (object) or positional (array) arguments; on a record
        (``id``) it is called on that record, and a method that returns
        nothing answers the record."""
        Model = _model(model)
        rpc = Model.__rpc__.get(action)
        if rpc is None or rpc.fresh_session or action.startswith('_'):
            if action.startswith('_') or not hasattr(Model, action):
                raise Problem(404,
                    f"{Model.__name__} has no action {action!r}.")
            raise Problem(403,
                f"{action!r} is not an action of {Model.__name__}.")
        if action in _DATA_METHODS:
            raise Problem(403,
                f"{action!r} is not an action; use the REST routes.")
        args, kwargs = self._arguments()
        method = getattr(Model, action)
        if id is not None:
            record = _record(Model, id)
            target = record if is_instance_method(Model, action) else [record]
            args = [target, *args]
        elif args and rpc.instantiate is not None:
            args, kwargs, _, _ = rpc.convert(Model, *args, **kwargs,
                context={})
        try:
            inspect.signature(method).bind(*args, **kwargs)
        except TypeError as exception:
            raise Problem(400, f"Bad arguments for {action}: {exception}.")
        except ValueError:
            pass
        result = rpc.result(method(*args, **kwargs))
        if id is not None and result is None:
            return self._written(Model, id, None)
        if result is None:
            return Response(b'', status=204)
        return _json_response(_plain(result))

    def report(self, name, id):
        """GET a report of a record, as an attachment; the JSON body, if
        any, is the report's data."""
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        try:
            Report = pool.get(name, type='report')
        except KeyError:
            raise Problem(404, f"No report {name!r}.")
        with without_check_access():
            actions = ActionReport.search(
                [('report_name', '=', name)], limit=1)
            model = actions[0].model if actions else None
        if not actions:
            raise Problem(404, f"No report {name!r}.")
        if not model or is_admin_model(model):
            raise _refused(name)
        _record(_model(model), id)
        data = self._json_body()
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise Problem(400, "The report data must be a JSON object.")
        data = {**data, 'action_id': actions[0].id, 'model': model}
        ext, content, _, filename = Report.execute([id], data)
        if isinstance(content, str):
            content = content.encode('utf-8')
        filename = f'{filename}.{ext}'
        mimetype = mimetypes.guess_type(filename)[0]
        return Response(bytes(content),
            content_type=mimetype or 'application/octet-stream',
            headers={'Content-Disposition': _attachment(filename)})

    # Request parameters

    def _path(self, strip_format=False):
        path = self._request.script_root + self._request.path
        if strip_format and path.endswith(rest_formats.SUFFIXES):
            path = path.rsplit('.', 1)[0]
        return path.rstrip('/')

    def _format(self, name):
        "The name without its format suffix, and the format to answer"
        suffix = None
        stem, dot, ext = name.rpartition('.')
        if dot and ext in rest_formats.FORMATS and not _is_model(name):
            name, suffix = stem, ext
        return name, self._negotiate(suffix)

    def _negotiate(self, suffix):
        requested = self._request.args.get('format') or suffix
        if requested is not None:
            if requested not in rest_formats.FORMATS:
                raise _not_acceptable()
            return requested
        accept = self._request.accept_mimetypes
        if not accept:
            return 'json'
        best = accept.best_match(list(rest_formats.FORMATS.values()))
        if best is None:
            raise _not_acceptable()
        return {v: k for k, v in rest_formats.FORMATS.items()}[best]

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
            field = Model._fields.get(key)
            if (field is None or key == 'id'
                    or (allowed is not None and key not in allowed)):
                errors.append({'pointer': '/' + _pointer(key),
                        'detail': "Not a field that can be written here."})
            elif field._type in _X2MANY and is_admin_model(
                    field.get_target().__name__):
                raise _refused(field.get_target().__name__)
        if errors:
            raise Problem(400, "Unknown fields in the body.", errors=errors)
        return values

    def _fields(self, Model, fields):
        "The fields to read, as the built-in's ``_get_fields``"
        if 'f' in self._request.args:
            names = self._request.args.getlist('f')
            allowed = set(fields) | _PSEUDO_FIELDS if fields else None
            for path in names:
                if allowed is not None and path not in allowed:
                    raise _bad('f', f"Field {path!r} is not available.")
                _check_path(Model, path, 'f')
            for path in list(names):
                parents = path.split('.')[:-1]
                while parents:
                    names.append('.'.join(parents) + '.id')
                    names.append('.'.join(parents) + '.__name__')
                    parents.pop()
        elif fields is not None:
            names = list(fields)
        else:
            names = [p for p in _flatten_fields(Model.__json__(self._usages()))
                if _reaches_admin(Model, p) is None]
        names = list(dict.fromkeys(['id', '__name__', *names]))
        access = _Access()
        return [p for p in names if access.path(Model, p)]

    # Answers

    def _collection(self, Model, base_domain, fields, format_, link_base):
        domain = self._json_arg('d', [])
        _check_domain(Model, domain, _roots(fields))
        order = self._json_arg('o', None)
        _check_order(Model, order, _roots(fields))
        offset, limit, ranged = self._range()
        names = self._fields(Model, fields)
        domain = [base_domain, domain] if base_domain else domain
        try:
            rows = Model.search_read(domain, offset=offset, limit=limit,
                order=order, fields_names=names)
        except (ValueError, TypeError, KeyError, IndexError) as exception:
            raise Problem(400, f"Invalid domain or order: {exception}.")
        rows = _remove_dots(_in_order(rows, names))
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
        return Response(rest_formats.encode(rows, format_, Model.__name__),
            headers=headers, content_type=rest_formats.content_type(format_))

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
        try:
            data = _remove_dots(Model.read([id], self._fields(Model, fields))[0])
        except AccessError:
            return Response(b'', status=204 if status == 200 else status,
                headers=headers)
        return self._answer(data, 'json', Model, fields, status=status,
            headers=headers, link_base=link_base)

    def _answer(self, data, format_, Model, fields, status=200, headers=None,
            link_base=None):
        headers = dict(headers or {})
        if link_base:
            links = [f'<{link_base}/{f}>; rel="related"; title="{f}"'
                for f in _relations(Model, fields)]
            if links:
                headers['Link'] = ', '.join(links)
        return Response(rest_formats.encode(data, format_, Model.__name__),
            status=status, headers=headers,
            content_type=rest_formats.content_type(format_))


# Models, records and fields

def _is_model(name):
    try:
        Pool().get(name)
    except KeyError:
        return False
    return True


def _model(name):
    if not isinstance(name, str) or is_admin_model(name):
        raise _refused(name)
    try:
        Model = Pool().get(name)
    except KeyError:
        raise Problem(404, f"No model {name!r}.")
    if not issubclass(Model, ModelStorage):
        raise Problem(404, f"No model {name!r}.")
    return Model


def _check_id(Model, id):
    if not isinstance(id, int) or isinstance(id, bool):
        raise Problem(404, f"No {Model.__name__} {id!r}.")


def _record(Model, id):
    "The record if the user may read it (access and rules), else 404"
    _check_id(Model, id)
    records = Model.search([('id', '=', id)], limit=1)
    if not records:
        raise Problem(404, f"No {Model.__name__} {id}.")
    return records[0]


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


def _reaches_admin(Model, path):
    "The administration model a dotted path goes through, if any"
    model = Model
    for name in path.split('.')[:-1]:
        field = model._fields.get(name)
        if field is None or not hasattr(field, 'get_target'):
            return None
        model = field.get_target()
        if is_admin_model(model.__name__):
            return model.__name__
    return None


def _check_path(Model, path, parameter, allowed=None):
    "A dotted field path that exists and stays out of admin models"
    if not isinstance(path, str) or not path:
        raise _bad(parameter, "Field names must be text.")
    names = path.split('.')
    if allowed is not None and names[0] not in allowed:
        raise _bad(parameter, f"Field {names[0]!r} is not available.")
    model = Model
    for i, name in enumerate(names):
        last = i == len(names) - 1
        if last and name in _PSEUDO_FIELDS:
            return
        field = model._fields.get(name)
        if field is None:
            raise _bad(parameter,
                f"{model.__name__} has no field {name!r}.")
        if not last:
            if not hasattr(field, 'get_target'):
                raise _bad(parameter, f"{name!r} is not a relation.")
            model = field.get_target()
            if is_admin_model(model.__name__):
                raise _refused(model.__name__)


class _Access:
    """What the user may read, from one look-up per model.

    ``ir.model.access.check`` per field and step costs more than the read
    itself on a small record; the answers are the same.
    """

    def __init__(self):
        pool = Pool()
        self._checking = Transaction().check_access
        self._models = pool.get('ir.model.access')
        self._fields = pool.get('ir.model.field.access')
        self._model_access = {}
        self._field_access = {}

    def model(self, name):
        if not self._checking:
            return True
        if name not in self._model_access:
            access = self._models.get_access([name])[name]['read']
            # None means no rule at all: allowed, as ``check`` has it.
            self._model_access[name] = access or access is None
        return self._model_access[name]

    def field(self, model, name):
        if not self._checking:
            return True
        if model not in self._field_access:
            self._field_access[model] = self._fields.get_access(
                [model])[model]
        return self._field_access[model].get(name, {}).get('read', True)

    def path(self, Model, path):
        "As the built-in: the model and field of each step are readable"
        model = Model
        names = path.split('.')
        while names:
            name = names.pop(0)
            if (not self.model(model.__name__)
                    or not self.field(model.__name__, name)):
                return False
            if names:
                model = getattr(model, name).get_target()
        return True


def _relations(Model, fields):
    "The sub-collections the user may follow"
    access = _Access()
    allowed = _roots(fields)
    names = []
    for name, field in Model._fields.items():
        if (field._type in _X2MANY
                and (allowed is None or name in allowed)
                and not is_admin_model(field.get_target().__name__)
                and access.path(Model, name)
                and access.model(field.get_target().__name__)):
            names.append(name)
    return sorted(names)


def _check_domain(Model, domain, allowed):
    if not isinstance(domain, list):
        raise _bad('d', "The domain must be a list.")
    items = domain
    if items and items[0] in ('AND', 'OR'):
        items = items[1:]
    if _is_leaf(domain):
        items = [domain]
    for item in items:
        if _is_leaf(item):
            _check_path(Model, item[0], 'd', allowed)
            field = Model._fields.get(item[0].split('.')[0])
            target = None
            if field is None:
                continue
            if field._type == 'reference' and len(item) > 3:
                target = item[3]
            elif hasattr(field, 'get_target'):
                target = field.get_target().__name__
            if target is not None and is_admin_model(target):
                raise _refused(target)
            if item[1] in {'where', 'not where'} and target:
                _check_domain(Pool().get(target), item[2], None)
        elif isinstance(item, list):
            _check_domain(Model, item, allowed)
        else:
            raise _bad('d', f"Invalid domain clause {item!r}.")


def _is_leaf(item):
    return (isinstance(item, (list, tuple)) and len(item) > 2
        and isinstance(item[0], str) and isinstance(item[1], str)
        and item[1] in OPERATORS)


def _check_order(Model, order, allowed):
    if order is None:
        return
    if not isinstance(order, list):
        raise _bad('o', "The order must be a list of [field, direction].")
    for item in order:
        if (not isinstance(item, list) or len(item) != 2
                or not isinstance(item[1], str)
                or not _ORDER_DIRECTION.match(item[1])):
            raise _bad('o', "The order must be a list of [field, direction].")
        _check_path(Model, item[0], 'o', allowed)


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
        if is_admin_model(value.__name__):
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


def _refused(name):
    return Problem(403, f"{name!r} is not available through the REST API.")


def _not_acceptable():
    return Problem(406, "Available formats: "
        + ', '.join(rest_formats.FORMATS.values()) + '.')


def _in_order(rows, names):
    "The rows' keys in the order the fields were asked, for stable columns"
    position = {}
    for index, name in enumerate(names):
        position.setdefault(name.split('.', 1)[0], index)

    def key(item):
        return position.get(item[0].rstrip('.'), len(names))
    return [dict(sorted(row.items(), key=key)) for row in rows]


PROXY_TYPES.add(RestHelper)
