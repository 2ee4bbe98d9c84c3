# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Serving one HTTP request: transaction, registry, auth, snippet, answer."""
import datetime as dt
import json
import logging
import time
import uuid
from base64 import urlsafe_b64decode
from contextlib import contextmanager, nullcontext
from functools import lru_cache

from trytond import backend, config
from trytond.exceptions import (
    LoginException,
    RateLimitException,
    UserError,
    UserWarning,
)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONDecoder
from trytond.res.user import UserApplication as _BaseUserApplication
from trytond.transaction import (
    Transaction,
    TransactionError,
    without_check_access,
)
from trytond.worker import run_task
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from trytond_endpoint import connpool, jsonenc, openapi
from trytond_endpoint.compiled import compile_definition
from trytond_endpoint.content import media_type_matches, parse_content_type
from trytond_endpoint.contracts import decode_body
from trytond_endpoint.definition import BODY_METHODS
from trytond_endpoint.pgdeadline import Deadline
from trytond_endpoint.problem import Problem
from trytond_endpoint.routing import MapCache
from trytond_endpoint.sandbox import (
    BudgetExceeded,
    RequestView,
    check_payload,
    check_render,
)
from trytond_endpoint.sandbox import Response as SnippetResponse
from trytond_endpoint.sandbox_guards import PROXY_TYPES
from trytond_endpoint.sandbox_namespaces import Facts, FrozenMultiMapping
from trytond_endpoint.sandbox_namespaces import UserError as SnippetError

from . import isolation
from .rest import RestHelper
from .snippet_pool import PoolProxy

logger = logging.getLogger(__name__)
MAPS = MapCache()
READONLY_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})
DEFAULT_TIMEOUT = config.getfloat('endpoint', 'timeout', default=5)
_DEFAULT_TIMEOUT_MS = max(int(DEFAULT_TIMEOUT * 1000), 1)
# Megabytes a run may grow the worker by; 0: no bound.
MEMORY_BUDGET = (config.getint('endpoint', 'memory_budget', default=512)
    * 2 ** 20) or None
PREFIX = config.get('endpoint', 'prefix', default='api').strip('/')
_CONNECTION_WAIT = config.getfloat('endpoint', 'connection_wait', default=2)
_RETRY = config.getint('database', 'retry')
_json_decoder = JSONDecoder()


class _NeedLogin(Exception):
    pass


_RATE_LIMITED = -429
_BASE_CHECK = _BaseUserApplication.check.__func__
try:
    from psycopg import InterfaceError as _InterfaceError
except ImportError:
    _InterfaceError = backend.DatabaseOperationalError
_TIMEOUT = getattr(backend, 'DatabaseTimeoutError', ())
# A lost connection shows as either, depending on when it is noticed.
_UNAVAILABLE = (backend.DatabaseOperationalError, _InterfaceError)


def live_map(pool):
    """The map of the registry version seen by the current transaction.

    The default time budget bounds the transaction's statements from the
    same round trip on PostgreSQL.
    """
    Registry = pool.get('endpoint.registry')
    version = Registry.current(statement_timeout=_DEFAULT_TIMEOUT_MS)
    Endpoint = pool.get('endpoint.endpoint')
    return MAPS.get(pool.database_name, version,
        Endpoint.published_definitions)


def serve(request, pool, path):
    if pool.database_name not in _TUNED:
        connpool.tune(backend.Database(pool.database_name), _CONNECTION_WAIT)
        _TUNED.add(pool.database_name)
    try:
        return _serve_request(request, pool, path)
    except _UNAVAILABLE:
        # Opening, rolling back or releasing a dead connection
        logger.warning("Database unavailable for %s", request, exc_info=True)
        return _unavailable()


# Names of the databases whose connection pool was tuned in this process;
# a pool made anew (the database dropped and created again) is tuned after
# its first transaction.
_TUNED = set()


def _serve_request(request, pool, path):
    method = request.method
    readonly = method in READONLY_METHODS
    context = {'_request': request.context}
    count = 0
    caller = None
    logs = []
    request_id = _RequestId()
    transaction_extras = {}
    # What the endpoint log needs to explain a failure to its admin
    failed = {'endpoint': None, 'logs': logs}
    while True:
        if count:
            time.sleep(0.02 * count)
        need_login = False
        try:
            # No session-wide statement_timeout: on PostgreSQL the
            # registry read sets a transaction-local one in its round trip.
            with connpool.unchecked():
                transaction = Transaction().start(pool.database_name, 0,
                    readonly=readonly, context=context, **transaction_extras)
        except _UNAVAILABLE:
            logger.warning("Database unavailable for %s", request,
                exc_info=True)
            response = _unavailable()
            break
        connpool.tune(transaction.database, _CONNECTION_WAIT)
        lost = False
        try:
            with transaction:
                try:
                    response = _serve(
                        request, pool, path, caller, failed, request_id)
                except _NeedLogin:
                    transaction.rollback()
                    need_login = True
                except TransactionError as exception:
                    transaction.rollback()
                    transaction.tasks.clear()
                    exception.fix(transaction_extras)
                    continue
                except _UNAVAILABLE as exception:
                    if _connection_lost(transaction):
                        # Nothing was committed: leave, and try again
                        # on another connection.
                        lost = True
                        raise
                    transaction.rollback()
                    transaction.tasks.clear()
                    if _statement_cancelled(exception):
                        response = error_response(BudgetExceeded(
                                "A database statement ran over the time "
                                "budget."), request, request_id, failed)
                        break
                    if count < _RETRY and not readonly:
                        count += 1
                        continue
                    logger.warning("Database unavailable for %s", request,
                        exc_info=True)
                    response = _unavailable()
                except Exception as exception:
                    transaction.rollback()
                    transaction.tasks.clear()
                    response = error_response(
                        exception, request, request_id, failed)
                else:
                    if response.status_code >= 400:
                        transaction.rollback()
                        transaction.tasks.clear()
                    else:
                        transaction.commit()
        except _UNAVAILABLE:
            if lost and count < _RETRY:
                count += 1
                continue
            logger.warning("Database unavailable for %s", request,
                exc_info=True)
            response = _unavailable()
            break
        if need_login:
            # Tryton's login runs its own transactions, with its
            # brute-force protection; only 'user' endpoints pay for it.
            caller = _login(request)
            continue
        while transaction.tasks:
            run_task(pool, transaction.tasks.pop())
        break
    if logs:
        _write_logs(pool, logs)
    return response


class _RequestId:
    "The id quoted in logs and errors, drawn when first shown"
    __slots__ = ('_value',)

    def __init__(self):
        self._value = None

    def __str__(self):
        if self._value is None:
            self._value = uuid.uuid4().hex[:12]
        return self._value


def _connection_lost(transaction):
    connection = transaction.connection
    return bool(getattr(connection, 'broken', False)
        or getattr(connection, 'closed', False))


def _unavailable():
    return Problem(503, "The database is busy or unavailable; "
        "try again shortly.", headers={'Retry-After': '1'}).response()


def _limit_statements(transaction, budget):
    "The snippet's budget bounds its SQL too: a context for the run"
    connection = transaction.connection
    if backend.name == 'postgresql':
        # The default budget was set when the registry version was read.
        if budget != DEFAULT_TIMEOUT:
            cursor = connection.cursor()
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                (str(max(int(budget * 1000), 1)),))
        # Each statement is bounded by statement_timeout, their number by
        # the deadline.
        return Deadline(connection, budget, _TIMEOUT)
    if hasattr(connection, 'set_progress_handler'):
        return _sqlite_deadline(connection, budget)
    return _NO_LIMIT


_NO_LIMIT = nullcontext()


@contextmanager
def _sqlite_deadline(connection, budget):
    "Interrupt a statement that runs past the deadline"
    deadline = time.monotonic() + budget
    connection.set_progress_handler(
        lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield
    finally:
        connection.set_progress_handler(None, 0)


def _statement_cancelled(exception):
    return isinstance(exception, _TIMEOUT)


def _login(request):
    try:
        user_id = request.user_id
    except (LoginException, RateLimitException):
        user_id = None
    except HTTPException as exception:
        if exception.code == 429:
            return _RATE_LIMITED
        raise
    return user_id or -1


def error_response(exception, request, request_id, failed):
    if isinstance(exception, Problem):
        return exception.response()
    if isinstance(exception, SnippetError):
        return Problem(exception.status, exception.message,
            errors=exception.errors).response()
    if isinstance(exception, AccessError):
        return Problem(403, exception.message).response()
    if isinstance(exception, (UserError, UserWarning)):
        return Problem(400, exception.message,
            **({'description': exception.description}
                if exception.description else {})).response()
    if isinstance(exception, BudgetExceeded):
        logger.warning("Endpoint over budget %s [%s]: %s",
            request, request_id, exception)
        return Problem(504, str(exception),
            request_id=str(request_id)).response()
    if isinstance(exception, HTTPException):
        return Problem(exception.code, exception.description).response()
    logger.exception("Endpoint failure %s [%s]", request, request_id)
    if failed.get('endpoint'):
        failed['logs'].append((failed['endpoint'], 'error', str(request_id),
                f"{type(exception).__name__}: {exception}"[:4000]))
    return Problem(500,
        f"Unexpected failure; quote error id {request_id} to the "
        "administrator.", error_id=str(request_id)).response()


def _serve(request, pool, path, caller, failed, request_id):
    live = live_map(pool)
    method = request.method
    if path in _DOC_PATHS or path.startswith('/docs/'):
        return _documentation(request, pool, live, path)
    if method == 'OPTIONS':
        allowed = live.allowed_methods(path)
        return Response(status=204, headers={
                'Allow': ', '.join(allowed),
                'Access-Control-Allow-Methods': ', '.join(allowed),
                })
    entry, path_params = live.match(path, method)
    definition = entry.definition
    failed['endpoint'] = definition.id

    if definition.auth == 'public':
        user_id = definition.exec_user
    elif definition.auth == 'user':
        if caller is None:
            if request.authorization is None and request.session is None:
                raise _unauthorized(definition)
            raise _NeedLogin
        if caller == _RATE_LIMITED:
            raise Problem(429, "Too many login attempts; try later.",
                headers={'Retry-After': '60'})
        if caller < 0:
            raise _unauthorized(definition)
        user_id = definition.exec_user or caller
    else:
        key = _bearer(request)
        if not key:
            raise _unauthorized(definition)
        key_user = _application_user(pool, key)
        if not key_user:
            raise _unauthorized(definition)
        user_id = definition.exec_user or key_user
    return execute(request, pool, entry, path, path_params, user_id,
        failed, request_id)


def execute(request, pool, entry, path, path_params, user_id, failed,
        request_id):
    "Run the entry's snippet for the request as user_id; the answer"
    transaction = Transaction()
    definition = entry.definition
    compiled = entry.get_compiled(compile_definition)
    method = request.method
    logs = failed['logs']
    body = _body(request, definition, compiled)
    environ = request.environ
    if compiled.query_contract is not None:
        args = compiled.query_contract.coerce(request.args)
    elif environ.get('QUERY_STRING'):
        args = _flat(request.args)
    else:
        # Werkzeug would parse the empty query string into a new MultiDict.
        args = None
    context = _context(request)

    # The request's context with access checks on: check_access() in one.
    with transaction.set_user(user_id), \
            transaction.set_context(context, _check_access=True):
        result = {}
        pool_proxy = PoolProxy()
        names = {
            'request': RequestView(
                method=method, path=path,
                args=args,
                # The view copies them and drops Authorization and Cookie.
                headers=request.headers.items(),
                json=body.json if body else None,
                data=body.data if body else b'',
                text=body.text if body else '',
                form=body.form if body else None,
                files=body.files if body else None,
                xml=body.xml if body else None,
                path_params=path_params,
                content_type=(request.mimetype or None)
                if environ.get('CONTENT_TYPE') else None),
            'pool': pool_proxy,
            'rest': RestHelper(request),
            'user': _UserFacts(user_id),
            'endpoint': entry.get_facts(_endpoint_facts),
            'context': {k: v for k, v in transaction.context.items()
                if not k.startswith('_')},
            'log': _logger(logs, definition.id, request_id),
            'result': result,
            }
        budget = definition.timeout or DEFAULT_TIMEOUT
        try:
            isolation.run(compiled, definition.code, names, budget,
                MEMORY_BUDGET, lambda: _limit_statements(transaction, budget))
        finally:
            # A snippet that caught a database failure must not get its
            # broken transaction committed.
            pool_proxy._raise_failure()
        response = _response(result, method)
        # Transaction.language, without building a Pool to find the
        # default
        language = (transaction.context.get('language')
            or pool.get('ir.configuration').get_language())
        response.headers['Content-Language'] = language.replace('_', '-')
    return response


def _endpoint_facts(definition):
    return Facts('endpoint', id=definition.id, name=definition.name,
        route=definition.route, method=definition.method)


_DOC_PATHS = frozenset({'/openapi.json', '/openapi.yaml', '/docs', '/docs/'})


def _documentation(request, pool, live, path):
    "The OpenAPI document of the live map, and its docs page"
    if request.method not in {'GET', 'HEAD'}:
        raise Problem(405, "The documentation is read-only.",
            headers={'Allow': 'GET, HEAD, OPTIONS'})
    if path in {'/docs', '/docs/'}:
        assets = 'docs/' if path == '/docs' else ''
        spec = 'openapi.json' if path == '/docs' else '../openapi.json'
        return Response(openapi.docs_page(spec, assets_url=assets),
            content_type='text/html; charset=utf-8')
    if path.startswith('/docs/'):
        asset = openapi.static_file(path[len('/docs/'):])
        if asset is None:
            raise Problem(404, f"No endpoint at {path}.")
        content, mimetype = asset
        response = Response(content, mimetype=mimetype)
        response.headers['Cache-Control'] = 'public, max-age=86400'
        return response
    server_url = request.host_url.rstrip('/') + request.script_root + (
        f'/{pool.database_name}/{PREFIX}')
    key = ('openapi', server_url)
    document = live.cache.get(key)
    if document is None:
        document = openapi.build_openapi(live.definitions,
            title=f"{pool.database_name} endpoints",
            version=str(live.version), server_url=server_url,
            rest_seed_ids={d.id for d in live.definitions
                if d.route.startswith('/rest/')})
        # Built once per registry version and host.
        live.cache[key] = document = (
            jsonenc.dumps(document), openapi.openapi_yaml(document))
    if path == '/openapi.json':
        return Response(document[0], content_type='application/json')
    return Response(document[1], content_type='application/yaml')


def _application_user(pool, key):
    """The user of a validated ``endpoint`` key of an active user, or None.

    Tryton's ``UserApplication.check`` is an ORM search that costs as much
    as a small endpoint; where no module changed it, one prepared query
    answers the same question.
    """
    UserApplication = pool.get('res.user.application')
    if UserApplication.check.__func__ is not _BASE_CHECK:
        application = UserApplication.check(key, 'endpoint')
        return application.user.id if application else None
    cursor = Transaction().connection.cursor()
    cursor.execute(_key_query(
            UserApplication._table, pool.get('res.user')._table), (key,))
    row = cursor.fetchone()
    return row[0] if row else None


@lru_cache(maxsize=4)
def _key_query(application_table, user_table):
    param = '?' if backend.name == 'sqlite' else '%s'
    return (f'SELECT a."user" FROM "{application_table}" AS a '
        f'JOIN "{user_table}" AS u ON u.id = a."user" '
        f"WHERE a.key = {param} AND a.application = 'endpoint' "
        f"AND a.state = 'validated' AND u.active LIMIT 1")


def _unauthorized(definition):
    if definition.auth == 'user':
        challenge = 'Basic realm="Tryton"'
    else:
        challenge = 'Bearer realm="Tryton"'
    return Problem(401, "Missing or invalid credentials.",
        headers={'WWW-Authenticate': challenge})


def _bearer(request):
    header = request.headers.get('Authorization', '')
    scheme, _, key = header.partition(' ')
    if scheme.lower() == 'bearer':
        return key.strip()
    return None


def _flat(multidict):
    return {k: (v[0] if len(v) == 1 else v)
        for k, v in multidict.lists()}


def _context(request):
    context = {}
    environ = request.environ
    header = environ.get('HTTP_X_TRYTON_CONTEXT')
    if header:
        try:
            context = json.loads(urlsafe_b64decode(header),
                object_hook=_json_decoder)
        except (ValueError, TypeError):
            raise Problem(400, "X-Tryton-Context is not base64 JSON.")
        if not isinstance(context, dict):
            raise Problem(400, "X-Tryton-Context must be an object.")
        # Keys with '_' are the server's own (access checks, request…).
        context = {k: v for k, v in context.items()
            if isinstance(k, str) and not k.startswith('_')}
    context.pop('user', None)
    if environ.get('HTTP_ACCEPT_LANGUAGE') and request.accept_languages:
        language = request.accept_languages.best
        if language and language != '*':
            context['language'] = language.replace('-', '_')
    return context


def _body(request, definition, compiled):
    if request.method not in BODY_METHODS:
        return None
    limit = config.getint('request',
        'max_size' if definition.auth == 'public'
        else 'max_size_authenticated')
    if definition.max_body_size:
        limit = min(limit, definition.max_body_size)
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"The body is over {limit} bytes.")
    media_type, params = parse_content_type(
        request.headers.get('Content-Type', ''))
    if not media_type_matches(media_type, compiled.media_type):
        raise Problem(415,
            f"Send the body as {compiled.media_type}.",
            headers={'Accept-Post': compiled.media_type})
    request.max_content_length = limit
    if media_type in {
            'application/x-www-form-urlencoded', 'multipart/form-data'}:
        request.max_form_memory_size = limit
        form, files = request.form, request.files
        data = b''
    else:
        form = files = None
        data = request.get_data(cache=True)
        if len(data) > limit:
            raise Problem(413, f"The body is over {limit} bytes.")
    return decode_body(data, media_type, params, form=form, files=files,
        contract=compiled.request_contract)


class _UserFacts:
    """``user`` of a snippet: read only when the snippet looks at it.

    Reading a user record is most of the cost of a small request.
    """
    __slots__ = ('__id', '__facts')

    def __init__(self, user_id):
        self.__id = user_id
        self.__facts = None

    def __load(self):
        if self.__facts is None:
            User = Pool().get('res.user')
            with without_check_access():
                values, = User.read([self.__id],
                    ['login', 'name', 'language.code'])
            language = values.get('language.') or {}
            self.__facts = Facts('user', id=self.__id,
                login=values['login'], name=values['name'],
                language=language.get('code'))
        return self.__facts

    @property
    def id(self):
        return self.__id

    def __getattr__(self, name):
        return getattr(self.__load(), name)

    def __getitem__(self, name):
        return self.__load()[name]

    def get(self, name, default=None):
        return self.__load().get(name, default)

    def to_dict(self):
        return self.__load().to_dict()


PROXY_TYPES.add(_UserFacts)


def _logger(logs, endpoint_id, request_id):
    def log(message, level='info'):
        if level not in {'debug', 'info', 'warning', 'error'}:
            raise ValueError("level is debug, info, warning or error")
        if len(logs) >= 100:
            return
        check_render(message)
        logs.append(
            (endpoint_id, level, str(request_id), str(message)[:4000]))
    return log


def _write_logs(pool, logs):
    # Written apart: a GET runs read-only, and a failed run rolls back
    # what its log explains.
    try:
        with Transaction().start(pool.database_name, 0):
            Log = pool.get('endpoint.log')
            now = dt.datetime.now()
            Log.create([{
                        'endpoint': e, 'level': lv, 'request_id': r,
                        'message': m, 'time': now}
                    for e, lv, r, m in logs])
    except Exception:
        logger.exception("Could not write endpoint logs")


def _response(result, method):
    if not isinstance(result, dict):
        raise TypeError("result must stay a dict")
    if len(result) == 1 and type(result.get('payload')) in (dict, list):
        # The common answer: a JSON payload with no status or header.
        return Response(jsonenc.dumps(check_payload(result['payload'])),
            content_type='application/json')
    response = result.get('response')
    if response is not None:
        if not isinstance(response, SnippetResponse):
            raise TypeError("result['response'] must be a Response")
        return _from_snippet_response(response)
    payload = result.get('payload')
    status = result.get('status_code', 200 if payload is not None or
        method in {'GET', 'HEAD'} else 204)
    headers = result.get('headers') or {}
    if isinstance(payload, FrozenMultiMapping):
        payload = payload.to_dict()
    if payload is None:
        payload = b''
    elif not isinstance(payload, (str, bytes, bytearray, dict, list)):
        # Numbers, booleans, decimals: a JSON scalar.
        check_payload(payload)
        payload = jsonenc.dumps(payload)
        headers = {'Content-Type': 'application/json', **headers}
    return _from_snippet_response(SnippetResponse(
            payload, status=status, headers=headers))


def _from_snippet_response(response):
    body = response.body
    content_type = response.content_type
    if isinstance(body, (dict, list, tuple)):
        check_payload(body)
        body = jsonenc.dumps(body)
        content_type = content_type or 'application/json'
    elif isinstance(body, str):
        body = body.encode('utf-8')
        content_type = content_type or 'text/plain; charset=utf-8'
    elif isinstance(body, (bytes, bytearray)):
        body = bytes(body)
        content_type = content_type or 'application/octet-stream'
    else:
        raise TypeError("The payload must be a dict, list, str or bytes.")
    if response.status == 204:
        body = b''
    answer = Response(body, status=response.status,
        content_type=content_type if body else None)
    for name, value in (response.headers or {}).items():
        answer.headers[name] = value
    return answer
