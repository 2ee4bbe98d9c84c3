# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""One endpoint request, top to bottom.

::

    routes.mount            the one mount route
    serve                   the request's facts; its log lines, written after
    _with_login             Tryton's login, outside the transaction, when
                            a user endpoint asks for it
    _dispatch               @transactional: retries, commit, rollback, 503
      live_map              registry version and map
      _own_answer           documentation, OPTIONS
      match                 the endpoint of the path and method (404, 405)
      auth.run_as           public | user | application -> user id
      execute               body and query, run, answer
    error_response          what failed, as problem+json

Each step is a function of its own; HTTP work that needs no ORM is in the
engine (``trytond_endpoint``: inputs, answers, documentation), the
transaction loop in ``transaction.py``, credentials in ``auth.py``.
"""
import datetime as dt
import logging
import time
from contextlib import contextmanager
from urllib.parse import quote

from trytond import config
from trytond.exceptions import UserError, UserWarning
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access
from werkzeug.exceptions import HTTPException

from trytond_endpoint.answers import _response, options
from trytond_endpoint.documentation import documentation, is_documentation
from trytond_endpoint.http import request_id as request_ids
from trytond_endpoint.http.conditional import not_modified
from trytond_endpoint.inputs import _body, _context, query_args
from trytond_endpoint.problem import Problem
from trytond_endpoint.routing import MapCache
from trytond_endpoint.sandbox import (
    BudgetExceeded,
    RequestView,
    check_render,
    snippet_line,
)
from trytond_endpoint.sandbox_guards import PROXY_TYPES
from trytond_endpoint.sandbox_namespaces import Facts
from trytond_endpoint.sandbox_namespaces import UserError as SnippetError

from . import (
    auth,
    cors,
    http_answer,
    idempotency,
    isolation,
    metrics,
    policy,
    ratelimit,
    spreadsheet,
    stats,
)
from .endpoint import UNKNOWN
from .rest import RestHelper
from .rest_seed import compile_served
from .snippet_pool import PoolProxy
from .transaction import DEFAULT_TIMEOUT, limit_statements, transactional

__all__ = ['serve', 'execute', 'error_response', 'live_map', 'PREFIX']

logger = logging.getLogger(__name__)
MAPS = MapCache()
READONLY_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})
_DEFAULT_TIMEOUT_MS = max(int(DEFAULT_TIMEOUT * 1000), 1)
# Megabytes a run may grow the worker by; 0: no bound.
MEMORY_BUDGET = (config.getint('endpoint', 'memory_budget', default=512)
    * 2 ** 20) or None
PREFIX = config.get('endpoint', 'prefix', default='api').strip('/')


def serve(request, pool, path):
    "The answer to request for path, under the mount of pool's database"
    call = Call(request, pool, path)
    idempotency.serving(request)
    try:
        response = _with_login(call)
    except Exception as exception:
        response = error_response(
            exception, request, call.request_id, call.logs, call.endpoint)
    idempotency.release(request, pool, response)
    http_answer.finish(call, response)
    if call.endpoint is not None and stats.ENABLED:
        stats.record(pool.database_name, call.endpoint,
            response.status_code, time.perf_counter() - call.start)
    if call.logs:
        if response.status_code == 503:
            # The database just failed: written later, by another thread.
            stats.defer_logs(pool.database_name, call.logs)
        else:
            _write_logs(pool, call.logs)
    return response


class Call:
    "What the steps of one request share"
    __slots__ = ('request', 'pool', 'path', 'readonly', 'context',
        'request_id', 'logs', 'endpoint', 'caller', 'start',
        'definition', 'origin', 'rate')

    def __init__(self, request, pool, path):
        self.request = request
        self.pool = pool
        self.path = path
        self.readonly = request.method in READONLY_METHODS
        self.context = {'_request': request.context}
        self.start = time.perf_counter()
        # The mount's middleware gave it (see routes.py).
        self.request_id = RequestId(
            request.environ.get(request_ids.ENVIRON_KEY))
        # Lines for the endpoint log: (endpoint id, level, request id, text)
        self.logs = []
        # The matched endpoint's id, for the log line of a failure
        self.endpoint = None
        # The user id Tryton's login found, once asked
        self.caller = None
        # The matched definition, an origin only it may allow, and the
        # caller's rate limit quota once counted (False: not known)
        self.definition = None
        self.origin = cors.origin(request)
        self.rate = None


def _with_login(call):
    "The answer, after Tryton's login when the endpoint needs one"
    try:
        return _dispatch(call)
    except auth.LoginRequired:
        # Tryton's login runs its own transactions, with its brute-force
        # protection; only 'user' endpoints pay for it.
        call.caller = auth.login(call.request)
        return _dispatch(call)


@transactional
def _dispatch(call):
    "The answer of the mount or of the endpoint the path matches"
    live = live_map(call.pool, call.request)
    own = _own_answer(call, live)
    if own is not None:
        return own
    entry, path_params = live.match(call.path, call.request.method)
    definition = entry.definition
    call.endpoint = definition.id
    call.definition = definition
    cors.check(call)
    user_id = auth.run_as(definition, call.request, call.pool, call.caller)
    ratelimit.check(call, user_id)
    return execute(call.request, call.pool, entry, call.path, path_params,
        user_id, call.logs, call.request_id)


def live_map(pool, request=None):
    """The map of the registry version seen by the current transaction.

    The default time budget bounds the transaction's statements from the
    same round trip on PostgreSQL, which also reads the user of request's
    key, if it has one.
    """
    Registry = pool.get('endpoint.registry')
    opening = auth.opening_key(request, pool) if request else None
    if opening is None:
        version = Registry.current(statement_timeout=_DEFAULT_TIMEOUT_MS)
    else:
        key, query = opening
        version, user = Registry.current_with(_DEFAULT_TIMEOUT_MS, query,
            key)
        if user is not UNKNOWN:
            auth.opened_with(key, user)
    Endpoint = pool.get('endpoint.endpoint')
    return MAPS.get(pool.database_name, version,
        Endpoint.published_definitions)


def _own_answer(call, live):
    "The answers of the mount itself, or None: documentation and OPTIONS"
    if call.request.method == 'OPTIONS':
        answer = cors.preflight(call, live)
        if answer is not None:
            return answer
    if is_documentation(call.path):
        if call.origin is not None:
            # The mount's own answers are for the origins Tryton allows.
            raise cors.refuse()
        return documentation(call.request, call.pool.database_name, PREFIX,
            live, call.path)
    if call.request.method == 'OPTIONS':
        return options(live, call.path)
    if call.path == metrics.PATH:
        return metrics.answer(call.request, call.pool)
    return None


def execute(request, pool, entry, path, path_params, user_id, logs,
        request_id):
    "Run the entry's snippet for the request as user_id; the answer"
    transaction = Transaction()
    definition = entry.definition
    compiled = entry.get_compiled(compile_served)
    method = request.method
    body = _body(request, definition, compiled)
    args = query_args(request, compiled)
    context = _context(request)
    replay = idempotency.claim(request, definition, user_id)
    if replay is not None:
        return replay

    # The request's context with access checks on: check_access() in one.
    with transaction.set_user(user_id), \
            transaction.set_context(context, _check_access=True):
        result = {}
        pool_proxy = PoolProxy()
        # Only the names the snippet writes: it can reach no other.
        reads = compiled.names
        names = {'result': result, 'pool': pool_proxy}
        if 'request' in reads:
            names['request'] = _request_view(request, path, path_params,
                args, body, compiled.attributes)
        if 'rest' in reads:
            names['rest'] = RestHelper(request)
        if 'user' in reads:
            names['user'] = _UserFacts(user_id)
        if 'endpoint' in reads:
            names['endpoint'] = entry.get_facts(_endpoint_facts)
        if 'context' in reads:
            names['context'] = {k: v for k, v in transaction.context.items()
                if not k.startswith('_')}
        if 'log' in reads:
            names['log'] = _logger(logs, definition.id, request_id)
        budget = policy.time_budget(definition.timeout, DEFAULT_TIMEOUT)
        try:
            isolation.run(compiled, definition.code, names, budget,
                MEMORY_BUDGET, lambda: _run_limits(transaction, budget))
        finally:
            # A snippet that caught a database failure must not get its
            # broken transaction committed.
            pool_proxy._raise_failure()
        response = spreadsheet.answer(request, path, result,
            lambda: _mount(request, pool), definition.name) or _response(
            result, method, lambda: _mount(request, pool))
        response.headers['Content-Language'] = _language(transaction, pool)
    idempotency.keep(request, response)
    return not_modified(request.environ, method, response)


def _request_view(request, path, path_params, args, body, attributes):
    """The snippet's request: of its parts, those whose name the snippet
    writes (the method and path always: the view's text shows them)"""
    parts = {'method': request.method, 'path': path}
    if 'args' in attributes:
        parts['args'] = args
    if 'headers' in attributes:
        # The view copies them and drops Authorization and Cookie.
        parts['headers'] = request.headers.items()
    if 'path_params' in attributes:
        parts['path_params'] = path_params
    if 'content_type' in attributes and request.environ.get('CONTENT_TYPE'):
        parts['content_type'] = request.mimetype or None
    if body:
        for name in _BODY_PARTS & attributes:
            parts[name] = getattr(body, name)
        if 'xml' in parts:
            # A sandbox process parses the body again for its own tree.
            parts['data'] = body.data
    return RequestView(**parts)


_BODY_PARTS = frozenset({'json', 'data', 'text', 'form', 'files', 'xml'})


@contextmanager
def _run_limits(transaction, budget):
    "What bounds a run's SQL: its deadline, and no write in a GET"
    with limit_statements(transaction, budget), \
            policy.read_only(transaction):
        yield


def _mount(request, pool):
    "The database's mount path, as a client's cookie path sees it"
    return (f"{request.script_root}/"
        f"{quote(pool.database_name, safe=_PATH_SAFE)}/{PREFIX}")


_PATH_SAFE = "!$&'()*+,;=:@"


def _language(transaction, pool):
    # Transaction.language, without building a Pool to find the default
    language = (transaction.context.get('language')
        or pool.get('ir.configuration').get_language())
    return language.replace('_', '-')


def _endpoint_facts(definition):
    return Facts('endpoint', id=definition.id, name=definition.name,
        route=definition.route, method=definition.method)


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


def error_response(exception, request, request_id, logs, endpoint=None):
    """The answer to exception, raised while serving request; an
    unexpected one is logged, and noted in logs for endpoint"""
    if isinstance(exception, Problem):
        if exception.status >= 500:
            exception.extra.setdefault('request_id', str(request_id))
            _log_failure(logs, endpoint, request_id, request,
                f"{exception.status} {exception.title}: {exception.detail}")
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
        logger.warning("Endpoint over budget %s: %s", request, exception)
        # The admin handed the id finds it in the endpoint's log too.
        _log_failure(logs, endpoint, request_id, request,
            f"504 Gateway Timeout: {exception}")
        return Problem(504, str(exception),
            request_id=str(request_id)).response()
    if isinstance(exception, HTTPException):
        return Problem(exception.code, exception.description).response()
    logger.exception("Endpoint failure %s", request)
    # Set by the sandbox process; inline, read from the traceback.
    line = getattr(exception, 'snippet_line', None) or snippet_line(
        exception)
    _log_failure(logs, endpoint, request_id, request,
        (f"Line {line}: " if line else '')
        + f"{type(exception).__name__}: {exception}")
    return Problem(500,
        f"Unexpected failure; quote error id {request_id} to the "
        "administrator.", error_id=str(request_id),
        request_id=str(request_id)).response()


def _log_failure(logs, endpoint, request_id, request, text):
    "Note a failure for the endpoint log; the mount's own under no endpoint"
    if endpoint is None:
        text = f"{request.method} {request.path}: {text}"
    logs.append((endpoint, 'error', str(request_id), text[:4000]))


class RequestId:
    "The id quoted in logs and errors: the mount's, else drawn when shown"
    __slots__ = ('_value',)

    def __init__(self, value=None):
        self._value = value

    def __str__(self):
        if self._value is None:
            self._value = request_ids.draw()
        return self._value
