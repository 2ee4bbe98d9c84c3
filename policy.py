# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The one data policy: what a snippet or a REST request may reach.

Every way a snippet's ``pool``, the ``rest`` helper and the seed REST
endpoints reach data asks this module first: a model, a field path (``f``,
``fields``, ``fields_names``, dotted paths, a record view's attribute), a
domain (each leaf's path, operator and value, at any depth), an order, a
relation or Reference traversal, a Function field, the values written, a
button or RPC method, a report. What it refuses raises :class:`Refused`
(answered 403, naming what was refused) before the ORM sees any of it, so
a refused part is never evaluated.

The rules (see ``doc/policy.rst``):

* Administration models (users, keys, sessions, groups, access rights and
  rules, actions, configuration, modules, cron, queue, endpoints and their
  logs: ``ir.*``, ``res.*``, ``endpoint.*``, ``web.user*`` but a few data
  models) are out of reach by every path, whatever the user. A relation to
  one gives, and may be compared by, ids only.
* Attachments and notes are reachable when they hang on a reachable
  record only (:func:`scope`); a domain or a path may not walk into them,
  they are reached by their own model.
* A path, a domain and an order may not walk through a Reference field:
  its target is data, not schema (the 4-element domain form names the
  target model, which is then checked like any other).
* A field is readable when the user may read its model and the field, and,
  for a Function field, the fields it depends on; a Function field that
  declares no dependency is not readable on a model where the user may not
  read some field (its getter could show it).
* A writing call runs in a savepoint (:func:`writing`): when it raises,
  what it wrote is undone, even if the snippet catches the error; in a
  read-only transaction (GET, HEAD) it is refused before it runs.
* Run As (:func:`run_as_errors`): an editor may only pick a user whose
  groups are all theirs (an administrator only if they are one); a public
  endpoint never runs as an administrator unless ``[endpoint]
  allow_admin_exec`` is set.
"""
import itertools
import re
from collections.abc import Mapping
from contextlib import contextmanager
from functools import lru_cache

from sql import Literal
from trytond import backend, config
from trytond.const import OPERATORS
from trytond.model import ModelStorage
from trytond.model import fields as tryton_fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

ADMIN_PREFIXES = ('ir.', 'res.', 'endpoint.', 'web.user')
# Data models under those prefixes that endpoints may use.
ALLOWED_MODELS = frozenset({
        'ir.attachment', 'ir.note', 'ir.lang', 'ir.calendar.month',
        'ir.calendar.day', 'ir.sequence'})
# Attachments and notes hang on any record: those of administration
# records stay out of reach, like the records themselves.
RESOURCE_MODELS = frozenset({'ir.attachment', 'ir.note'})
PSEUDO_FIELDS = frozenset({'id', '__name__'})
ID_OPERATORS = frozenset({'=', '!=', 'in', 'not in'})
_WHERE = frozenset({'where', 'not where'})
_RELATIONS = frozenset({'many2one', 'one2one', 'one2many', 'many2many'})
_SINGLE = frozenset({'many2one', 'one2one'})
_MULTI = frozenset({'one2many', 'many2many'})
_ORDER_DIRECTION = re.compile(
    r'^(ASC|DESC)( NULLS (FIRST|LAST))?$', re.IGNORECASE)
# RPC methods that take domains, field paths or values: run through the
# policy (DATA_METHODS) or refused (their arguments can not be checked).
DATA_METHODS = frozenset({
        'read', 'search', 'search_read', 'search_count', 'create', 'write',
        'delete', 'copy'})
UNCHECKED_METHODS = frozenset({
        'export_data', 'export_data_domain', 'import_data', 'autocomplete',
        'history_revisions'})
MAX_TIMEOUT = config.getfloat('endpoint', 'max_timeout', default=30)
ALLOW_ADMIN_EXEC = config.getboolean(
    'endpoint', 'allow_admin_exec', default=False)


class Refused(AccessError):
    "What the policy refuses: answered 403"


class Invalid(ValueError):
    "A malformed request (unknown field, bad domain): answered 400"


class Unknown(Invalid):
    "No such model, method or report: answered 404 by REST"


# Types a snippet passes for a record (the pool's RecordView): an object
# with ``id`` and ``_view_model()``.
RECORD_TYPES = []


def _is_record(value):
    return bool(RECORD_TYPES) and isinstance(value, tuple(RECORD_TYPES))


def is_admin_model(name):
    return name not in ALLOWED_MODELS and name.startswith(ADMIN_PREFIXES)


def time_budget(timeout, default):
    "A run's time budget: its own or the default, capped by max_timeout"
    return min(timeout or default, MAX_TIMEOUT)


# Models and fields

def model(name):
    "The class of a model endpoints may reach"
    if not isinstance(name, str) or is_admin_model(name):
        raise Refused(f"The model {name!r} is not available.")
    try:
        Model = Pool().get(name)
    except KeyError:
        raise Unknown(f"No model {name!r}.") from None
    if not issubclass(Model, ModelStorage):
        raise Unknown(f"No model {name!r}.")
    return Model


def field(Model, name):
    "The field ``name`` of Model, private names excluded"
    descriptor = (Model._fields.get(name)
        if isinstance(name, str) and not name.startswith('_') else None)
    if descriptor is None:
        raise Invalid(f"{Model.__name__} has no field {name!r}.")
    return descriptor


def target(descriptor):
    "The target model name of a relational field, else None"
    if descriptor._type not in _RELATIONS:
        return None
    return descriptor.get_target().__name__


class Access:
    """What the current user may read, from one look-up per model.

    Tryton's ``check`` per field and step costs more than a small read;
    ``get_access`` gives the same answers, cached by Tryton per user.
    """
    __slots__ = ('_checking', '_fields', '_models', '_readable')

    def __init__(self):
        self._checking = Transaction().check_access
        self._models = {}
        self._fields = {}
        self._readable = {}

    def model(self, name):
        if not self._checking:
            return True
        access = self._models.get(name)
        if access is None:
            ModelAccess = Pool().get('ir.model.access')
            value = ModelAccess.get_access([name])[name]['read']
            # None means no rule at all: allowed, as ``check`` has it.
            access = self._models[name] = bool(value or value is None)
        return access

    def _field_rules(self, name):
        rules = self._fields.get(name)
        if rules is None:
            FieldAccess = Pool().get('ir.model.field.access')
            rules = self._fields[name] = {
                f: a.get('read', True) for f, a in
                FieldAccess.get_access([name])[name].items()}
        return rules

    def field(self, Model, name):
        "The user may read the field: its model, itself, what it shows"
        if not self._checking:
            return True
        key = (Model.__name__, name)
        readable = self._readable.get(key)
        if readable is None:
            # Guards a cycle of Function fields depending on each other.
            self._readable[key] = True
            readable = self._readable[key] = self._compute(Model, name)
        return readable

    def _compute(self, Model, name):
        if name in PSEUDO_FIELDS:
            return self.model(Model.__name__)
        if not self.model(Model.__name__):
            return False
        rules = self._field_rules(Model.__name__)
        if not rules.get(name, True):
            return False
        descriptor = Model._fields.get(name)
        if not isinstance(descriptor, tryton_fields.Function):
            return True
        depends = descriptor.depends or ()
        if not depends:
            # The getter may read any field: none may be hidden.
            return all(rules.values())
        for depend in depends:
            local, _, relate = depend.partition('.')
            if local.startswith('_parent_'):
                local = local[len('_parent_'):]
            if local not in Model._fields:
                continue
            if not self.field(Model, local):
                return False
            related = Model._fields[local]
            if relate and hasattr(related, 'get_target'):
                Target = related.get_target()
                name = relate.split('.')[0]
                if (name in Target._fields
                        and not is_admin_model(Target.__name__)
                        and not self.field(Target, name)):
                    return False
        return True


def path(Model, path, access=None, order=False):
    """Check a dotted field path of Model and tell if it is readable.

    Refused: a step into an administration model (a relation to one may
    end a path, it gives ids, except in an order where it sorts by the
    target's fields), through a Reference field, or through attachments
    or notes. Invalid: an unknown field, a step through a non-relation.
    """
    if not isinstance(path, str) or not path:
        raise Invalid("Field names are text.")
    access = access or Access()
    names = path.split('.')
    readable = True
    for i, name in enumerate(names):
        last = i == len(names) - 1
        if last and name in PSEUDO_FIELDS:
            return readable and access.model(Model.__name__)
        descriptor = field(Model, name.split(':', 1)[0] if last else name)
        readable = readable and access.field(Model, descriptor.name)
        if descriptor._type == 'reference':
            if last:
                return readable
            raise Refused(f"{path!r} goes through the Reference field "
                f"{name!r}: read it, then the record it names.")
        target_name = target(descriptor)
        if target_name is None:
            if last:
                return readable
            raise Invalid(f"{path!r}: {name!r} is not a relation.")
        if is_admin_model(target_name):
            if last and not order:
                return readable
            raise Refused(f"{path!r} reaches the administration model "
                f"{target_name!r}: only its ids are available.")
        if last:
            return readable
        if target_name in RESOURCE_MODELS:
            raise Refused(f"{path!r} goes through {target_name!r}: "
                "read attachments and notes by their own model.")
        Model = Pool().get(target_name)
    return readable


def fields_names(Model, names, access=None, unreadable='refuse'):
    """Checked field paths to read; an unreadable one is refused, or left
    out with ``unreadable='skip'`` (as the built-in REST API does)"""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise Invalid("Field names are a list of text.")
    access = access or Access()
    result = []
    for name in names:
        if not path(Model, name, access):
            if unreadable == 'skip':
                continue
            raise Refused(f"The field {name!r} of {Model.__name__} "
                "is not readable.")
        result.append(str(name))
    return result


def check_readable(Model, name, access=None):
    "A field read from a record view"
    access = access or Access()
    field(Model, name)
    if not access.field(Model, name):
        raise Refused(f"The field {name!r} of {Model.__name__} "
            "is not readable.")


# Domains and orders

def is_leaf(clause):
    return (isinstance(clause, (list, tuple)) and len(clause) >= 3
        and isinstance(clause[0], str) and isinstance(clause[1], str))


def domain(Model, clauses, access=None, allowed=None):
    """A checked copy of a domain, any depth: each leaf's field path, its
    operator and its value (nested domains included); ``allowed``, the
    only fields of Model its leaves may start from"""
    access = access or Access()
    if not isinstance(clauses, (list, tuple)):
        raise Invalid("A domain is a list.")
    if is_leaf(clauses):
        return _leaf(Model, clauses, access, allowed)
    result = []
    for i, item in enumerate(clauses):
        if i == 0 and item in ('AND', 'OR'):
            result.append(str(item))
        elif isinstance(item, (list, tuple)):
            result.append(domain(Model, item, access, allowed))
        else:
            raise Invalid(f"Invalid domain clause {item!r}.")
    return result


def _leaf(Model, leaf, access, allowed=None):
    name, operator = str(leaf[0]), str(leaf[1])
    if allowed is not None and name.partition('.')[0] not in allowed:
        raise Invalid(f"Field {name.partition('.')[0]!r} is not available.")
    if operator not in OPERATORS:
        raise Invalid(f"Invalid operator {operator!r} in {name!r}.")
    if len(leaf) > 4:
        raise Invalid(f"Invalid domain clause {name!r}.")
    value, extra = leaf[2], list(leaf[3:])
    local, _, relate = name.partition('.')
    descriptor = field(Model, local)
    if not access.field(Model, local):
        raise Refused(f"The field {local!r} of {Model.__name__} "
            "is not readable.")
    if descriptor._type == 'reference':
        return _reference_leaf(name, operator, value, extra, relate, access)
    target_name = target(descriptor)
    if target_name is None:
        if relate:
            raise Invalid(f"{name!r}: {local!r} is not a relation.")
        if operator in _WHERE or extra:
            raise Invalid(f"Invalid domain clause {name!r}.")
        return [name, operator, data(value)]
    walks = bool(relate) or operator in _WHERE or bool(extra)
    if is_admin_model(target_name):
        if walks or operator not in ID_OPERATORS:
            raise Refused(f"{name!r} reaches the administration model "
                f"{target_name!r}: only its ids may be compared.")
        return [name, operator, _ids_value(value)]
    if walks and target_name in RESOURCE_MODELS:
        raise Refused(f"{name!r} goes through {target_name!r}: "
            "search attachments and notes by their own model.")
    Target = Pool().get(target_name)
    if relate:
        _leaf(Target, (relate, operator, value, *extra), access)
    elif operator in _WHERE:
        value = domain(Target, value, access)
    elif extra:
        if not operator.endswith(('child_of', 'parent_of')):
            raise Invalid(f"Invalid domain clause {name!r}.")
        parent = field(Target, extra[0])
        if (target(parent) != target_name
                or not access.field(Target, parent.name)):
            raise Refused(f"{extra[0]!r} of {target_name} can not be "
                "followed.")
        extra = [str(extra[0])]
    elif _by_name(value) and not access.field(Target, 'rec_name'):
        # Tryton compares text with the target's rec_name.
        raise Refused(f"{name!r} compares the rec_name of {target_name} "
            "records, which is not readable.")
    return [name, operator, data(value), *extra]


def _by_name(value):
    if isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and any(
        isinstance(v, str) for v in value)


def _reference_leaf(name, operator, value, extra, relate, access):
    if extra:
        Target = model(extra[0])
        if Target.__name__ in RESOURCE_MODELS and (
                relate or operator in _WHERE):
            raise Refused(f"{name!r} goes through {Target.__name__!r}: "
                "search attachments and notes by their own model.")
        if relate:
            _leaf(Target, (relate, operator, value), access)
        elif operator in _WHERE:
            value = domain(Target, value, access)
        extra = [Target.__name__]
    elif relate or operator in _WHERE:
        raise Invalid(
            f"{name!r} needs the target model of the Reference field.")
    if (isinstance(value, str) and operator not in ID_OPERATORS
            and is_admin_model(value.partition(',')[0])):
        raise Refused(f"{name!r} compares with the administration model "
            f"{value.partition(',')[0]!r}: only its ids may be compared.")
    return [name, operator, data(value), *extra]


def _ids_value(value, nested=True):
    "A value compared with a relation to an administration model: ids"
    if _is_record(value):
        return value.id
    if value is None or type(value) is int:
        return value
    if nested and isinstance(value, (list, tuple)):
        return [_ids_value(v, nested=False) for v in value]
    raise Refused(
        "Relations to administration models may only be compared by id.")


def order(Model, items, access=None, allowed=None):
    "A checked copy of an order: readable paths, known directions"
    if items is None:
        return None
    access = access or Access()
    if not isinstance(items, (list, tuple)):
        raise Invalid("An order is a list of [field, direction].")
    result = []
    for item in items:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(i, str) for i in item)
                or not _ORDER_DIRECTION.match(item[1])):
            raise Invalid("An order is a list of [field, direction].")
        if allowed is not None and item[0].split('.')[0] not in allowed:
            raise Invalid(f"Field {item[0].split('.')[0]!r} is not available.")
        if not path(Model, item[0], access, order=True):
            raise Refused(f"The field {item[0]!r} of {Model.__name__} "
                "is not readable.")
        result.append((str(item[0]), str(item[1])))
    return result


# Scope of attachments and notes

def scope(Model):
    "Extra domain limiting what may be reached of Model"
    if Model.__name__ not in RESOURCE_MODELS:
        return []
    return [('resource', 'not like', f'{prefix}%')
        for prefix in ADMIN_PREFIXES]


def scoped_domain(Model, clauses, access=None, allowed=None):
    checked = domain(Model, clauses, access, allowed)
    extra = scope(Model)
    return [checked, *extra] if extra else checked


def in_scope(Model, ids):
    "The ids of Model that lie inside its scope"
    extra = scope(Model)
    if not extra or not ids:
        return list(ids)
    unique = list(set(ids))
    # Only counted here; reading them is then checked as usual.
    with without_check_access():
        inside = {r.id for r in Model.search([('id', 'in', unique), *extra])}
    return [i for i in ids if i in inside]


def check_scope(Model, ids):
    "Refuse ids that lie outside the model's scope"
    if scope(Model) and ids and len(set(in_scope(Model, ids))) != len(
            set(ids)):
        raise Refused(f"Those {Model.__name__} records are not available.")
    return ids


def reference_target(value):
    """``(Model, id)`` of a stored Reference value that may be followed,
    else None (an administration model, out of scope, malformed)"""
    if not isinstance(value, str):
        return None
    name, _, id_ = value.partition(',')
    try:
        id_ = int(id_)
    except ValueError:
        return None
    if id_ <= 0:
        return None
    try:
        Target = model(name)
    except Invalid:
        return None
    except Refused:
        return None
    if not in_scope(Target, [id_]):
        return None
    return Target, id_


# Values written

def data(value):
    "A value passed to the ORM: plain data, records turned into ids"
    if _is_record(value):
        return value.id
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        return [data(v) for v in value]
    if isinstance(value, Mapping):
        return {_key(k): data(v) for k, v in value.items()}
    raise Invalid(
        f"A value of type {type(value).__name__} can not be passed.")


def _scalars():
    import datetime as dt
    import decimal
    return (int, float, decimal.Decimal, dt.date, dt.datetime, dt.time,
        dt.timedelta)


_SCALARS = _scalars()


def _key(key):
    if not isinstance(key, str):
        raise Invalid("Keys must be text.")
    return str(key)


def values(Model, items, allowed=None):
    """Checked values to create or write records of Model: known fields,
    relations set by id (administration models never created or changed
    through a relation), references to reachable records only"""
    if not isinstance(items, Mapping):
        raise Invalid("Values are an object of field name to value.")
    result = {}
    for name, value in items.items():
        if not isinstance(name, str) or name == 'id' or (
                allowed is not None and name not in allowed):
            raise Invalid(f"{name!r} can not be written.")
        descriptor = field(Model, name)
        result[str(name)] = checked = _value(descriptor, value)
        if (Model.__name__ in RESOURCE_MODELS and name == 'resource'
                and isinstance(checked, str)
                and checked.startswith(ADMIN_PREFIXES)):
            # It would be out of scope (see scope()) once written.
            raise Refused(f"{Model.__name__} may hang on records of data "
                f"models only, not on {checked.partition(',')[0]!r}.")
    return result


def _value(descriptor, value):
    kind = descriptor._type
    if kind in _SINGLE:
        return _relation_id(descriptor, value)
    if kind == 'reference':
        return reference(value)
    if kind in _MULTI:
        return _actions(descriptor, value)
    if kind == 'dict':
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise Invalid(f"{descriptor.name} takes an object.")
        return data(value)
    if isinstance(value, (list, tuple)):
        if kind != 'multiselection':
            raise Invalid(f"{descriptor.name} does not take a list.")
    elif isinstance(value, Mapping):
        raise Invalid(f"{descriptor.name} does not take an object.")
    return data(value)


def _relation_id(descriptor, value):
    "The value of a many2one or one2one: a record, an id or None"
    if _is_record(value):
        if value._view_model() != target(descriptor):
            raise Invalid(
                f"{descriptor.name} takes a {target(descriptor)} record.")
        value = value.id
    if value is None or (type(value) is int and 0 < value < 2 ** 63):
        Target = descriptor.get_target()
        if value is not None and Target.__name__ in RESOURCE_MODELS:
            check_scope(Target, [value])
        return value
    raise Invalid(f"{descriptor.name} takes a record or an id.")


def reference(value):
    "A Reference value written: a reachable record, as 'model,id'"
    if value is None:
        return None
    if _is_record(value):
        name, id_ = value._view_model(), value.id
    elif isinstance(value, str):
        name, _, id_ = value.partition(',')
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        name, id_ = value
    else:
        raise Invalid("A reference is 'model,id', [model, id] or a record.")
    Target = model(_key(name))
    if _is_record(id_):
        id_ = id_.id
    if isinstance(id_, str):
        try:
            id_ = int(id_) if id_ else -1
        except ValueError:
            raise Invalid("A reference id is a number.") from None
    if type(id_) is not int or isinstance(id_, bool):
        raise Invalid("A reference id is a number.")
    if id_ > 0:
        check_scope(Target, [id_])
    return f'{Target.__name__},{id_}'


def _actions(descriptor, actions):
    target_name = target(descriptor)
    if is_admin_model(target_name):
        raise Refused(f"{descriptor.name} links to the administration "
            f"model {target_name!r}: it is read-only.")
    Target = model(target_name)
    if not isinstance(actions, (list, tuple)):
        raise Invalid(f"{descriptor.name} takes a list of actions.")
    result = []
    for action in actions:
        if (not isinstance(action, (list, tuple)) or not action
                or not isinstance(action[0], str)):
            raise Invalid(
                f"{descriptor.name} takes actions like ['add', [ids]].")
        verb, args = action[0], list(action[1:])
        if verb == 'create' and len(args) == 1:
            if not isinstance(args[0], (list, tuple)):
                raise Invalid("['create', [values…]]")
            args = [[values(Target, v) for v in args[0]]]
        elif verb == 'write' and len(args) >= 2 and len(args) % 2 == 0:
            args = [
                ids(Target, a) if i % 2 == 0 else values(Target, a)
                for i, a in enumerate(args)]
        elif verb in {'add', 'remove', 'delete'} and len(args) == 1:
            args = [ids(Target, args[0])]
        elif verb == 'copy' and len(args) in {1, 2}:
            args = [ids(Target, args[0])] + [
                values(Target, a) for a in args[1:]]
        else:
            raise Invalid(f"Unknown action {verb!r} on {descriptor.name}.")
        result.append((str(verb), *args))
    return result


MAX_RECORDS = 100_000


def ids(Model, items):
    "Ids of records of Model (records or ints), inside its scope"
    if _is_record(items) or type(items) is int:
        items = [items]
    if not isinstance(items, (list, tuple)):
        raise Invalid("Expected a list of records or ids.")
    if len(items) > MAX_RECORDS:
        raise Invalid(f"At most {MAX_RECORDS} records at once.")
    result = []
    for item in items:
        if _is_record(item):
            if item._view_model() != Model.__name__:
                raise Invalid("Records of another model.")
            result.append(item.id)
        elif type(item) is int and 0 < item < 2 ** 63:
            result.append(item)
        else:
            raise Invalid("Expected records or ids.")
    return check_scope(Model, result)


# Relations, buttons, RPC methods, reports

def relation(Model, name, access=None):
    "The target of a One2Many or Many2Many followed as a collection"
    descriptor = Model._fields.get(name) if isinstance(name, str) else None
    if (descriptor is None or name.startswith('_')
            or descriptor._type not in _MULTI):
        raise Unknown(f"{Model.__name__} has no sub-collection {name!r}.")
    Target = model(target(descriptor))
    access = access or Access()
    if not access.field(Model, name):
        raise Refused(f"The field {name!r} of {Model.__name__} "
            "is not readable.")
    if Target.__name__ in RESOURCE_MODELS:
        raise Refused(f"{name!r} goes through {Target.__name__!r}: "
            "read attachments and notes by their own model.")
    return Target


def followable(Model, access=None):
    "The sub-collections of Model a user may follow"
    access = access or Access()
    return [name for name, target_name in _sub_collections(Model)
        if access.field(Model, name) and access.model(target_name)]


@lru_cache(maxsize=1024)
def _sub_collections(Model):
    """``(field, target model)`` of the One2Many and Many2Many fields of
    Model, by name, but those no user may follow (administration,
    attachments and notes): what does not depend on the user, found once
    per model class"""
    pairs = []
    for name, descriptor in Model._fields.items():
        if descriptor._type not in _MULTI or name.startswith('_'):
            continue
        target_name = target(descriptor)
        if is_admin_model(target_name) or target_name in RESOURCE_MODELS:
            continue
        pairs.append((name, target_name))
    return tuple(sorted(pairs))


def button(Model, name):
    "A button of Model a snippet may press (Tryton checks its rules)"
    if (not isinstance(name, str) or name.startswith('_')
            or name not in getattr(Model, '_buttons', {})
            or name not in Model.__rpc__
            or not callable(getattr(Model, name, None))):
        return None
    return getattr(Model, name)


def rpc(Model, name):
    """The RPC description of a method called through REST: a button or
    RPC method, data methods included (their arguments are then checked
    by the caller with this module); Unknown or Refused otherwise"""
    if not isinstance(name, str) or name.startswith('_') or not hasattr(
            Model, name):
        raise Unknown(f"{Model.__name__} has no action {name!r}.")
    description = Model.__rpc__.get(name)
    if description is None or description.fresh_session:
        raise Refused(f"{name!r} is not an action of {Model.__name__}.")
    if name in UNCHECKED_METHODS:
        raise Refused(f"{name!r} of {Model.__name__} is not available: "
            "its arguments can not be checked.")
    return description


def report(name):
    """``(Report, action, Model)`` of a report of a reachable model"""
    pool = Pool()
    ActionReport = pool.get('ir.action.report')
    try:
        Report = pool.get(name, type='report')
    except KeyError:
        raise Unknown(f"No report {name!r}.") from None
    with without_check_access():
        actions = ActionReport.search([('report_name', '=', name)], limit=1)
        model_name = actions[0].model if actions else None
    if not actions:
        raise Unknown(f"No report {name!r}.")
    if not model_name or is_admin_model(model_name):
        raise Refused(f"The report {name!r} is not available.")
    try:
        Model = model(model_name)
    except Unknown:
        raise Refused(f"The report {name!r} is not available.") from None
    return Report, actions[0], Model


# Writing calls

_SAVEPOINTS = itertools.count()


@contextmanager
def writing(what):
    """Run a writing ORM call: refused in a read-only transaction, and in
    a savepoint, so that what it wrote is undone when it raises, even if
    the snippet catches the error (Tryton checks record rules and
    validation after its SQL has run)"""
    transaction = Transaction()
    if transaction.readonly:
        raise Refused(f"{what}: this request is read-only (GET and HEAD "
            "never write); use POST, PUT, PATCH or DELETE.")
    connection = transaction.connection
    cursor = connection.cursor()
    if backend.name == 'sqlite' and not connection.in_transaction:
        # A SAVEPOINT outside a transaction opens one that its RELEASE
        # would commit.
        cursor.execute('BEGIN IMMEDIATE')
    name = f'endpoint_call_{next(_SAVEPOINTS)}'
    cursor.execute(f'SAVEPOINT {name}')
    kept = _bookkeeping(transaction)
    try:
        yield
    except BaseException:
        try:
            cursor.execute(f'ROLLBACK TO SAVEPOINT {name}')
            cursor.execute(f'RELEASE SAVEPOINT {name}')
        finally:
            _restore(transaction, kept)
        raise
    cursor.execute(f'RELEASE SAVEPOINT {name}')


@contextmanager
def read_only(transaction):
    """GET and HEAD never write, on SQLite too: PostgreSQL runs their
    transaction READ ONLY, Tryton's SQLite backend ignores the flag"""
    if not transaction.readonly or backend.name != 'sqlite':
        yield
        return
    cursor = transaction.connection.cursor()
    cursor.execute('PRAGMA query_only = ON')
    try:
        yield
    finally:
        cursor.execute('PRAGMA query_only = OFF')


def _bookkeeping(transaction):
    "What Tryton notes of a transaction's changes, to restore after a rollback"
    return (
        {k: list(v) for k, v in transaction.create_records.items()},
        {k: set(v) for k, v in transaction.delete_records.items()},
        {k: set(v) for k, v in transaction.trigger_records.items()},
        len(transaction.log_records), len(transaction.tasks),
        {k: set(v) for k, v in transaction.check_warnings.items()},
        dict(transaction.timestamp))


def _restore(transaction, kept):
    created, deleted, triggered, logs, tasks, warnings, timestamp = kept
    for cache in transaction.cache.values():
        cache.clear()
    for target_, source in [(transaction.create_records, created),
            (transaction.delete_records, deleted),
            (transaction.trigger_records, triggered),
            (transaction.check_warnings, warnings)]:
        target_.clear()
        target_.update(source)
    del transaction.log_records[logs:]
    del transaction.tasks[tasks:]
    transaction.timestamp.clear()
    transaction.timestamp.update(timestamp)
    transaction.counter += 1


# Run As

def administrators(user_ids):
    """Those of user_ids who administer the server: ``admin``, a user with
    Tryton's Administrator flag (all groups' rights), or a member of an
    Administration group (``res.group_admin``) where one exists"""
    pool = Pool()
    User = pool.get('res.user')
    UserGroup = pool.get('res.user-res.group')
    ModelData = pool.get('ir.model.data')
    user_ids = [u for u in set(user_ids) if u is not None]
    if not user_ids:
        return set()
    cursor = Transaction().connection.cursor()
    user = User.__table__()
    condition = user.login == 'admin'
    if 'administrator' in User._fields:
        condition |= user.administrator == Literal(True)
    cursor.execute(*user.select(user.id,
            where=user.id.in_(user_ids) & condition))
    result = {u for u, in cursor}
    try:
        admin_group = ModelData.get_id('res', 'group_admin')
    except KeyError:
        return result
    user_group = UserGroup.user_group_all_table()
    cursor.execute(*user_group.select(user_group.user,
            where=user_group.user.in_(user_ids)
            & (user_group.group == Literal(admin_group))))
    result.update(u for u, in cursor)
    return result


def groups(user_ids):
    "{user: set of group ids} of active groups, implied ones included"
    pool = Pool()
    UserGroup = pool.get('res.user-res.group')
    Group = pool.get('res.group')
    result = {u: set() for u in user_ids}
    if not result:
        return result
    group = Group.__table__()
    user_group = UserGroup.user_group_all_table()
    cursor = Transaction().connection.cursor()
    cursor.execute(*user_group
        .join(group, condition=user_group.group == group.id)
        .select(user_group.user, user_group.group,
            where=user_group.user.in_(list(result))
            & (group.active == Literal(True))))
    for user_id, group_id in cursor:
        result[user_id].add(group_id)
    return result


def run_as_errors(definitions, editor=None):
    """``[(definition, message id, {args})]``: the Run As users that would
    give an endpoint rights its editor lacks, or a public endpoint an
    administrator's rights"""
    if editor is None:
        editor = Transaction().user
    with_user = [d for d in definitions if d.exec_user]
    if not with_user:
        return []
    exec_users = {d.exec_user for d in with_user}
    # root (modules' XML data) and administrators have every group.
    admins = administrators(exec_users | {editor})
    check_groups = bool(editor) and editor not in admins
    users_groups = groups(exec_users | {editor}) if check_groups else {}
    errors = []
    names = None
    for definition in with_user:
        exec_user = definition.exec_user
        if (definition.auth == 'public' and exec_user in admins
                and not ALLOW_ADMIN_EXEC):
            errors.append((definition, 'endpoint.msg_public_admin_exec',
                    {'user': exec_user}))
        elif check_groups and exec_user in admins:
            errors.append((definition, 'endpoint.msg_exec_user_admin',
                    {'user': exec_user}))
        elif check_groups and exec_user != editor:
            missing = users_groups[exec_user] - users_groups[editor]
            if missing:
                if names is None:
                    Group = Pool().get('res.group')
                    with without_check_access():
                        names = {g.id: g.name for g in Group.browse(
                                set().union(*users_groups.values()))}
                errors.append((definition, 'endpoint.msg_exec_user_groups',
                        {'user': exec_user, 'groups': ', '.join(sorted(
                                    names[g] for g in missing))}))
    return errors
