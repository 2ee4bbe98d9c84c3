# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import json
import os
import secrets
from functools import lru_cache

from sql import Column, Literal
from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval, In
from trytond.tools import file_open, grouped_slice
from trytond.transaction import Transaction

from trytond_endpoint.compiled import check_definition
from trytond_endpoint.definition import (
    BODY_METHODS,
    CONTENT_TYPES,
    METHODS,
    Definition,
    alias_lines,
)
from trytond_endpoint.routing import route_clashes
from trytond_endpoint.sandbox import HELP

from . import policy
from .exceptions import EndpointValidationError, SyncError
from .http_fields import HTTP_FIELDS, HttpFieldsMixin
from .pgtune.begin import Prepared, begin_and_fetch, is_plain

# Registry.current_with: a value not read with the version
UNKNOWN = object()
_SCHEMA_FIELDS = ['request_schema', 'query_schema', 'response_schema']
_DEFINITION_FIELDS = [
    'name', 'route', 'method', 'content_type', 'auth', 'exec_user',
    'request_schema', 'query_schema', 'response_schema', 'code', 'group',
    'description', 'documented', 'active', 'max_body_size', 'timeout',
    'aliases',
    # auth 'signature' and 'token' (auth_signature.py, auth_token.py)
    'signature_scheme', 'signature_secret', 'signature_header',
    'signature_algorithm', 'signature_encoding',
    'signature_timestamp_header', 'signature_tolerance', 'token_scopes',
    *HTTP_FIELDS, 'idempotent']


class Endpoint(HttpFieldsMixin, ModelSQL, ModelView):
    __name__ = 'endpoint.endpoint'
    # The client's View Revisions: every edit, published or not.
    _history = True

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
            ('signature', "Signed Webhook"),
            ('token', "Access Token"),
            ], "Authentication", required=True, sort=False)
    exec_user = fields.Many2One(
        'res.user', "Run As", ondelete='RESTRICT',
        domain=[('id', '!=', 0)],
        states={
            'required': In(Eval('auth'), ['public', 'signature']),
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
    aliases = fields.Text(
        "Aliases",
        help="More routes, one Werkzeug rule per line, served like the "
        "route: same method, same path parameters.")
    # auth 'signature' (auth_signature.py) and 'token' (auth_token.py)
    signature_scheme = fields.Selection([
            (None, ''),
            ('github', "GitHub"),
            ('stripe', "Stripe"),
            ('shopify', "Shopify"),
            ('slack', "Slack"),
            ('generic', "Generic"),
            ], "Signature Scheme", sort=False,
        states={
            'invisible': Eval('auth') != 'signature',
            'required': Eval('auth') == 'signature',
            })
    signature_secret = fields.Char("Signature Secret", strip=False,
        states={
            'invisible': Eval('auth') != 'signature',
            'required': Eval('auth') == 'signature',
            },
        help="The secret the sender signs with; "
        "readable only by Endpoint Administration.")
    signature_header = fields.Char("Signature Header",
        states={
            'invisible': Eval('signature_scheme') != 'generic',
            'required': (Eval('auth') == 'signature')
            & (Eval('signature_scheme') == 'generic'),
            },
        help="The header carrying the signature, e.g. X-Signature.")
    signature_algorithm = fields.Selection([
            (None, ''),
            ('sha256', "SHA-256"),
            ('sha512', "SHA-512"),
            ], "Signature Algorithm", sort=False,
        states={
            'invisible': Eval('signature_scheme') != 'generic',
            })
    signature_encoding = fields.Selection([
            (None, ''),
            ('hex', "Hexadecimal"),
            ('base64', "Base64"),
            ], "Signature Encoding", sort=False,
        states={
            'invisible': Eval('signature_scheme') != 'generic',
            })
    signature_timestamp_header = fields.Char("Timestamp Header",
        states={
            'invisible': Eval('signature_scheme') != 'generic',
            },
        help="When set, the signature covers \"timestamp.body\" and the "
        "timestamp must be within the tolerance.")
    signature_tolerance = fields.Integer("Signature Tolerance",
        domain=['OR',
            ('signature_tolerance', '=', None),
            ('signature_tolerance', '>', 0),
            ],
        states={
            'invisible': ~In(Eval('signature_scheme'),
                ['stripe', 'slack', 'generic']),
            },
        help="Seconds a timestamped signature is accepted; 300 when empty.")
    token_scopes = fields.Char("Required Scopes",
        states={
            'invisible': Eval('auth') != 'token',
            },
        help="Space-separated scopes the access token must grant.")
    idempotent = fields.Boolean("Idempotent",
        help="Replay the answer to a request sent again with the same "
        "Idempotency-Key header.")
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
        # No state on sync: the server refuses a button whose state holds,
        # and a record another admin just synced would raise an error
        # instead of being left as it is.
        cls._buttons.update({
                'sync': {},
                'sync_wizard': {},
                'test': {},
                })

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('//page[@id="caller"]', 'states', {
                    'invisible': ~In(Eval('auth'), ['signature', 'token']),
                    }),
            ]

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

    @classmethod
    def get_state(cls, records, name):
        rows = cls.definition_rows([r.id for r in records])
        return {id_: 'live' if published == _dumps(definition) else
            'out_of_sync' for id_, (definition, published) in rows.items()}

    @classmethod
    def search_state(cls, name, clause):
        # Comparing two definitions is not SQL; one read of the table.
        _, operator, value = clause[:3]
        values = value if isinstance(value, (list, tuple)) else [value]
        states = cls.get_state(cls.browse(cls.definition_rows()), name)
        ids = [i for i, state in states.items() if state in values]
        if operator in {'!=', 'not in'}:
            return [('id', 'not in', ids)]
        return [('id', 'in', ids)]

    @classmethod
    def get_code_help(cls, records, name):
        def example(text):
            # Every line indented alike: the example's own indentation is
            # part of it.
            first, *rest = text.splitlines() or ['']
            return '\n'.join([f"    e.g. {first}"]
                + [f"         {line}" if line else '' for line in rest])
        text = '\n\n'.join(
            f"{h['name']} ({h['kind']})\n    {h['description']}\n"
            f"{example(h['example'])}" for h in HELP)
        return {r.id: text for r in records}

    @classmethod
    def definition_rows(cls, ids=None):
        """``{id: (Definition, published JSON)}`` read from the table.

        Plain SQL in the current transaction: instantiating thousands of
        records costs seconds, and the definition is the stored text, not
        its translation.
        """
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        columns = [Column(table, f) for f in _DEFINITION_FIELDS]
        rows = {}
        for sub_ids in ([None] if ids is None
                else grouped_slice(ids, 1000)):
            where = (Literal(True) if sub_ids is None
                else table.id.in_(list(sub_ids)))
            cursor.execute(*table.select(
                    table.id, table.published, *columns, where=where))
            for id_, published, *values in cursor:
                values = cls.definition_values(
                    dict(zip(_DEFINITION_FIELDS, values)))
                rows[id_] = (Definition(id=id_, **values), published)
        return rows

    @classmethod
    def definition_values(cls, values):
        "Stored values (columns or a snapshot) as a Definition holds them"
        booleans, dates = cls._definition_kinds()
        # A snapshot older than a field lacks it: the default then.
        values = {n: values[n] for n in _DEFINITION_FIELDS if n in values}
        for name in booleans & values.keys():
            values[name] = bool(values[name])
        for name in dates & values.keys():
            # A date on PostgreSQL or in a snapshot, its text on SQLite;
            # a definition holds the ISO text.
            values[name] = str(values[name]) if values[name] else None
        return values

    @classmethod
    @lru_cache(maxsize=8)
    def _definition_kinds(cls):
        fields_ = [(n, cls._fields[n]) for n in _DEFINITION_FIELDS]
        return ({n for n, f in fields_ if isinstance(f, fields.Boolean)},
            {n for n, f in fields_ if isinstance(f, fields.Date)})

    def get_definition(self):
        return self.definition_rows([self.id])[self.id][0]

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        if field_names is not None and not (
                set(field_names) & set(_DEFINITION_FIELDS)):
            return
        rows = cls.definition_rows([r.id for r in records])
        for definition, _ in rows.values():
            for field, message in check_definition(definition):
                raise EndpointValidationError(gettext(
                        'endpoint.msg_invalid_definition',
                        endpoint=definition.name,
                        field=cls.__names__(field)['field'],
                        message=message))

    @classmethod
    def validate(cls, records):
        super().validate(records)
        cls.check_unique_route(records)
        cls.check_exec_user(records)

    @classmethod
    def check_exec_user(cls, records):
        "No escalation through Run As (see policy.run_as_errors)"
        rows = cls.definition_rows([getattr(r, 'id', r) for r in records])
        for message in cls._run_as_errors(
                [d for d, _ in rows.values()]):
            raise EndpointValidationError(message)

    @classmethod
    def _run_as_errors(cls, definitions):
        errors = policy.run_as_errors(definitions)
        if not errors:
            return []
        User = Pool().get('res.user')
        table = User.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, table.name, table.login,
                where=table.id.in_(list({a['user'] for _, _, a in errors}))))
        names = {i: name or login for i, name, login in cursor}
        return [gettext(message, endpoint=definition.name,
                **{**args, 'user': names.get(args['user'], args['user'])})
            for definition, message, args in errors]

    @classmethod
    def check_unique_route(cls, records):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, table.name, table.route,
                table.method, table.aliases,
                where=table.active == Literal(True)))
        ids = {r.id for r in records}
        rows = sorted(cursor, key=lambda r: (r[0] not in ids, r[0]))
        for row, first in route_clashes(
                ((*r[:2], route, r[3]), route, r[3]) for r in rows
                for route in [r[2], *alias_lines(r[4])]):
            if row[0] in ids or first[0] in ids:
                # The record being saved is named first.
                if row[0] not in ids:
                    row, first = first, row
                _, name, route, method = row
                raise EndpointValidationError(gettext(
                        'endpoint.msg_route_method_unique',
                        endpoint=name, other=first[1],
                        route=route, method=method))

    @classmethod
    def create(cls, vlist):
        vlist = [cls._read_schema_files(v) for v in vlist]
        records = super().create(vlist)
        cls._publish_module_data(records)
        return records

    @classmethod
    def write(cls, *args):
        args = list(args)
        for i in range(1, len(args), 2):
            args[i] = cls._read_schema_files(args[i])
        super().write(*args)
        records = sum(args[0:None:2], [])
        cls._publish_module_data(records)

    @classmethod
    def _read_schema_files(cls, values):
        """In a module's XML data, ``file:<path>`` as a schema is the text
        of that file of the module (``<path>`` relative to its folder)."""
        module = Transaction().context.get('module')
        if not module:
            return values
        values = values.copy()
        for name in _SCHEMA_FIELDS:
            value = values.get(name)
            if isinstance(value, str) and value.startswith('file:'):
                path = value[len('file:'):].strip()
                try:
                    with file_open(os.path.join(module, path),
                            encoding='utf-8') as file:
                        values[name] = file.read()
                except OSError as exception:
                    raise EndpointValidationError(gettext(
                            'endpoint.msg_schema_file',
                            path=path, module=module,
                            error=exception.strerror or str(exception)))
        return values

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
        Pool().get('endpoint.registry.version').record()

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
        "Publish records; those already live are left as they are"
        cls.publish(records)

    @classmethod
    @ModelView.button_action('endpoint.wizard_sync')
    def sync_wizard(cls, records):
        "Show what publishing records would do, and ask to confirm"

    @classmethod
    @ModelView.button_action('endpoint.wizard_try')
    def test(cls, records):
        pass

    @classmethod
    def sync_all(cls):
        "Publish every endpoint, archived ones included"
        cls.publish(None)

    @classmethod
    def pending(cls, ids=None):
        """What a publish of ids (every record when None) would write.

        ``({id: (Definition, published JSON)}, errors)``: the records whose
        definition is not the published one, and why publishing them would
        fail.
        """
        pending, errors, _ = cls._pending(ids)
        return pending, errors

    @classmethod
    def _pending(cls, ids):
        "pending, and the JSON each pending definition is published as"
        rows = cls.definition_rows(ids)
        # Only what changed since it was published needs a check and a write.
        dumps = {id_: _dumps(definition)
            for id_, (definition, _) in rows.items()}
        pending = {id_: (definition, published)
            for id_, (definition, published) in rows.items()
            if published != dumps[id_]}

        errors = []
        for definition, _ in pending.values():
            for field, message in check_definition(definition):
                errors.append(gettext('endpoint.msg_invalid_definition',
                        endpoint=definition.name,
                        field=cls.__names__(field)['field'],
                        message=message))
        errors.extend(cls._check_published_clashes(
                [d for d, _ in pending.values()]))
        # The Run As users' groups may have changed since the last save.
        errors.extend(cls._run_as_errors(
                [d for d, _ in rows.values() if d.active]))
        # And what publishing writes, dumped once (a sync of thousands).
        return pending, errors, {id_: dumps[id_] for id_ in pending}

    @classmethod
    def publish(cls, records, note=None):
        """Check every definition, then publish them all or none
        (every record when records is None).

        ``note`` says why; it is for the published versions to keep.
        """
        pool = Pool()
        Registry = pool.get('endpoint.registry')
        pool.get('endpoint.registry.version').check_note(note)
        pending, errors, dumps = cls._pending(None if records is None
            else [getattr(r, 'id', r) for r in records])
        if errors:
            raise SyncError(gettext('endpoint.msg_sync_failed',
                    errors='\n'.join(errors)))
        if not pending:
            # Already live: nothing to write, no new version.
            return
        changed = {definition: dumps[id_]
            for id_, (definition, _) in pending.items()}
        transaction = Transaction()
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        # Plain SQL: publishing is not an edit of the definition, and a
        # sync of thousands of endpoints must stay fast.
        if changed:
            query, _ = table.update(
                [table.published], [''], where=table.id == 0)
            # One statement, many rows: a round trip per endpoint would
            # make a large sync wait on the network.
            cursor.executemany(query, [(published, definition.id)
                    for definition, published in changed.items()])
        for cache in transaction.cache.values():
            cache.pop(cls.__name__, None)
        Registry.bump()
        pool.get('endpoint.registry.version').record(
            [d.id for d in changed], note=note)

    @classmethod
    def _check_published_clashes(cls, definitions):
        "Routes that the published set would serve twice"
        served = {d.id: d for d in cls.published_definitions()}
        for definition in definitions:
            served[definition.id] = definition
        synced = {d.id for d in definitions}
        # The records being synced first: the message names them first.
        active = (d for d in sorted(served.values(),
                key=lambda d: (d.id not in synced, d.id))
            if d.active)
        for (definition, route), (first, _) in route_clashes(
                ((d, r), r, d.method) for d in active for r in d.routes()):
            if definition.id not in synced and first.id in synced:
                definition, first = first, definition
            yield gettext('endpoint.msg_route_method_unique',
                endpoint=definition.name, other=first.name,
                route=route, method=definition.method)

    @classmethod
    def published_definitions(cls):
        "The definitions that are served, read in the current transaction"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.published, where=table.published != None))  # noqa
        return [Definition.from_dict(json.loads(p)) for p, in cursor]


def _dumps(definition):
    return json.dumps(definition.to_dict(), sort_keys=True)


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
    def current(cls, statement_timeout=None):
        """The version seen by the current transaction.

        On PostgreSQL, when the read opens the transaction, ``BEGIN``, the
        transaction's ``statement_timeout`` (milliseconds) and the read go
        in one round trip: it is done on every request.
        """
        connection = Transaction().connection
        statements = cls._opening_statements(
            statement_timeout if backend.name == 'postgresql' else None)
        if backend.name == 'postgresql':
            row = begin_and_fetch(connection, *statements)
            if row is not None:
                return int(row[0]) if row else 0
        # A transaction already open (or SQLite): one statement at a time.
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(getattr(statement, 'query', statement))
        row = cursor.fetchone()
        return row[0] if row else 0

    @classmethod
    def current_with(cls, statement_timeout, query, argument):
        """``(version, value)``: the version seen by the current
        transaction and the first column of ``query`` (a scalar subquery
        with one parameter, ``$1``) for ``argument``, read in the same
        round trip; ``(version, UNKNOWN)`` where they can not go together
        (not PostgreSQL, a transaction already open, an argument that is
        not plain text): the caller then runs its query itself.
        """
        if backend.name == 'postgresql' and is_plain(argument):
            row = begin_and_fetch(Transaction().connection,
                *cls._opening_statements(statement_timeout, query),
                arguments=(argument,))
            if row is not None:
                if not row:
                    return 0, None
                return int(row[0]), row[1]
        return cls.current(statement_timeout), UNKNOWN

    @classmethod
    @lru_cache(maxsize=8)
    def _opening_statements(cls, statement_timeout, key_query=None):
        # Rendered once: python-sql's rendering costs as much as the query.
        if key_query is None:
            statements = (Prepared('endpoint_registry_version',
                    f'SELECT "version" FROM "{cls._table}" LIMIT 1'),)
        else:
            statements = (Prepared('endpoint_registry_version_with',
                    f'SELECT "version", ({key_query}) '
                    f'FROM "{cls._table}" LIMIT 1'),)
        if statement_timeout is not None:
            statements = (
                f'SET LOCAL statement_timeout = {int(statement_timeout)}',
                *statements)
        return statements

    @classmethod
    def bump(cls):
        # One UPDATE of one row: concurrent syncs serialise on its lock.
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.version], [table.version + 1]))


class Log(ModelSQL, ModelView):
    "Endpoint log line"
    __name__ = 'endpoint.log'

    # Empty for a failure of the mount itself (the database unavailable
    # before the path was matched, say).
    endpoint = fields.Many2One(
        'endpoint.endpoint', "Endpoint", ondelete='CASCADE')
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

