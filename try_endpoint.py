# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The Test button: run the edited definition on a sample request."""
import copy
import json
import re
import uuid
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.protocols.wrappers import Request
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard
from werkzeug.routing.rules import parse_converter_args
from werkzeug.test import EnvironBuilder

from trytond_endpoint.definition import METHODS
from trytond_endpoint.http.signature import scheme_of
from trytond_endpoint.http.signature import sign as sign_body
from trytond_endpoint.jsonschemas import JsonSchemaContract, SchemaError, pointer_of
from trytond_endpoint.routing import LiveMap

from . import auth_signature, pipeline


class TryRequest(ModelView):
    "Sample request"
    __name__ = 'endpoint.endpoint.try.request'

    method = fields.Selection(
        [(m, m) for m in METHODS], "Method", required=True, sort=False)
    path = fields.Char(
        "Path", required=True,
        help="Below the mount, with the query string, e.g. /orders?limit=2")
    headers = fields.Text("Headers", help="One 'Name: value' per line.")
    body = fields.Text("Body")
    auth = fields.Char("Authentication", readonly=True)
    exec_user = fields.Many2One('res.user', "Run As", readonly=True,
        states={'invisible': ~Eval('exec_user')})
    user = fields.Many2One('res.user', "Test As",
        domain=[('id', '!=', 0)],
        states={
            'invisible': Bool(Eval('exec_user')) | (Eval('auth') == 'public'),
            'required': ~Eval('exec_user') & (Eval('auth') != 'public'),
            },
        help="The caller the code runs as, as if authenticated; "
        "credentials are not checked.")
    sign = fields.Boolean("Sign",
        states={'invisible': Eval('auth') != 'signature'},
        help="Sign the request with the endpoint's secret, as its sender "
        "would; unchecked, the signature headers given are verified.")

    @staticmethod
    def default_sign():
        return True


class TryResponse(ModelView):
    "Sample response"
    __name__ = 'endpoint.endpoint.try.response'

    status = fields.Integer("Status", readonly=True)
    headers = fields.Text("Headers", readonly=True)
    body = fields.Text("Body", readonly=True)
    logs = fields.Text("Log", readonly=True)


class TryEndpoint(Wizard):
    "Test Endpoint"
    __name__ = 'endpoint.endpoint.try'
    start = StateView('endpoint.endpoint.try.request',
        'endpoint.endpoint_try_request_view_form', [
            Button("Close", 'end', 'tryton-cancel'),
            Button("Run", 'run', 'tryton-launch', default=True),
            ])
    run = StateTransition()
    response = StateView('endpoint.endpoint.try.response',
        'endpoint.endpoint_try_response_view_form', [
            Button("Close", 'end', 'tryton-close'),
            Button("Again", 'start', 'tryton-back', default=True),
            ])

    def default_start(self, fields):
        endpoint = self.record
        values = {'auth': endpoint.auth,
            'exec_user': endpoint.exec_user.id if endpoint.exec_user else None}
        if self.start.path:
            return dict(values, method=self.start.method,
                path=self.start.path, headers=self.start.headers,
                body=self.start.body, sign=self.start.sign,
                user=self.start.user.id if self.start.user else None)
        headers = ''
        if endpoint.content_type:
            headers = f'Content-Type: {endpoint.content_type}'
        return dict(values, method=endpoint.method,
            path=sample_path(endpoint.route), headers=headers, body='',
            sign=True, user=Transaction().user)

    def transition_run(self):
        status, headers, body, logs = try_definition(
            self.record.get_definition(), self.start.method,
            self.start.path, self.start.headers or '',
            self.start.body or '',
            user_id=self.start.user.id if self.start.user else None,
            sign=bool(self.start.sign))
        self.response.status = status
        self.response.headers = headers
        self.response.body = body
        self.response.logs = logs
        return 'response'

    def default_response(self, fields):
        return {f: getattr(self.response, f, None)
            for f in ['status', 'headers', 'body', 'logs']}


_PENDING = ['create_records', 'delete_records', 'trigger_records',
    'log_records', 'user_notifications', 'check_warnings', 'timestamp',
    'tasks', '_datamanagers']


def _copy(value):
    # Two levels: containers of lists or sets of ids; the items themselves
    # (records, data managers) are kept as they are.
    copied = copy.copy(value)
    if isinstance(value, dict):
        for key, item in value.items():
            copied[key] = copy.copy(item)
    return copied


@contextmanager
def _rolled_back(transaction):
    """Undo in the database and in the transaction what the block did.

    A savepoint rather than a second transaction: on SQLite a second
    connection would wait for this one's lock.
    """
    saved = {name: _copy(getattr(transaction, name)) for name in _PENDING}
    cursor = transaction.connection.cursor()
    cursor.execute('SAVEPOINT endpoint_try')
    try:
        yield
    finally:
        cursor.execute('ROLLBACK TO SAVEPOINT endpoint_try')
        cursor.execute('RELEASE SAVEPOINT endpoint_try')
        for name, value in saved.items():
            if name == 'tasks':
                # A view on the thread's task list, not an attribute
                transaction.tasks[:] = value
            else:
                setattr(transaction, name, value)
        for cache in transaction.cache.values():
            cache.clear()


_VARIABLE = re.compile(r'<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)'
    r'(?:\((?P<arguments>.*?)\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>')
_SAMPLE_UUID = '123e4567-e89b-12d3-a456-426614174000'


def sample_path(route):
    "The route with one example value per variable, for a first run"
    return _VARIABLE.sub(_sample_value, route)


def _sample_value(match):
    converter = match.group('converter') or 'default'
    try:
        args, kwargs = parse_converter_args(match.group('arguments') or '')
    except (ValueError, TypeError):
        args, kwargs = (), {}
    if converter == 'int':
        value = max(int(kwargs.get('min', 1)), 1)
        if kwargs.get('max') is not None:
            value = min(value, int(kwargs['max']))
        return str(value).zfill(int(kwargs.get('fixed_digits', 0)))
    if converter == 'float':
        return str(float(kwargs.get('min', 1.5)))
    if converter == 'uuid':
        return _SAMPLE_UUID
    if converter == 'any' and args:
        return str(args[0])
    if converter == 'path':
        return 'example/path'
    if converter == 'base64':
        return 'ZXhhbXBsZQ'
    if converter in {'default', 'string'}:
        length = kwargs.get('length', args[0] if args else None)
        if length:
            return 'x' * int(length)
        word = 'example'
        maximum = kwargs.get('maxlength')
        minimum = int(kwargs.get('minlength', 1))
        if maximum is not None:
            word = word[:int(maximum)]
        return word.ljust(minimum, 'x')
    # A converter with no known example: the admin fills it in.
    return match.group(0)


def try_definition(definition, method, path, headers_text, body,
        user_id=None, sign=False):
    """Run a definition, synced or not, on a sample request.

    The run happens in a transaction of its own that is always rolled back,
    as the endpoint's exec user or else user_id (the current user when
    None); credentials are not checked, but a signed endpoint's signature
    is (made with its secret when sign). Returns (status, headers, body,
    log) as text.
    """
    pool = Pool()
    headers = {}
    for line in headers_text.splitlines():
        name, sep, value = line.partition(':')
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    data = body.encode('utf-8') if body else None
    if sign and definition.auth == 'signature':
        headers.update(signed_headers(definition, data or b''))
    url = urlsplit(path if path.startswith('/') else '/' + path)
    builder = EnvironBuilder(path=url.path, query_string=url.query,
        method=method, headers=headers, data=data)
    request = Request(builder.get_environ())
    request.view_args = {'database_name': pool.database_name}
    request_id = uuid.uuid4().hex[:12]
    run_logs = []
    user_id = definition.exec_user or user_id or Transaction().user
    with _rolled_back(Transaction()):
        try:
            live = LiveMap(0, [replace(definition, active=True)])
            entry, path_params = live.match(
                url.path, method)
            if definition.auth == 'signature':
                user_id = auth_signature.run_as(definition, request, pool)
            response = pipeline.execute(request, pool, entry, url.path,
                path_params, user_id, run_logs, request_id)
        except Exception as exception:
            response = pipeline.error_response(
                exception, request, request_id, run_logs, definition.id)
    lines = [f'{level}: {message}'
        for _, level, _, message in run_logs]
    lines.extend(_response_schema_warnings(definition, response))
    logs = '\n'.join(lines)
    return (response.status_code,
        '\n'.join(f'{k}: {v}' for k, v in response.headers.items()),
        response.get_data(as_text=True), logs)


def signed_headers(definition, data):
    "The headers the sender of a signed endpoint would send with data"
    try:
        scheme = scheme_of(definition)
    except ValueError:
        # The run refuses it, with the same answer as a live request.
        return {}
    return sign_body(scheme, definition.signature_secret or '', data)


def _response_schema_warnings(definition, response):
    "Where a JSON answer breaks the documented response schema"
    if (not definition.response_schema or response.status_code >= 300
            or response.mimetype != 'application/json'):
        return []
    try:
        contract = JsonSchemaContract(definition.response_schema)
        instance = json.loads(response.get_data())
    except (SchemaError, ValueError) as exception:
        return [f'warning: response schema not checked: {exception}']
    return [f'warning: response {pointer_of(path) or "/"}: {detail}'
        for path, detail in contract.errors(instance)]
