"""The snippet sandbox: compile once, run per request.

::

    code = compile_snippet(source)          # SnippetError with .lineno
    result = {}
    run_snippet(code, {'request': view, 'result': result, ...}, timeout=5)
    payload = check_payload(result.get('payload'))

Layers, each enough to stop the escapes the tests list:

* compile time (:mod:`.sandbox_policy`): RestrictedPython's transformer
  with a stricter policy: no import, class, global, yield, ``except*``,
  dunder or frame attribute, introspection builtin; operators that can
  allocate without bound and every loop or call site are rewritten to call
  the guards below;
* run time (:mod:`.sandbox_guards`): attribute, item, write and iteration
  guards, size limits, the per-run time budget and the reduced builtins;
* data (:mod:`.sandbox_namespaces`): namespaces in place of modules, a
  read-only request view, a validated Response and plain-data checks.
"""
from .sandbox_guards import (
    MAX_INT_BITS,
    MAX_LENGTH,
    MEMORY_BUDGET,
    RUN,
    SAFE_BUILTINS,
    BudgetExceeded,
    check_render,
    make_budget,
)
from .sandbox_namespaces import (
    SAFE_MODULES,
    FrozenMultiMapping,
    Namespace,
    RequestView,
    Response,
    UploadedFile,
    check_headers,
    check_payload,
    exceptions,
    json_dumps,
    json_loads,
)
from .sandbox_policy import SnippetError, compile_snippet

__all__ = [
    'HELP',
    'MAX_INT_BITS',
    'MAX_LENGTH',
    'MEMORY_BUDGET',
    'SAFE_MODULES',
    'BudgetExceeded',
    'FrozenMultiMapping',
    'Namespace',
    'RequestView',
    'Response',
    'SnippetError',
    'UploadedFile',
    'check_headers',
    'check_payload',
    'check_render',
    'compile_snippet',
    'exceptions',
    'json_dumps',
    'json_loads',
    'run_snippet',
    'snippet_line',
    ]

# Names every run gets besides the caller's: shared, never mutated (a
# snippet cannot reach a globals or builtins dict to change them).
_BASE_GLOBALS = {
    '__builtins__': SAFE_BUILTINS,
    '__name__': 'snippet',
    'Response': Response,
    'exceptions': exceptions,
    **SAFE_MODULES,
    }


# The names the server passes on every request: known to be valid.
_USUAL_NAMES = frozenset({
    'request', 'pool', 'rest', 'user', 'endpoint', 'context', 'log',
    'result'})


def run_snippet(code, names, timeout=5.0, memory=MEMORY_BUDGET):
    """Run compiled code with ``names`` (request, pool, result…) in scope.

    ``names['result']`` is the very dict the snippet fills (when the
    snippet rebinds ``result`` to another dict, its items are copied back).
    Exceptions raised by the snippet propagate unchanged, except an overrun
    of the time budget, of the memory budget (``memory`` bytes of growth,
    None for none), of the recursion limit or of memory, which raise
    BudgetExceeded, as does a snippet that caught its own overrun.
    """
    if not _USUAL_NAMES.issuperset(names):
        for name in names:
            if not isinstance(name, str) or name.startswith('_'):
                raise ValueError(f'Invalid snippet name {name!r}.')
    tick, state = make_budget(timeout, memory)
    scope = dict(_BASE_GLOBALS)
    scope.update(names)
    scope['_tick_'] = tick
    outer, RUN.tick = getattr(RUN, 'tick', None), tick
    try:
        # The code comes from compile_snippet, scope from the lines above.
        exec(code, scope)
    except RecursionError:
        raise BudgetExceeded('The snippet recursed too deeply.') from None
    except MemoryError:
        raise BudgetExceeded('The snippet ran out of memory.') from None
    except BudgetExceeded:
        raise
    except Exception as exception:
        if state['exceeded']:
            raise BudgetExceeded(state['exceeded']) from None
        _bound_args(exception)
        raise
    finally:
        RUN.tick = outer
    if state['exceeded']:
        raise BudgetExceeded(state['exceeded'])
    result = names.get('result')
    rebound = scope.get('result')
    if (isinstance(result, dict) and rebound is not result
            and isinstance(rebound, dict)):
        result.clear()
        result.update(rebound)


def _bound_args(exception):
    # The server logs what a snippet raised: raise ValueError([s] * 10**6)
    # would have its text built there, out of the sandbox's reach.
    try:
        for arg in exception.args:
            check_render(arg)
    except BudgetExceeded:
        exception.args = ('(a value too large to show)',)


def _entry(name, kind, description, example):
    return {
        'name': name, 'kind': kind, 'description': description,
        'example': example}


# The snippet reference: the client's "Code help" tab is built from it.
HELP = [
    _entry(
        'request', 'object',
        'The HTTP request, read-only: method, path, args (query string), '
        'headers (case-insensitive, without Authorization and Cookie), '
        'json (parsed JSON body), data (raw bytes), text, form, files '
        '(name to filename, content_type, data), path_params (values from '
        'the route), content_type. Mappings also have getlist(name).',
        "limit = int(request.args.get('limit', 10))"),
    _entry(
        'pool', 'object',
        "pool.get('model.name') gives a model proxy under the exec user's "
        'access rights: search, search_read, search_count, read, browse, '
        'create, write, delete and buttons. Administration models are '
        'refused.',
        "Party = pool.get('party.party')\n"
        "parties = Party.search_read([('name', 'ilike', '%a%')], "
        "fields_names=['name'])"),
    _entry(
        'user', 'object', 'The user the code runs as (read-only facts: id, '
        'login, name, language).', "result['payload'] = {'user': user.id}"),
    _entry(
        'endpoint', 'object', 'The endpoint being served (read-only: id, '
        'name, route, method).',
        "log('served by ' + endpoint.name)"),
    _entry(
        'context', 'dict', 'The Tryton context of the request (language, '
        'company…), read-only.', "lang = context.get('language')"),
    _entry(
        'datetime', 'namespace', 'date, datetime, time, timedelta, '
        'timezone (and UTC) from the datetime module.',
        'due = datetime.date.today() + datetime.timedelta(days=30)'),
    _entry(
        'time', 'namespace', 'time, time_ns, monotonic, perf_counter, '
        'strftime, strptime, gmtime, localtime, mktime (no sleep).',
        "stamp = time.strftime('%Y%m%d', time.gmtime())"),
    _entry(
        'json', 'namespace', 'dumps(obj, indent=None, sort_keys=False) '
        'writes dates in ISO 8601 and Decimal as exact numbers; '
        'loads(text, use_decimal=False) parses JSON.',
        "text = json.dumps({'total': Decimal('12.30')})"),
    _entry(
        'Decimal', 'class', 'decimal.Decimal, for exact amounts.',
        "total = sum((Decimal(line['amount']) for line in lines), "
        "Decimal(0))"),
    _entry(
        'hashlib', 'namespace', 'Hash constructors: md5, sha1, sha224, '
        'sha256, sha384, sha512, sha3_256, sha3_512, blake2b, blake2s and '
        'new(name, data).',
        'digest = hashlib.sha256(request.data).hexdigest()'),
    _entry(
        'hmac', 'namespace', "new(key, msg, digestmod='sha256'), "
        "digest(key, msg, 'sha256') and compare_digest(a, b), to check "
        'signed webhooks.',
        "expected = hmac.new(b'secret', request.data, 'sha256').hexdigest()"
        "\nif not hmac.compare_digest(expected, "
        "request.headers.get('X-Signature', '')):\n"
        "    raise exceptions.Forbidden('Bad signature')"),
    _entry(
        'base64', 'namespace', 'b64encode, b64decode, urlsafe_b64encode, '
        'urlsafe_b64decode, standard_b64*, b32*, b32hex*, b16*, b85*.',
        "token = base64.urlsafe_b64encode(b'data').decode()"),
    _entry(
        'Response', 'class',
        'Response(body, status=200, headers=None, content_type=None, '
        'etag=None): a complete answer; put it in result["response"]. body '
        'is text, bytes, a dict or a list; headers may not contain line '
        'breaks; a GET or HEAD whose If-None-Match names etag gets 304.',
        "result['response'] = Response('pong', content_type='text/plain')"),
    _entry(
        'exceptions', 'namespace', 'UserError (400), BadRequest (400), '
        'NotFound (404), Forbidden (403), Conflict (409): raise one to '
        'answer an application/problem+json error with its message.',
        "raise exceptions.NotFound('No such order')"),
    _entry(
        'log', 'function', "log(message, level='info') appends a line to "
        "the endpoint's log (levels: debug, info, warning, error).",
        "log('received %s lines' % len(lines))"),
    _entry(
        'result', 'dict', 'Fill it to answer: payload (dict, list, str or '
        'bytes; dict and list are answered as JSON), status_code, headers '
        '(dict of text), or response (a Response).',
        "result['payload'] = {'ok': True}\nresult['status_code'] = 201"),
    ]


def snippet_line(exception):
    "The line of the snippet where exception was raised, or None"
    line = None
    traceback = exception.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == '<endpoint>':
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
