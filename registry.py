# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Published versions: one per sync, with its snapshot, diff and restore."""
import json
import weakref

from sql import Column, Literal
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONDecoder, JSONEncoder
from trytond.transaction import Transaction, without_check_access

from trytond_endpoint import snapshot_diff
from trytond_endpoint.code_models import literal_models
from trytond_endpoint.compiled import check_definition
from trytond_endpoint.definition import Definition
from trytond_endpoint.routing import route_clashes

from .exceptions import VersionError

NOTE_SIZE = 200
# Not part of what is published: who and when are the version's own, and
# the published text is rebuilt by the sync.
_NOT_SNAPSHOT = {'id', 'create_uid', 'create_date', 'write_uid',
    'write_date', 'published', 'rec_name'}
# Module data creates its endpoints one by one: every publish of one
# activation or update goes into one version.
_MODULE_VERSIONS = weakref.WeakKeyDictionary()


def snapshot_fields(Endpoint):
    "The stored fields of an endpoint, whichever module added them"
    return sorted(name for name, field in Endpoint._fields.items()
        if name not in _NOT_SNAPSHOT
        and not isinstance(field, (fields.Function, fields.One2Many,
                fields.Many2Many)))


def dumps(snapshot):
    return json.dumps({str(k): v for k, v in snapshot.items()},
        cls=JSONEncoder, sort_keys=True, separators=(',', ':'))


def loads(text):
    if not text:
        return {}
    return {int(k): v for k, v in json.loads(
            text, object_hook=JSONDecoder()).items()}


class RegistryVersion(ModelSQL, ModelView):
    "Published Endpoints Version"
    __name__ = 'endpoint.registry.version'

    number = fields.Integer("Number", required=True, readonly=True)
    note = fields.Char("Note", size=NOTE_SIZE, readonly=True,
        help="Why this version was published.")
    summary = fields.Char("Summary", readonly=True)
    diff = fields.Text("Changes", readonly=True,
        help="What changed since the version before.")
    # Secrets included: restoring needs them. The model is readable only
    # by Endpoint Administration and the field is in no view.
    snapshot = fields.Text("Snapshot", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('number_unique', Unique(t, t.number),
                'endpoint.msg_registry_version_number_unique'),
            ]
        cls._order = [('number', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'restore': {},
                })

    def get_rec_name(self, name):
        return str(self.number)

    @classmethod
    def check_note(cls, note):
        "Refused before anything is published"
        if note and len(note) > NOTE_SIZE:
            raise VersionError(gettext('endpoint.msg_version_note_size',
                    size=len(note), max=NOTE_SIZE))

    @classmethod
    def latest(cls):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, table.number, table.snapshot,
                order_by=[table.number.desc], limit=1))
        return cursor.fetchone()

    @classmethod
    def _snapshot_before(cls, number):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.snapshot,
                where=table.number < number,
                order_by=[table.number.desc], limit=1))
        row = cursor.fetchone()
        return loads(row[0]) if row else {}

    @classmethod
    def current_snapshot(cls, published=(), previous=None):
        """``{id: {field: value}}`` of every published endpoint.

        The records in ``published`` were just published: their stored
        values are what is served. The others are served as they were
        published before: taken from ``previous`` (the snapshot of the
        version before) when they are in it.
        """
        Endpoint = Pool().get('endpoint.endpoint')
        previous = previous or {}
        published = set(published)
        rows, texts = stored_rows(Endpoint, published_only=True)
        snapshot = {}
        for id_, row in rows.items():
            if id_ not in published and id_ in previous:
                snapshot[id_] = previous[id_]
                continue
            if id_ not in published:
                # Published before versions were kept: what is served is
                # the published definition.
                served = json.loads(texts[id_])
                row.update({k: v for k, v in served.items()
                        if k in row and k != 'id'})
            snapshot[id_] = row
        return snapshot

    @classmethod
    def record(cls, published=(), note=None, force=False):
        """Keep the version a publish just made; None when nothing that is
        published changed (unless ``force``).

        Called after the registry was bumped: its row lock serialises the
        syncs, so the numbers follow each other.
        """
        transaction = Transaction()
        module = transaction.context.get('module')
        merged = _MODULE_VERSIONS.get(transaction) if module else None
        latest = cls.latest()
        if merged is not None and latest and latest[0] == merged:
            previous = cls._snapshot_before(latest[1])
            carried = loads(latest[2])
        else:
            merged = None
            previous = carried = loads(latest[2]) if latest else {}
        snapshot = cls.current_snapshot(published, carried)
        if snapshot == carried and not force and (
                merged is not None or latest):
            return None
        values = cls._describe(previous, snapshot)
        if module and not note:
            note = _message('endpoint.msg_version_module',
                'Module "%(module)s" activated or updated', module=module)
        with without_check_access():
            if merged is not None:
                version = cls(merged)
                cls.write([version], values)
                return version
            version, = cls.create([{**values, 'note': note,
                        'number': (latest[1] if latest else 0) + 1}])
        if module:
            _MODULE_VERSIONS[transaction] = version.id
        return version

    @classmethod
    def _describe(cls, previous, snapshot):
        Endpoint = Pool().get('endpoint.endpoint')
        titles = {n: f.string for n, f in Endpoint._fields.items()}
        texts = {n for n, f in Endpoint._fields.items()
            if isinstance(f, fields.Text)}
        added, changed, removed = snapshot_diff.summary(previous, snapshot)
        return {
            'snapshot': dumps(snapshot),
            'diff': snapshot_diff.render(previous, snapshot, titles, texts),
            'summary': _message('endpoint.msg_version_summary',
                '%(added)s added, %(changed)s changed, %(removed)s removed',
                added=added, changed=changed, removed=removed),
            }

    @classmethod
    @ModelView.button
    def restore(cls, versions):
        "Publish the snapshot again and set the records back to it"
        if len(versions) != 1:
            raise VersionError(gettext('endpoint.msg_restore_one'))
        version, = versions
        cls.restore_snapshot(version)

    @classmethod
    def restore_snapshot(cls, version):
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Configuration = pool.get('ir.configuration')
        Registry = pool.get('endpoint.registry')
        with without_check_access():
            number, text = version.number, version.snapshot
        entries = loads(text)
        errors = cls.snapshot_errors(entries)
        if errors:
            raise VersionError(gettext('endpoint.msg_restore_refused',
                    number=number, errors='\n'.join(errors)))
        names = snapshot_fields(Endpoint)
        note = gettext('endpoint.msg_restore_note', number=number)
        latest = cls.latest()
        current, _ = stored_rows(Endpoint)
        with Transaction().set_context(active_test=False,
                language=Configuration.get_language()):
            to_write, to_create = [], []
            for id_, values in sorted(entries.items()):
                values = {k: v for k, v in values.items() if k in names}
                if id_ in current:
                    changed = {k: v for k, v in values.items()
                        if current[id_].get(k) != v}
                    if changed:
                        to_write.extend([[Endpoint(id_)], changed])
                else:
                    to_create.append(values)
            # Created since, or never published: not served by the
            # snapshot, so archived.
            extra = [i for i, r in current.items()
                if i not in entries and r['active']]
            if extra:
                to_write.extend([Endpoint.browse(extra), {'active': False}])
            # One write: the routes are checked once every record is set
            # back, so two records that swapped routes do not clash.
            if to_write:
                Endpoint.write(*to_write)
            if to_create:
                Endpoint.create(to_create)
            Endpoint.publish(None, note=note)
        if cls.latest()[1] == (latest[1] if latest else 0):
            # Already as the snapshot: a restore is still a version.
            Registry.bump()
            cls.record(note=note, force=True)

    @classmethod
    def snapshot_errors(cls, entries):
        "Why the snapshot can not be served today"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        names = set(snapshot_fields(Endpoint))
        errors = []
        definitions = []
        for id_, values in sorted(entries.items()):
            endpoint = snapshot_diff.label(values)
            for name, value in sorted(values.items()):
                if name not in names:
                    if value not in (None, False, '', 0):
                        errors.append(gettext('endpoint.msg_restore_field',
                                endpoint=endpoint, field=name))
                    continue
                errors.extend(cls._value_errors(
                        endpoint, Endpoint._fields[name], value))
            for model in literal_models(values.get('code')):
                if not _model_exists(model):
                    errors.append(gettext('endpoint.msg_restore_model',
                            endpoint=endpoint, model=model))
            definition = Definition(id=id_,
                **Endpoint.definition_values(values))
            definitions.append(definition)
            for field, message in check_definition(definition):
                errors.append(gettext('endpoint.msg_invalid_definition',
                        endpoint=definition.name,
                        field=Endpoint.__names__(field)['field'],
                        message=message))
        active = [d for d in definitions if d.active]
        # Aliases are routes too, as when the records are synced.
        for (definition, route), (first, _) in route_clashes(
                ((d, r), r, d.method) for d in active for r in d.routes()):
            errors.append(gettext('endpoint.msg_route_method_unique',
                    endpoint=definition.name, other=first.name,
                    route=route, method=definition.method))
        errors.extend(Endpoint._run_as_errors(active))
        return errors

    @classmethod
    def _value_errors(cls, endpoint, field, value):
        if value is None:
            return []
        if isinstance(field, fields.Selection) and isinstance(
                field.selection, (list, tuple)):
            if value not in {k for k, _ in field.selection}:
                return [gettext('endpoint.msg_restore_selection',
                        endpoint=endpoint, field=field.string, value=value)]
        elif isinstance(field, fields.Many2One):
            if not _model_exists(field.model_name):
                return [gettext('endpoint.msg_restore_model',
                        endpoint=endpoint, model=field.model_name)]
            Target = Pool().get(field.model_name)
            table = Target.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.select(Literal(1),
                    where=table.id == value, limit=1))
            if not cursor.fetchone():
                return [gettext('endpoint.msg_restore_record',
                        endpoint=endpoint, field=field.string, id=value)]
        return []


def _message(id_, default, **variables):
    text = gettext(id_, **variables)
    if text == id_:
        # While the module is activated its messages are not loaded yet.
        text = default % variables
    return text


def stored_rows(Endpoint, published_only=False):
    """``({id: {field: value}}, {id: published text})``, read in SQL.

    Not ``read()``: it costs seconds for thousands of endpoints, and a
    snapshot keeps the stored text of a translated field, not the
    translation of the current language.
    """
    names = snapshot_fields(Endpoint)
    table = Endpoint.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.id, table.published,
            *[Column(table, n) for n in names],
            where=(table.published != None) if published_only  # noqa: E711
            else Literal(True)))
    booleans = {n for n in names
        if isinstance(Endpoint._fields[n], fields.Boolean)}
    rows, published = {}, {}
    for id_, published[id_], *values in cursor:
        row = dict(zip(names, values))
        # SQLite gives booleans as integers.
        for name in booleans:
            if row[name] is not None:
                row[name] = bool(row[name])
        rows[id_] = row
    return rows, published


def _model_exists(name):
    try:
        Pool().get(name)
    except KeyError:
        return False
    return True

