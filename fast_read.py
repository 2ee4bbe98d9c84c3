# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Tryton's ``read`` of stored columns, with its SQL written once.

``ModelSQL.read`` builds its query with python-sql on every call, which
costs a small read more than the database does.  Where the read is only
stored columns of a plain model, no record rule of the user applies and
no history is asked for, what ``ModelSQL.read`` runs is one ``SELECT`` of
those columns by id, after ``_before_read``'s access checks, and what it
answers is that query's rows: this module runs the same checks and the
same query, its text kept per model, fields and number of ids.  Anything
else (a getter, a translated field, a relation path, a rule, a model
overriding ``read``, ``_before_read`` or ``_after_read``) is read by
Tryton, and so is a read that finds fewer records than asked, so that its
error is Tryton's own.
"""
import functools

from sql import Literal
from sql.conditionals import Coalesce
from sql.functions import Extract
from trytond import backend
from trytond.model import ModelSQL, ModelStorage, fields
from trytond.model.modelstorage import BrowseList
from trytond.pool import Pool
from trytond.transaction import Transaction

__all__ = ['read', 'search_read', 'reads_as_tryton', 'no_read_rule', 'keeps']

# Field types whose stored value is what Tryton's read answers
_PLAIN_TYPES = frozenset({'char', 'text', 'integer', 'biginteger', 'float',
        'numeric', 'boolean', 'date', 'datetime', 'timestamp', 'time',
        'selection', 'many2one'})
# Beyond it, the query's text would be kept for too many lengths.
MAX_IDS = 16


def read(Model, ids, names):
    "Model.read(ids, names), by the kept query when it is the same"
    ids = list(ids)
    query = None
    if (ids and type(names) in {list, tuple}
            and all(type(i) is int for i in ids) and reads_as_tryton(Model)):
        if _ARRAYS:
            # One array of ids: the same text for any number.
            query = _query(Model, tuple(names), None, backend.name)
        elif len(ids) <= MAX_IDS:
            query = _query(Model, tuple(names), len(ids), backend.name)
    if query is None or not no_read_rule(Model):
        return Model.read(ids, names)
    pool = Pool()
    pool.get('ir.model.access').check(Model.__name__, 'read')
    pool.get('ir.model.field.access').check(
        Model.__name__, list(names), 'read')
    text, params = query
    cursor = Transaction().connection.cursor(row_factory=backend.dict_row)
    cursor.execute(text, _bound(params, ids))
    rows = list(cursor)
    if len(rows) != len(dict.fromkeys(ids)):
        # Missing or hidden: Tryton says which, with its own error.
        return Model.read(ids, names)
    return rows


def search_read(Model, domain, offset=0, limit=None, order=None,
        fields_names=None):
    """Model.search_read(...), its rows read by :func:`read` where
    Model's search_read is Tryton's own"""
    if not keeps(Model, 'search_read', ModelStorage):
        return Model.search_read(domain, offset=offset, limit=limit,
            order=order, fields_names=fields_names)
    records = Model.search(domain, offset=offset, limit=limit, order=order)
    # A list of records gives its ids without making each record.
    ids = list(records.ids if isinstance(records, BrowseList)
        else map(int, records))
    fields_names = list(fields_names or ['id'])
    if 'id' not in fields_names:
        fields_names.append('id')
    rows = read(Model, ids, fields_names)
    index = {id_: i for i, id_ in enumerate(ids)}
    rows.sort(key=lambda r: index[r['id']])
    return rows


def reads_as_tryton(Model):
    """Model reads its table as ``ModelSQL.read`` does, now: no module
    changed its read, no history is asked for"""
    return (issubclass(Model, ModelSQL)
        and not Model._is_table_query()
        and keeps(Model, 'read', ModelSQL)
        and keeps(Model, '_before_read', ModelStorage)
        and keeps(Model, '_after_read', ModelStorage)
        and not (Model._history and Transaction().context.get('_datetime')))


def keeps(Model, name, base):
    "Model's class method name is base's own: no module changed it"
    function = getattr(getattr(Model, name), '__func__', None)
    return function is getattr(base, name).__func__


def no_read_rule(Model):
    "No record rule of the user limits what it reads of Model"
    Rule = Pool().get('ir.rule')
    return not Rule.domain_get(Model.__name__, mode='read')


def timestamp(table):
    "A record's ``_timestamp``, as ``ModelSQL.read`` writes it"
    return Extract('EPOCH', Coalesce(table.write_date, table.create_date)
        ).cast(fields.Char('timestamp').sql_type().base)


class _Id:
    "Where the n-th id goes in a kept query's parameters"
    __slots__ = ('index',)

    def __init__(self, index):
        self.index = index


# In an array, all the ids (where the database has arrays)
_ALL_IDS = _Id(None)
_ARRAYS = backend.Database.has_array()


def _bound(params, ids):
    bound = []
    for param in params:
        if type(param) is _Id:
            bound.append(ids[param.index])
        elif type(param) in {list, tuple} and param \
                and type(param[0]) is _Id:
            bound.append(ids if param[0] is _ALL_IDS
                else [ids[p.index] for p in param])
        else:
            bound.append(param)
    return bound


@functools.lru_cache(maxsize=1024)
def _query(Model, names, count, backend_name):
    """The SQL and parameters ``ModelSQL.read`` runs for names and count
    ids (None: an array of any number), or None when it would do more
    than run it"""
    if not names or len(set(names)) != len(names):
        return None
    table = Model.__table__()
    tables = {None: (table, None)}
    columns = []
    for name in names:
        if name == 'id':
            columns.append(table.id.as_('id'))
            continue
        if name == '__name__':
            columns.append(Literal(Model.__name__).as_('__name__'))
            continue
        if name == '_timestamp':
            columns.append(timestamp(table).as_('_timestamp'))
            continue
        field = Model._fields.get(name)
        if (field is None or field._type not in _PLAIN_TYPES
                or hasattr(field, 'get') or not field.sql_type()
                or getattr(field, 'translate', False)
                or getattr(field, 'datetime_field', None)
                or field.context):
            return None
        column = field.sql_column(tables, Model).as_(name)
        if backend_name == 'sqlite':
            # As ModelSQL.read: the type tells sqlite3 how to convert.
            column.output_name += ' [%s]' % field.sql_type().base
        columns.append(column)
    if 'id' not in names:
        columns.append(table.id.as_('id'))
    # count None: one array parameter, of every id.
    where = fields.SQL_OPERATORS['in'](table.id, [_ALL_IDS] if count is None
        else [_Id(i) for i in range(count)])
    return tuple(table.select(*columns, where=where))
