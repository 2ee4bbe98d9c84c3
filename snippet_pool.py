# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The ``pool`` a snippet sees: models under the exec user's rights.

Snippets get proxies, never Tryton classes, records, exceptions or the
transaction: a record's class methods, ``pool`` or transaction, or a
database error's connection, would be a way around access rights.

What a call may reach (models, field paths, domains, orders, relations,
Function fields, values, buttons) is decided by :mod:`policy`, asked
before the ORM runs; this module only turns its answers into proxies:

* Every call runs as the user the run started with, with access checks on
  (model and field access, record rules, button rules).
* Records are :class:`RecordView`: a model name and an id; each field value
  is read with ``Model.read`` under access checks (never through a Tryton
  instance, whose attribute reads skip them). Relations to allowed models
  give views, relations to administration models give ids.
* Only a vetted set of methods is offered (search, search_read,
  search_count, read, browse, create, write, delete, copy, fields_get,
  default_get) plus the model's buttons, whose rules Tryton checks.
* A writing call runs in a savepoint (:func:`policy.writing`).
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
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.pool import Pool
from trytond.transaction import Transaction, check_access

from trytond_endpoint.sandbox import BudgetExceeded
from trytond_endpoint.sandbox_guards import PROXY_TYPES

from . import fast_read, policy, policy_memo
from .policy import MAX_RECORDS, is_admin_model

# Records whose field is read at once when a view's field is first read.
_PREFETCH = 1000
_MULTI = frozenset({'one2many', 'many2many'})

ModelRefused = policy.Refused


class DatabaseFailure(Exception):
    "What a snippet sees of a failure below the ORM"


class _State:
    "What the proxies of one run share"
    __slots__ = ('_access', 'failure', 'generation', 'user')

    def __init__(self, user):
        self.user = user
        self.failure = None
        # Increased by every change: cached field values are then stale.
        self.generation = 0
        self._access = None

    @property
    def access(self):
        if self._access is None:
            self._access = policy.Access()
        return self._access


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
    if isinstance(exception, BudgetExceeded):
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
    if isinstance(exception, policy.Invalid):
        return ValueError(str(exception)[:1000])
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


def _call(state, function, *args, writing=None, **kwargs):
    """Run an ORM call as the run's user with access checks; a writing
    one (``writing`` names it) through :func:`policy.writing`"""
    transaction = Transaction()
    if not state.user or transaction.user != state.user:
        raise ModelRefused("The models are not available to this user.")
    if state.failure is not None:
        raise DatabaseFailure(
            'The database operation failed; the request is abandoned.')
    try:
        if writing is not None:
            state.generation += 1
            with policy.writing(writing), check_access():
                return function(*args, **kwargs)
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
    "The class of an allowed model; any other 403"
    try:
        return policy.model(name)
    except policy.Unknown:
        raise ModelRefused(f"The model {name!r} is not available.") from None


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


def _fields_names(state, Model_, fields_names):
    "Checked field names to read: each readable, none refused"
    if fields_names is None:
        return None
    if type(fields_names) not in {list, tuple}:
        return policy.fields_names(Model_, fields_names, state.access)
    key = ('read', Model_.__name__, tuple(fields_names))
    return list(policy_memo.get(key, lambda: tuple(
                policy.fields_names(Model_, fields_names, state.access))))


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
        _call(state, self._load, id_, name)
        if name not in record:
            raise ValueError(f"{self.model},{id_} can not be read.")
        return record[name]

    def _load(self, id_, name):
        state = self.state
        Model_ = _model(self.model)
        policy.check_readable(Model_, name, state.access)
        field = Model_._fields[name]
        ids = [i for i in self.ids if name not in self.values.get(i, ())]
        if id_ in ids:
            index = ids.index(id_)
            ids = ids[index:index + _PREFETCH]
        else:
            ids = [id_]
        if policy.scope(Model_):
            ids = policy.in_scope(Model_, ids)
            if id_ not in ids:
                raise ModelRefused(
                    f"The {self.model} record {id_} is not available.")
        rows = Model_.read(ids, [name])
        target = policy.target(field)
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


def _reference_view(state, value):
    "A view of the record a Reference names, or its text when out of reach"
    followed = policy.reference_target(value)
    if followed is None:
        return plain(value)
    Target, id_ = followed
    return RecordView(_Batch(state, Target.__name__, [id_]), id_)


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


policy.RECORD_TYPES.append(RecordView)


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

    def __domain(self, domain):
        return policy.scoped_domain(self.__model, domain, self.__state.access)

    def __order(self, order):
        return policy.order(self.__model, order, self.__state.access)

    def search(self, domain, offset=0, limit=None, order=None):
        Model_ = self.__model
        records = _call(self.__state, lambda: Model_.search(
                self.__domain(domain), offset=_offset(offset),
                limit=_limit(limit), order=self.__order(order)))
        return self.__views([r.id for r in _check_count(records)])

    def search_count(self, domain):
        Model_ = self.__model
        return _call(self.__state,
            lambda: Model_.search_count(self.__domain(domain)))

    def search_read(self, domain, offset=0, limit=None, order=None,
            fields_names=None):
        Model_ = self.__model
        state = self.__state
        return plain(_check_count(_call(state, lambda: Model_.search_read(
                        self.__domain(domain), offset=_offset(offset),
                        limit=_limit(limit), order=self.__order(order),
                        fields_names=_fields_names(
                            state, Model_, fields_names)))))

    def read(self, ids, fields_names):
        Model_ = self.__model
        state = self.__state
        if fields_names is None:
            raise TypeError("read() needs the list of field names.")
        return plain(_call(state, lambda: fast_read.read(Model_,
                    policy.ids(Model_, ids),
                    _fields_names(state, Model_, fields_names))))

    def browse(self, ids):
        Model_ = self.__model

        def checked():
            checked_ids = policy.ids(Model_, ids)
            # Fails for a record the user may not read.
            Model_.read(checked_ids, ['id'])
            return checked_ids
        return self.__views(_call(self.__state, checked))

    def create(self, vlist):
        Model_ = self.__model
        if isinstance(vlist, Mapping) or not isinstance(vlist, (list, tuple)):
            raise TypeError("create() takes a list of dicts of values.")
        if len(vlist) > MAX_RECORDS:
            raise ValueError(f"At most {MAX_RECORDS} records at once.")
        records = _call(self.__state, lambda: Model_.create(
                [policy.values(Model_, v) for v in vlist]),
            writing=f"create of {Model_.__name__}")
        return self.__views([r.id for r in records])

    def write(self, records, values):
        Model_ = self.__model

        def write():
            checked = policy.ids(Model_, records)
            Model_.write(Model_.browse(checked),
                policy.values(Model_, values))
        _call(self.__state, write, writing=f"write of {Model_.__name__}")

    def delete(self, records):
        Model_ = self.__model
        _call(self.__state,
            lambda: Model_.delete(Model_.browse(policy.ids(Model_, records))),
            writing=f"delete of {Model_.__name__}")

    def copy(self, records, default=None):
        Model_ = self.__model

        def copy():
            checked = policy.ids(Model_, records)
            values = (policy.values(Model_, default)
                if default is not None else None)
            # copy reads the originals without checks: check them first.
            Model_.read(checked, ['id'])
            return Model_.copy(Model_.browse(checked), default=values)
        copies = _call(self.__state, copy,
            writing=f"copy of {Model_.__name__}")
        return self.__views([r.id for r in copies])

    def fields_get(self, fields_names=None):
        Model_ = self.__model

        def definitions():
            names = None
            if fields_names is not None:
                names = [policy.field(Model_, n).name
                    for n in _plain_names(fields_names)]
            Pool().get('ir.model.access').check(Model_.__name__, 'read')
            return Model_.fields_get(names, level=0)
        return plain(_call(self.__state, definitions))

    def default_get(self, fields_names):
        Model_ = self.__model
        return plain(_call(self.__state, lambda: Model_.default_get(
                    [policy.field(Model_, n).name
                        for n in _plain_names(fields_names)],
                    with_rec_name=False)))

    def __getattr__(self, name):
        "The model's buttons, pressed under its button rules"
        Model_ = self.__model
        method = policy.button(Model_, name)
        if method is None:
            raise AttributeError(
                f"{Model_.__name__} has no method or button {name!r}.")
        state = self.__state

        def press(records):
            # What a button returns (an action to open) is for clients.
            _call(state,
                lambda: method(Model_.browse(policy.ids(Model_, records))),
                writing=f"button {name} of {Model_.__name__}")
        return press


def _plain_names(names):
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError("fields_names is a list of field names.")
    for name in names:
        if not isinstance(name, str):
            raise TypeError("fields_names is a list of field names.")
    return names


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
