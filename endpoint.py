# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import json
import secrets

from sql import Literal
from trytond import config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval, In
from trytond.transaction import Transaction
from trytond.wizard import StateTransition, Wizard

from trytond_endpoint.compiled import check_definition
from trytond_endpoint.definition import (
    BODY_METHODS,
    CONTENT_TYPES,
    METHODS,
    Definition,
)
from trytond_endpoint.routing import route_shape
from trytond_endpoint.sandbox import HELP

from .exceptions import EndpointValidationError, SyncError

_DEFINITION_FIELDS = [
    'name', 'route', 'method', 'content_type', 'auth', 'exec_user',
    'request_schema', 'query_schema', 'response_schema', 'code', 'group',
    'description', 'documented', 'active', 'max_body_size', 'timeout']


class Endpoint(ModelSQL, ModelView):
    __name__ = 'endpoint.endpoint'

    name = fields.Char("Name", required=True, translate=True)
    # Not DeactivableMixin: an archived endpoint stays editable and
    # syncable, archiving is published by a sync like any other change.
    active = fields.Boolean(
        "Active", help="Uncheck to stop serving it after the next sync.")
    route = fields.Char(
        "Route", required=True,
        help="Werkzeug rule below the mount, e.g. /partners/<int:id>.")
    method = fields.Selection(
        [(m, m) for m in METHODS], "Method", required=True, sort=False)
    content_type = fields.Selection(
        [(None, '')] + [(c, c) for c in CONTENT_TYPES], "Content Type",
        states={
            'required': In(Eval('method'), list(BODY_METHODS)),
            },
        help="The type of the request body.")
    auth = fields.Selection([
            ('public', "Public"),
            ('user', "User"),
            ('application', "Application Key"),
            ], "Authentication", required=True, sort=False)
    exec_user = fields.Many2One(
        'res.user', "Run As", ondelete='RESTRICT',
        domain=[('id', '!=', 0)],
        states={
            'required': Eval('auth') == 'public',
            },
        help="The user the code runs as; "
        "when empty, the caller's user.")
    request_schema = fields.Text(
        "Request Schema",
        help="JSON Schema (JSON or YAML) for JSON and form bodies, "
        "XSD for XML bodies.")
    query_schema = fields.Text(
        "Query Schema", help="JSON Schema for the query string.")
    response_schema = fields.Text(
        "Response Schema", help="JSON Schema of the answer, documented.")
    code = fields.Text("Code")
    group = fields.Char("Group", help="Tag grouping routes in lists and docs.")
    description = fields.Text("Description", translate=True)
    documented = fields.Boolean(
        "Documented", help="Listed in the OpenAPI document.")
    max_body_size = fields.Integer(
        "Maximum Body Size",
        domain=['OR',
            ('max_body_size', '=', None),
            ('max_body_size', '>', 0),
            ],
        help="In bytes; the server's limit applies when empty.")
    timeout = fields.Float(
        "Time Budget",
        domain=['OR', ('timeout', '=', None), ('timeout', '>', 0)],
        help="Seconds a run may take; the configured default when empty.")
    published = fields.Text("Published", readonly=True)
    state = fields.Function(fields.Selection([
                ('live', "Live"),
                ('out_of_sync', "Out of Sync"),
                ], "State"), 'get_state', searcher='search_state')
    logs = fields.One2Many('endpoint.log', 'endpoint', "Logs", readonly=True)
    code_help = fields.Function(fields.Text("Code Help"), 'get_code_help')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('group', 'ASC NULLS FIRST'), ('route', 'ASC'),
            ('method', 'ASC'), ('id', 'ASC')]
        cls._buttons.update({
                'sync': {
                    'invisible': Eval('state') == 'live',
                    'depends': ['state'],
                    },
                'test': {},
                })

    @staticmethod
    def default_active():
        return True

    @staticmethod
    def default_method():
        return 'GET'

    @staticmethod
    def default_auth():
        return 'application'

    @staticmethod
    def default_documented():
        return True

    @staticmethod
    def default_code():
        return "result['payload'] = {'hello': 'world'}\n"

    def get_state(self, name):
        if self.published == self.definition_json():
            return 'live'
        return 'out_of_sync'

    @classmethod
    def search_state(cls, name, clause):
        # Comparing two definitions is not SQL; endpoints are few.
        _, operator, value = clause[:3]
        values = value if isinstance(value, (list, tuple)) else [value]
        with Transaction().set_context(active_test=False):
            records = cls.search([])
        ids = [r.id for r in records if r.state in values]
        if operator in {'!=', 'not in'}:
            return [('id', 'not in', ids)]
        return [('id', 'in', ids)]

    @classmethod
    def get_code_help(cls, records, name):
        text = '\n\n'.join(
            f"{h['name']} ({h['kind']})\n    {h['description']}\n"
            f"    e.g. {h['example']}" for h in HELP)
        return {r.id: text for r in records}

    def get_definition(self):
        values = {f: getattr(self, f) for f in _DEFINITION_FIELDS}
        values['exec_user'] = self.exec_user.id if self.exec_user else None
        return Definition(id=self.id, **values)

    def definition_json(self):
        return json.dumps(self.get_definition().to_dict(), sort_keys=True)

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        for record in records:
            record.check_definition()

    def check_definition(self):
        for field, message in check_definition(self.get_definition()):
            raise EndpointValidationError(gettext(
                    'endpoint.msg_invalid_definition',
                    endpoint=self.rec_name,
                    field=self.__names__(field)['field'],
                    message=message))

    @classmethod
    def validate(cls, records):
        super().validate(records)
        cls.check_unique_route(records)

    @classmethod
    def check_unique_route(cls, records):
        others = cls.search([
                ('method', 'in', list({r.method for r in records})),
                ])
        seen = {}
        for record in others:
            if record.active:
                key = (route_shape(record.route), record.method)
                seen.setdefault(key, []).append(record)
        for record in records:
            if not record.active:
                continue
            key = (route_shape(record.route), record.method)
            clash = [r for r in seen.get(key, []) if r.id != record.id]
            if clash:
                raise EndpointValidationError(gettext(
                        'endpoint.msg_route_method_unique',
                        endpoint=record.rec_name,
                        other=clash[0].rec_name,
                        route=record.route,
                        method=record.method))

    @classmethod
    def create(cls, vlist):
        records = super().create(vlist)
        cls._publish_module_data(records)
        return records

    @classmethod
    def write(cls, *args):
        super().write(*args)
        records = sum(args[0:None:2], [])
        cls._publish_module_data(records)

    @classmethod
    def _publish_module_data(cls, records):
        # Endpoints shipped in XML are live once the module is activated or
        # updated, with no manual sync.
        if Transaction().context.get('module') and records:
            cls.publish(cls.browse(records))

    @classmethod
    def delete(cls, records):
        super().delete(records)
        # A deleted record can not be synced any more: it leaves the
        # registry at once.
        Registry = Pool().get('endpoint.registry')
        Registry.bump()

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('published', None)
        default.setdefault('logs', None)
        default.setdefault('active', False)
        return super().copy(records, default=default)

    @classmethod
    @ModelView.button
    def sync(cls, records):
        cls.publish(records)

    @classmethod
    @ModelView.button_action('endpoint.wizard_try')
    def test(cls, records):
        pass

    @classmethod
    def sync_all(cls):
        with Transaction().set_context(active_test=False):
            cls.publish(cls.search([]))

    @classmethod
    def publish(cls, records):
        """Check every definition, then publish them all or none."""
        pool = Pool()
        Registry = pool.get('endpoint.registry')
        records = cls.browse([r.id for r in records])
        # Only what changed since it was published needs a check and a write.
        changed = {}
        for record in records:
            published = record.definition_json()
            if record.published != published:
                changed[record] = published
        errors = []
        for record in changed:
            for field, message in check_definition(record.get_definition()):
                errors.append(gettext('endpoint.msg_invalid_definition',
                        endpoint=record.rec_name,
                        field=cls.__names__(field)['field'],
                        message=message))
        errors.extend(cls._check_published_clashes(list(changed)))
        if errors:
            raise SyncError(gettext('endpoint.msg_sync_failed',
                    errors='\n'.join(errors)))
        transaction = Transaction()
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        # Plain SQL: publishing is not an edit of the definition, and a
        # sync of thousands of endpoints must stay fast.
        for record, published in changed.items():
            cursor.execute(*table.update(
                    [table.published], [published],
                    where=table.id == record.id))
        for cache in transaction.cache.values():
            cache.pop(cls.__name__, None)
        Registry.bump()

    @classmethod
    def _check_published_clashes(cls, records):
        "Routes that the published set would serve twice"
        served = {d.id: d for d in cls.published_definitions()}
        for record in records:
            served[record.id] = record.get_definition()
        seen = {}
        for definition in sorted(served.values(), key=lambda d: d.id):
            if not definition.active:
                continue
            key = (route_shape(definition.route), definition.method)
            if key in seen:
                yield gettext('endpoint.msg_route_method_unique',
                    endpoint=definition.name, other=seen[key].name,
                    route=definition.route, method=definition.method)
            else:
                seen[key] = definition

    @classmethod
    def published_definitions(cls):
        "The definitions that are served, read in the current transaction"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.published, where=table.published != None))  # noqa
        return [Definition.from_dict(json.loads(p)) for p, in cursor]


class Registry(ModelSQL):
    "The version of the served endpoints, one row"
    __name__ = 'endpoint.registry'

    version = fields.Integer("Version", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('version_unique', Unique(t, t.version),
                'endpoint.msg_registry_version_unique'),
            ]

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, limit=1))
        if not cursor.fetchone():
            # A random start: a database dropped and created again under
            # the same name must not meet the maps a running process built
            # for the old one.
            cursor.execute(*table.insert(
                    [table.version], [[Literal(secrets.randbelow(2 ** 30))]]))

    @classmethod
    def current(cls):
        "The version seen by the current transaction"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.version, limit=1))
        row = cursor.fetchone()
        return row[0] if row else 0

    @classmethod
    def bump(cls):
        # One UPDATE of one row: concurrent syncs serialise on its lock.
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.version], [table.version + 1]))


class SyncRegistry(Wizard):
    "Sync every endpoint"
    __name__ = 'endpoint.sync_registry'
    start_state = 'sync'
    sync = StateTransition()

    def transition_sync(self):
        Pool().get('endpoint.endpoint').sync_all()
        return 'end'

    def end(self):
        return 'reload'


class Log(ModelSQL, ModelView):
    "Endpoint log line"
    __name__ = 'endpoint.log'

    endpoint = fields.Many2One(
        'endpoint.endpoint', "Endpoint", required=True, ondelete='CASCADE')
    time = fields.Timestamp("Time", required=True, readonly=True)
    level = fields.Selection([
            ('debug', "Debug"),
            ('info', "Info"),
            ('warning', "Warning"),
            ('error', "Error"),
            ], "Level", required=True, readonly=True)
    request_id = fields.Char("Request", readonly=True)
    message = fields.Text("Message", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('time', 'DESC'), ('id', 'DESC')]

    @classmethod
    def clean(cls, days=None):
        "Delete the lines older than the retention ([endpoint] log_retention)"
        if days is None:
            days = config.getint('endpoint', 'log_retention', default=30)
        limit = dt.datetime.now() - dt.timedelta(days=days)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.time < limit))

