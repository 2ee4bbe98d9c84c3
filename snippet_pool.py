# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The ``pool`` a snippet sees: models under the exec user's rights.

Snippets get proxies, never Tryton classes, records, exceptions or the
transaction: a record's class methods, ``pool`` or transaction, or a
database error's connection, would be a way around access rights.

* ``pool.get(name)`` refuses administration models (users, keys,
  sessions, access rights and rules, actions, configuration, modules,
  endpoints) and models without storage.
* Every call runs as the user the run started with, with access checks on
  (model and field access, record rules, button rules).
* Records are :class:`RecordView`: a model name and an id; each field value
  is read with ``Model.read`` under access checks (never through a Tryton
  instance, whose attribute reads skip them). Relations to allowed models
  give views, relations to administration models give ids.
* Domains, orders and field names may not walk into an administration
  model: on a relation to one, only ids may be compared (``=``, ``!=``,
  ``in``, ``not in``); dotted paths, ``where`` and ``child_of`` through it
  are refused.
* Only a vetted set of methods is offered (search, search_read,
  search_count, read, browse, create, write, delete, copy, fields_get,
  default_get) plus the model's buttons, whose rules Tryton checks.
* Values written are plain data; relations to administration models may
  only be set by id, never created or changed through the relation.
* Exceptions from below are re-raised as fresh plain exceptions: a
  database error holds the connection. Failures the server must handle
  itself (database errors, restarts) are kept for
  :meth:`PoolProxy._raise_failure`, so a snippet that catches them does not
  get its broken transaction committed.
"""
import datetime as dt
import decimal
from collections.abc import Mapping

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.model import ModelStorage
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.pool import Pool
from trytond.transaction import Transaction, check_access, without_check_access

from trytond_endpoint.sandbox import BudgetExceeded
from trytond_endpoint.sandbox_guards import PROXY_TYPES

# Models that administer the server itself: nobody reaches them from an
# endpoint, whatever their rights (users, keys, sessions, access, actions,
# configuration, modules, endpoints).
_ADMIN_PREFIXES = ('ir.', 'res.', 'endpoint.', 'web.user')
_ALLOWED = frozenset({
        'ir.attachment', 'ir.note', 'ir.lang', 'ir.calendar.month',
        'ir.calendar.day', 'ir.sequence'})
# Records one call may name, search or create.
MAX_RECORDS = 100_000
# Records whose field is read at once when a view's field is first read.
_PREFETCH = 1000

_SCALARS = (
    str, int, float, bool, type(None), decimal.Decimal, dt.date, dt.datetime,
    dt.time, dt.timedelta, bytes)
_ID_OPERATORS = frozenset({'=', '!=', 'in', 'not in'})
_RELATIONS = frozenset({'many2one', 'one2one', 'one2many', 'many2many'})
_SINGLE = frozenset({'many2one', 'one2one'})
_MULTI = frozenset({'one2many', 'many2many'})


# Attachments and notes hang on any record: those of administration
# records stay out of reach, like the records themselves.
_RESOURCE_MODELS = frozenset({'ir.attachment', 'ir.note'})


def is_admin_model(name):
    return name not in _ALLOWED and name.startswith(_ADMIN_PREFIXES)


def _scope(Model_):
    "Extra domain limiting what a snippet may reach of Model_"
    if Model_.__name__ not in _RESOURCE_MODELS:
        return []
    return [('resource', 'not like', f'{prefix}%')
        for prefix in _ADMIN_PREFIXES]


def _scoped_domain(Model_, domain):
    checked = _domain(Model_, domain)
    scope = _scope(Model_)
    return [checked, *scope] if scope else checked


def _check_scope(state, Model_, ids):
    "Refuse ids that lie outside the model's scope"
    scope = _scope(Model_)
    if scope and ids:
        unique = list(set(ids))
        # Only counted here; reading them is then checked as usual.
        with without_check_access():
            inside = _call(state, Model_.search_count,
                [('id', 'in', unique), *scope])
        if inside != len(unique):
            raise _refused(Model_.__name__)
    return ids


class ModelRefused(AccessError):
    pass


class DatabaseFailure(Exception):
    "What a snippet sees of a failure below the ORM"


class _State:
    "What the proxies of one run share"
    __slots__ = ('failure', 'generation', 'user')

    def __init__(self, user):
        self.user = user
        self.failure = None
        # Increased by every change: cached field values are then stale.
        self.generation = 0


def _refused(name):
    return ModelRefused(f"Model {name!r} is not available.")


def _failure(exception):
    "What the server raises for a failure kept from a snippet"
    if isinstance(exception, getattr(backend, 'DatabaseTimeoutError', ())):
        return BudgetExceeded(
            'A database statement ran longer than the budget.')
    if (isinstance(exception, backend.DatabaseOperationalError)
            and str(exception).strip() == 'interrupted'):
        # SQLite, stopped by a progress handler.
        return BudgetExceeded(
            'A database statement ran longer than the budget.')
    return exception


def _sanitized(state, exception):
    "A fresh exception, holding only text, for the snippet"
    if isinstance(exception, (ModelRefused, BudgetExceeded)):
        return exception
    if isinstance(exception, (AccessError, AccessButtonError)):
        return ModelRefused(
            str(exception.message), str(exception.description or ''))
    if isinstance(exception, UserWarning):
        return UserWarning(str(exception.name), str(exception.message),
            str(exception.description or ''))
    if isinstance(exception, UserError):
        return UserError(
            str(exception.message), str(exception.description or ''))
    if type(exception) in {TypeError, ValueError, KeyError, IndexError}:
        return type(exception)(str(exception)[:1000])
    if isinstance(exception, RecursionError):
        return BudgetExceeded('The snippet recursed too deeply.')
    if isinstance(exception, MemoryError):
        return BudgetExceeded('The snippet ran out of memory.')
    # Database errors, transaction restarts, anything unexpected: the
    # server sees the original after the run.
    if state.failure is None:
        state.failure = _failure(exception)
    return DatabaseFailure(
        'The database operation failed; the request is abandoned.')


def _call(state, function, *args, **kwargs):
    "Run an ORM call as the run's user with access checks"
    transaction = Transaction()
    if not state.user or transaction.user != state.user:
        raise ModelRefused("The models are not available to this user.")
    if state.failure is not None:
        raise DatabaseFailure(
            'The database operation failed; the request is abandoned.')
    try:
        if transaction.context.get('_check_access'):
            # Already on for the whole run (the endpoint's serve)
            return function(*args, **kwargs)
        with check_access():
            return function(*args, **kwargs)
    except Exception as exception:
        error = _sanitized(state, exception)
    # Raised outside the except clause: no link to the original.
    raise error


def _model(name):
    "The class of an allowed model"
    if not isinstance(name, str) or is_admin_model(name):
        raise _refused(name)
    try:
        Model_ = Pool().get(name)
    except KeyError:
        raise _refused(name) from None
    if not issubclass(Model_, ModelStorage):
        raise _refused(name)
    return Model_


def _target(field):
    "The target model name of a relational field, else None"
    if field._type not in _RELATIONS:
        return None
    return field.get_target().__name__


# Plain data

_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None),
        decimal.Decimal, dt.date, dt.datetime, dt.time, dt.timedelta, bytes})


def plain(value):
    "Data read from the ORM, checked to be plain: never an object"
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind is list or kind is tuple:
        return [plain(v) for v in value]
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (frozenset, set)):
        return [plain(v) for v in value]
    raise TypeError(f"A value of type {kind.__name__} can not be returned.")


def _ids(Model_, items, state=None):
    "Ids of RecordViews of Model_ or ints"
    if isinstance(items, (RecordView, int)):
        items = [items]
    if not isinstance(items, (list, tuple)):
        raise TypeError("Expected a list of records or ids.")
    if len(items) > MAX_RECORDS:
        raise ValueError(f"At most {MAX_RECORDS} records at once.")
    ids = []
    for item in items:
        if isinstance(item, RecordView):
            if item._view_model() != Model_.__name__:
                raise TypeError("Records of another model.")
            ids.append(item.id)
        elif type(item) is int and 0 < item < 2 ** 63:
            ids.append(item)
        else:
            raise TypeError("Expected records or ids.")
    return ids


def _id_value(value, nested=True):
    "A value compared with a relation to an administration model: ids"
    if isinstance(value, RecordView):
        return value.id
    if value is None or (type(value) is int):
        return value
    if nested and isinstance(value, (list, tuple)):
        return [_id_value(v, nested=False) for v in value]
    raise ModelRefused(
        "Relations to administration models may only be compared by id.")


def _relation_id(field, value):
    "The value of a many2one or one2one: a view, an id or None"
    if isinstance(value, RecordView):
        if value._view_model() != _target(field):
            raise TypeError(f"{field.name} takes a {_target(field)} record.")
        return value.id
    if value is None or (type(value) is int and 0 < value < 2 ** 63):
        return value
    raise TypeError(f"{field.name} takes a record or an id.")


def _data(value):
    "A value passed to the ORM: plain data, views turned into ids"
    if isinstance(value, RecordView):
        return value.id
    if isinstance(value, _SCALARS):
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bytes):
            return bytes(value)
        return value
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if isinstance(value, Mapping):
        return {_key(k): _data(v) for k, v in value.items()}
    raise TypeError(
        f"A value of type {type(value).__name__} can not be passed.")


def _key(key):
    if not isinstance(key, str):
        raise TypeError("Keys must be text.")
    return str(key)


# Domains, orders and field names

def _domain(Model_, domain):
    "A checked copy of domain: no walk into an administration model"
    if not isinstance(domain, (list, tuple)):
        raise TypeError("A domain is a list.")
    if _is_leaf(domain):
        return _leaf(Model_, domain)
    result = []
    for i, item in enumerate(domain):
        if i == 0 and isinstance(item, str) and item in {'AND', 'OR'}:
            result.append(item)
        else:
            result.append(_domain(Model_, item))
    return result


def _is_leaf(domain):
    return (len(domain) >= 3 and isinstance(domain[0], str)
        and isinstance(domain[1], str))


def _leaf(Model_, leaf):
    name, operator = str(leaf[0]), str(leaf[1])
    if len(leaf) > 4:
        raise ValueError(f"Invalid domain clause {name!r}.")
    local, _, relate = name.partition('.')
    field = _field(Model_, local)
    value = leaf[2]
    extra = list(leaf[3:])
    if field._type == 'reference':
        if extra:
            target = _model(_key(extra[0]))
            if relate:
                _leaf(target, (relate, operator, value))
            elif operator in {'where', 'not where'}:
                _domain(target, value)
        elif relate or operator in {'where', 'not where'}:
            raise ValueError(
                f"Clause {name!r} needs the target model of the reference.")
        if isinstance(value, str) and is_admin_model(
                value.partition(',')[0]) and operator not in _ID_OPERATORS:
            raise _refused(value.partition(',')[0])
        return [name, operator, _data(value), *extra]
    target = _target(field)
    if target is None:
        return [name, operator, _data(value), *extra]
    if is_admin_model(target):
        if relate or operator not in _ID_OPERATORS or extra:
            raise ModelRefused(
                f"Clause {name!r} walks into the administration model "
                f"{target!r}: only its ids may be compared.")
        return [name, operator, _id_value(value)]
    Target = _model(target)
    if relate:
        _leaf(Target, (relate, operator, value, *extra))
    elif operator in {'where', 'not where'}:
        value = _domain(Target, value)
    elif operator.endswith(('child_of', 'parent_of')) and extra:
        _field(Target, _key(extra[0]))
    return [name, operator, _data(value), *extra]


def _field(Model_, name):
    field = Model_._fields.get(name) if isinstance(name, str) else None
    if field is None or name.startswith('_'):
        raise ValueError(f"{Model_.__name__} has no field {name!r}.")
    return field


def _order(Model_, order):
    if order is None:
        return None
    if not isinstance(order, (list, tuple)):
        raise TypeError("An order is a list of (field, direction).")
    result = []
    for item in order:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(i, str) for i in item)):
            raise TypeError("An order is a list of (field, direction).")
        _path(Model_, item[0], walk_last=True)
        result.append((str(item[0]), str(item[1])))
    return result


def _path(Model_, path, walk_last=False):
    "Check a dotted field path: no step into an administration model"
    names = path.split('.')
    for i, name in enumerate(names):
        last = i == len(names) - 1
        field = _field(Model_, name)
        if last and not walk_last:
            return
        if field._type == 'reference' and not last:
            raise ModelRefused(
                f"{path!r}: paths through references are not available.")
        target = _target(field)
        if target is None:
            if not last:
                raise ValueError(f"{path!r}: {name!r} is not a relation.")
            return
        if is_admin_model(target):
            raise ModelRefused(
                f"{path!r} walks into the administration model {target!r}.")
        Model_ = _model(target)


def _fields_names(Model_, fields_names):
    if fields_names is None:
        return None
    if type(fields_names) not in {list, tuple}:
        return _check_fields_names(Model_, fields_names)
    try:
        key = (Model_, tuple(fields_names))
        checked = _CHECKED_FIELDS.get(key)
    except TypeError:  # unhashable items: refused below
        return _check_fields_names(Model_, fields_names)
    if checked is not None:
        return list(checked)
    result = _check_fields_names(Model_, fields_names)
    if len(_CHECKED_FIELDS) >= 2048:
        _CHECKED_FIELDS.clear()
    _CHECKED_FIELDS[key] = tuple(result)
    return result


# (model class, names) already checked: a class and its fields never change.
_CHECKED_FIELDS = {}


def _check_fields_names(Model_, fields_names):
    if isinstance(fields_names, str) or not isinstance(
            fields_names, (list, tuple)):
        raise TypeError("fields_names is a list of field names.")
    result = []
    for name in fields_names:
        if not isinstance(name, str):
            raise TypeError("fields_names is a list of field names.")
        _path(Model_, name)
        result.append(str(name))
    return result


# Values written

def _values(Model_, values):
    "Checked values to create or write records of Model_"
    if not isinstance(values, Mapping):
        raise TypeError("Values are a dict of field name to value.")
    result = {}
    for name, value in values.items():
        if not isinstance(name, str) or name == 'id':
            raise ValueError(f"{name!r} can not be written.")
        field = _field(Model_, name)
        result[str(name)] = _value(field, value)
    return result


def _value(field, value):
    kind = field._type
    if kind in _SINGLE:
        return _relation_id(field, value)
    if kind == 'reference':
        return _reference(value)
    if kind in _MULTI:
        return _actions(field, value)
    if kind == 'dict':
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TypeError(f"{field.name} takes a dict.")
        return _data(value)
    if isinstance(value, (list, tuple)):
        if kind != 'multiselection':
            raise TypeError(f"{field.name} does not take a list.")
    elif isinstance(value, Mapping):
        raise TypeError(f"{field.name} does not take a dict.")
    return _data(value)


def _reference(value):
    if value is None:
        return None
    if isinstance(value, RecordView):
        model, id_ = value._view_model(), value.id
    elif isinstance(value, str):
        model, _, id_ = value.partition(',')
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        model, id_ = value
    else:
        raise TypeError("A reference is 'model,id', (model, id) or a record.")
    model = _key(model)
    _model(model)
    if isinstance(id_, RecordView):
        id_ = id_.id
    if isinstance(id_, str):
        try:
            id_ = int(id_) if id_ else -1
        except ValueError:
            raise TypeError("A reference id is a number.") from None
    if type(id_) is not int:
        raise TypeError("A reference id is a number.")
    return f'{model},{id_}'


def _actions(field, actions):
    target = _target(field)
    if is_admin_model(target):
        raise ModelRefused(
            f"{field.name} links to the administration model {target!r}: "
            "it is read-only.")
    Target = _model(target)
    if not isinstance(actions, (list, tuple)):
        raise TypeError(f"{field.name} takes a list of actions.")
    result = []
    for action in actions:
        if (not isinstance(action, (list, tuple)) or not action
                or not isinstance(action[0], str)):
            raise TypeError(
                f"{field.name} takes actions like ('add', [ids]).")
        verb, args = action[0], list(action[1:])
        if verb == 'create' and len(args) == 1:
            if not isinstance(args[0], (list, tuple)):
                raise TypeError("('create', [values…])")
            args = [[_values(Target, v) for v in args[0]]]
        elif verb == 'write' and len(args) >= 2 and len(args) % 2 == 0:
            args = [
                _ids(Target, a) if i % 2 == 0 else _values(Target, a)
                for i, a in enumerate(args)]
        elif verb in {'add', 'remove', 'delete'} and len(args) == 1:
            args = [_ids(Target, args[0])]
        elif verb == 'copy' and len(args) in {1, 2}:
            args = [_ids(Target, args[0])] + [
                _values(Target, a) for a in args[1:]]
        else:
            raise ValueError(f"Unknown action {verb!r} on {field.name}.")
        result.append((str(verb), *args))
    return result


def _limit(limit):
    if limit is None:
        return MAX_RECORDS + 1
    if type(limit) is not int or limit < 0:
        raise TypeError("limit is a positive number.")
    return min(limit, MAX_RECORDS + 1)


def _offset(offset):
    if type(offset) is not int or offset < 0:
        raise TypeError("offset is a positive number.")
    return offset


def _check_count(items):
    if len(items) > MAX_RECORDS:
        raise BudgetExceeded(
            f"The search found more than {MAX_RECORDS} records; "
            "give a limit.")
    return items


# Records

class _Batch:
    "Records read together: a field is read for all of them at once"
    __slots__ = ('generation', 'ids', 'model', 'state', 'values')

    def __init__(self, state, model, ids):
        self.state = state
        self.model = model
        self.ids = list(dict.fromkeys(ids))
        self.values = {}
        self.generation = state.generation

    def views(self, ids):
        return [RecordView(self, i) for i in ids]

    def get(self, id_, name):
        state = self.state
        if self.generation != state.generation:
            self.values.clear()
            self.generation = state.generation
        record = self.values.setdefault(id_, {})
        if name in record:
            return record[name]
        Model_ = _model(self.model)
        field = _field(Model_, name)
        ids = [i for i in self.ids if name not in self.values.get(i, ())]
        if id_ in ids:
            index = ids.index(id_)
            ids = ids[index:index + _PREFETCH]
        else:
            ids = [id_]
        rows = _call(state, Model_.read, ids, [name])
        target = _target(field)
        if target and not is_admin_model(target):
            related = [r[name] for r in rows if r[name] is not None]
            if field._type in _MULTI:
                related = [i for v in related for i in v]
            batch = _Batch(state, target, related)
        for row in rows:
            value = row[name]
            if field._type == 'reference':
                value = _reference_view(state, value)
            elif target is None or is_admin_model(target):
                value = plain(value)
                if isinstance(value, list):
                    value = tuple(value)
            elif field._type in _MULTI:
                value = tuple(batch.views(value or ()))
            elif value is not None:
                value = RecordView(batch, value)
            self.values.setdefault(row['id'], {})[name] = value
        if name not in record:
            raise ValueError(f"{self.model},{id_} can not be read.")
        return record[name]


def _reference_view(state, value):
    if not isinstance(value, str):
        return plain(value)
    model, _, id_ = value.partition(',')
    try:
        id_ = int(id_)
    except ValueError:
        return value
    if id_ <= 0 or is_admin_model(model):
        return value
    try:
        _model(model)
    except ModelRefused:
        return value
    return RecordView(_Batch(state, model, [id_]), id_)


class RecordView:
    "Read-only view of one record, field values only, read under access checks"
    __slots__ = ('__batch', '__id')

    def __init__(self, batch, id_):
        object.__setattr__(self, '_RecordView__batch', batch)
        object.__setattr__(self, '_RecordView__id', id_)

    @property
    def id(self):
        return self.__id

    def _view_model(self):
        return self.__batch.model

    def __getattr__(self, name):
        if not isinstance(name, str) or name.startswith('_'):
            raise AttributeError(name)
        return self.__batch.get(self.__id, name)

    def __setattr__(self, name, value):
        raise AttributeError("Records are read-only; use write().")

    __delattr__ = __setattr__

    def __eq__(self, other):
        return (isinstance(other, RecordView)
            and other._view_model() == self._view_model()
            and other.id == self.id)

    def __hash__(self):
        return hash((self._view_model(), self.id))

    def __repr__(self):
        return f'{self._view_model()},{self.id}'


class ModelProxy:
    "A model under the run's user and access checks"
    __slots__ = ('__model', '__state')

    def __init__(self, state, Model_):
        object.__setattr__(self, '_ModelProxy__state', state)
        object.__setattr__(self, '_ModelProxy__model', Model_)

    def __setattr__(self, name, value):
        raise AttributeError("Models are read-only.")

    __delattr__ = __setattr__

    def __repr__(self):
        return f'<Model {self.__model.__name__}>'

    @property
    def name(self):
        return self.__model.__name__

    @property
    def fields(self):
        return tuple(self.__model._fields)

    def __views(self, ids):
        return _Batch(self.__state, self.__model.__name__, ids).views(ids)

    def __changed(self):
        self.__state.generation += 1

    def search(self, domain, offset=0, limit=None, order=None):
        Model_ = self.__model
        records = _call(self.__state, Model_.search,
            _scoped_domain(Model_, domain), offset=_offset(offset),
            limit=_limit(limit), order=_order(Model_, order))
        return self.__views([r.id for r in _check_count(records)])

    def search_count(self, domain):
        Model_ = self.__model
        return _call(self.__state, Model_.search_count,
            _scoped_domain(Model_, domain))

    def search_read(self, domain, offset=0, limit=None, order=None,
            fields_names=None):
        Model_ = self.__model
        return plain(_check_count(_call(self.__state, Model_.search_read,
                    _scoped_domain(Model_, domain), offset=_offset(offset),
                    limit=_limit(limit), order=_order(Model_, order),
                    fields_names=_fields_names(Model_, fields_names))))

    def read(self, ids, fields_names):
        Model_ = self.__model
        if fields_names is None:
            raise TypeError("read() needs the list of field names.")
        ids = _check_scope(self.__state, Model_, _ids(Model_, ids))
        return plain(_call(self.__state, Model_.read, ids,
                _fields_names(Model_, fields_names)))

    def browse(self, ids):
        Model_ = self.__model
        ids = _check_scope(self.__state, Model_, _ids(Model_, ids))
        # Fails for a record the user may not read.
        _call(self.__state, Model_.read, ids, ['id'])
        return self.__views(ids)

    def create(self, vlist):
        Model_ = self.__model
        if isinstance(vlist, Mapping) or not isinstance(vlist, (list, tuple)):
            raise TypeError("create() takes a list of dicts of values.")
        if len(vlist) > MAX_RECORDS:
            raise ValueError(f"At most {MAX_RECORDS} records at once.")
        vlist = [_values(Model_, v) for v in vlist]
        self.__changed()
        records = _call(self.__state, Model_.create, vlist)
        return self.__views([r.id for r in records])

    def write(self, records, values):
        Model_ = self.__model
        ids = _check_scope(self.__state, Model_, _ids(Model_, records))
        values = _values(Model_, values)
        self.__changed()
        _call(self.__state, lambda: Model_.write(Model_.browse(ids), values))

    def delete(self, records):
        Model_ = self.__model
        ids = _check_scope(self.__state, Model_, _ids(Model_, records))
        self.__changed()
        _call(self.__state, lambda: Model_.delete(Model_.browse(ids)))

    def copy(self, records, default=None):
        Model_ = self.__model
        ids = _check_scope(self.__state, Model_, _ids(Model_, records))
        default = _values(Model_, default) if default is not None else None
        # copy reads the originals without checks: check them first.
        _call(self.__state, Model_.read, ids, ['id'])
        self.__changed()
        copies = _call(self.__state,
            lambda: Model_.copy(Model_.browse(ids), default=default))
        return self.__views([r.id for r in copies])

    def fields_get(self, fields_names=None):
        Model_ = self.__model
        if fields_names is not None:
            fields_names = [_field(Model_, n) and str(n)
                for n in _fields_names(Model_, fields_names)]

        def definitions():
            Pool().get('ir.model.access').check(Model_.__name__, 'read')
            return Model_.fields_get(fields_names, level=0)
        return plain(_call(self.__state, definitions))

    def default_get(self, fields_names):
        Model_ = self.__model
        fields_names = [_field(Model_, n) and str(n)
            for n in _fields_names(Model_, fields_names)]
        return plain(_call(self.__state, Model_.default_get,
                fields_names, with_rec_name=False))

    def __getattr__(self, name):
        "The model's buttons, pressed under its button rules"
        Model_ = self.__model
        if (not isinstance(name, str) or name.startswith('_')
                or name not in getattr(Model_, '_buttons', {})
                or name not in Model_.__rpc__
                or not callable(getattr(Model_, name, None))):
            raise AttributeError(
                f"{Model_.__name__} has no method or button {name!r}.")
        state = self.__state

        def press(records):
            ids = _check_scope(state, Model_, _ids(Model_, records))
            state.generation += 1
            # What a button returns (an action to open) is for clients.
            _call(state, lambda: getattr(Model_, name)(Model_.browse(ids)))
        return press


class PoolProxy:
    "``pool.get(name)``: the only door from a snippet to the models"
    __slots__ = ('__state',)

    def __init__(self):
        object.__setattr__(
            self, '_PoolProxy__state', _State(Transaction().user))

    def __setattr__(self, name, value):
        raise AttributeError("The pool is read-only.")

    __delattr__ = __setattr__

    def __repr__(self):
        return '<pool>'

    def get(self, name):
        return ModelProxy(self.__state, _model(name))

    @property
    def user(self):
        return self.__state.user

    def _raise_failure(self):
        "For the server: raise what failed below the ORM during the run"
        failure = self.__state.failure
        if failure is not None:
            raise failure


PROXY_TYPES.update({PoolProxy, ModelProxy, RecordView})
