# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The ``pool`` a snippet sees: models under the exec user's rights.

Snippets get proxies, never Tryton classes or records: a record's class
methods, ``pool`` or transaction would be a way around access rights.
"""
from trytond.model import Model
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.transaction import Transaction

# Models that administer the server itself: nobody reaches them from an
# endpoint, whatever their rights (users, keys, sessions, access, actions,
# configuration, modules, endpoints).
_ADMIN_PREFIXES = ('ir.', 'res.', 'endpoint.')
_ALLOWED = frozenset({
        'ir.attachment', 'ir.note', 'ir.lang', 'ir.calendar.month',
        'ir.calendar.day', 'ir.sequence'})


def is_admin_model(name):
    return name not in _ALLOWED and name.startswith(_ADMIN_PREFIXES)


class ModelRefused(AccessError):
    pass


def _records(Model_, items):
    ids = []
    for item in items:
        if isinstance(item, RecordView):
            if item._RecordView__model is not Model_.__name__:
                raise TypeError("Records of another model.")
            ids.append(item.id)
        elif isinstance(item, int) and not isinstance(item, bool):
            ids.append(item)
        else:
            raise TypeError("Expected records or ids.")
    return Model_.browse(ids)


def plain(value):
    "A value of a record turned into snippet-safe data"
    if isinstance(value, Model):
        if is_admin_model(value.__name__) or value.id is None:
            return value.id
        return RecordView(value)
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class RecordView:
    "Read-only view of one record, field values only"
    __slots__ = ('__record', '__model')

    def __init__(self, record):
        self.__record = record
        self.__model = record.__name__

    @property
    def id(self):
        return self.__record.id

    def __getattr__(self, name):
        record = self.__record
        if name != 'rec_name' and name not in record._fields:
            raise AttributeError(name)
        return plain(getattr(record, name))

    def __setattr__(self, name, value):
        if name.startswith('_RecordView__'):
            object.__setattr__(self, name, value)
        else:
            raise AttributeError("Records are read-only; use write().")

    def __eq__(self, other):
        return (isinstance(other, RecordView)
            and other.__model == self.__model and other.id == self.id)

    def __hash__(self):
        return hash((self.__model, self.id))

    def __repr__(self):
        return f'{self.__model},{self.id}'


class ModelProxy:
    "A model under the transaction's user and access checks"
    __slots__ = ('__model',)

    def __init__(self, Model_):
        object.__setattr__(self, '_ModelProxy__model', Model_)

    def __setattr__(self, name, value):
        raise AttributeError("Models are read-only.")

    @property
    def name(self):
        return self.__model.__name__

    @property
    def fields(self):
        return tuple(self.__model._fields)

    def search(self, domain, offset=0, limit=None, order=None):
        return [RecordView(r) for r in self.__model.search(
                domain, offset=offset, limit=limit, order=order)]

    def search_count(self, domain):
        return self.__model.search_count(domain)

    def search_read(self, domain, offset=0, limit=None, order=None,
            fields_names=None):
        return plain(self.__model.search_read(
                domain, offset=offset, limit=limit, order=order,
                fields_names=fields_names))

    def read(self, ids, fields_names):
        return plain(self.__model.read(
                [r.id for r in _records(self.__model, ids)], fields_names))

    def browse(self, ids):
        records = _records(self.__model, ids)
        # Browse does not check access by itself: read once to raise.
        self.__model.read([r.id for r in records], ['id'])
        return [RecordView(r) for r in records]

    def create(self, vlist):
        return [RecordView(r) for r in self.__model.create(
                [dict(v) for v in vlist])]

    def write(self, records, values):
        self.__model.write(
            list(_records(self.__model, records)), dict(values))

    def delete(self, records):
        self.__model.delete(list(_records(self.__model, records)))

    def __getattr__(self, name):
        Model_ = self.__model
        if name.startswith('_') or name not in Model_.__rpc__:
            raise AttributeError(name)
        rpc = Model_.__rpc__[name]

        def call(*args, **kwargs):
            if rpc.instantiate == 0 and args:
                args = (list(_records(Model_, args[0])),) + args[1:]
            return plain(getattr(Model_, name)(*args, **kwargs))
        return call


class PoolProxy:
    "``pool.get(name)``: the only door from a snippet to the models"
    __slots__ = ()

    def get(self, name):
        if not isinstance(name, str) or is_admin_model(name):
            raise ModelRefused(f"Model {name!r} is not available.")
        try:
            Model_ = Pool().get(name)
        except KeyError:
            raise ModelRefused(f"Model {name!r} is not available.")
        return ModelProxy(Model_)

    @property
    def user(self):
        return Transaction().user
