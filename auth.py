# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Who a request runs as: public | user | application -> a user id;
signature and token in auth_signature.py and auth_token.py.

``user`` endpoints go through Tryton's own login, with its brute-force
protection (attempts counted in the database, refused past ``[session]
max_attempt``), in transactions of its own, outside the request's.
Tryton delays a login after failed attempts by sleeping, at the end of
the login's transaction, up to 2 ** attempts seconds: in a sync worker
that sleep holds the worker, and every other request waits.  Here the
sleep is not slept: the login is answered at once, and after a failed
one, until its delay has passed, every other login of that name in this
process is answered 429 with ``Retry-After`` without checking its
password.  So a client guesses no faster than Tryton lets it, and no
worker waits.  The delays are per process; the attempts Tryton counts
(and refuses past ``max_attempt``) are shared by every process.
"""
import contextvars
import math
import threading
import time
import weakref
from contextlib import contextmanager
from functools import lru_cache

from trytond import backend, security
from trytond.exceptions import LoginException, RateLimitException
from trytond.res.user import UserApplication as _BaseUserApplication
from trytond.transaction import Transaction

from trytond_endpoint.problem import Problem

from . import auth_signature, auth_token
from .transaction import UNAVAILABLE, unavailable

__all__ = ['LoginRequired', 'run_as', 'login', 'login_delays']

_BASE_CHECK = _BaseUserApplication.check.__func__
# Logins delayed in this process: (database, login) -> monotonic time
# until which they wait; bounded, the oldest forgotten first.
_DELAYED = {}
_DELAYED_MAX = 10_000
_delayed_lock = threading.Lock()
_collected = contextvars.ContextVar('endpoint_login_delays', default=None)
_clock = time.monotonic


# Modes of their own modules: signed webhooks, OAuth2 access tokens.
_OTHER_MODES = {
    'signature': auth_signature.run_as,
    'token': auth_token.run_as,
    }


class LoginRequired(Exception):
    "A user endpoint met credentials that only Tryton's login can check"


def run_as(definition, request, pool, caller):
    """The user id the endpoint runs as for request.

    caller: the user Tryton's login found for the request, None when no
    login was done yet (``LoginRequired`` asks for one).
    """
    if definition.auth == 'public':
        return definition.exec_user
    if definition.auth in _OTHER_MODES:
        return _OTHER_MODES[definition.auth](definition, request, pool)
    if definition.auth == 'user':
        if caller is None:
            if request.authorization is None and request.session is None:
                raise _unauthorized(definition.auth)
            raise LoginRequired
        return definition.exec_user or caller
    key = _bearer(request)
    if not key:
        raise _unauthorized(definition.auth)
    key_user = _application_user(pool, key)
    if not key_user:
        raise _unauthorized(definition.auth)
    return definition.exec_user or key_user


def login(request):
    """The user id of request's session or Basic credentials, checked by
    Tryton, in transactions of their own; raises the problem to answer
    (401, or 429 while a login of that name is delayed or too many
    failed)"""
    database_name = request.view_args['database_name']
    context = {'_request': request.context}
    session = request.session
    try:
        if session:
            user_id = security.check(database_name, session.userid,
                session.token, context=context)
        else:
            user_id = _password_login(request, database_name, context)
    except UNAVAILABLE as error:
        raise unavailable() from error
    if not user_id:
        raise _unauthorized('user')
    return user_id


def _password_login(request, database_name, context):
    authorization = request.authorization
    if not authorization or not authorization.username:
        return None
    name = (database_name, authorization.username)
    wait = _delay_left(name)
    if wait:
        raise _too_many(wait)
    parameters = getattr(authorization, 'parameters', authorization)
    with login_delays() as delays:
        try:
            # Not Request.user_id: its cached_property lock is one for
            # every request of the process.
            user_id = security.login(database_name, authorization.username,
                parameters, cache=False, context=context)
        except RateLimitException:
            raise _too_many(60)
        except LoginException:
            user_id = None
    if not user_id and delays:
        # Tryton would have answered this failure after the delay: the
        # next login of the name waits for it instead.
        _delay(name, max(delays))
    return user_id


@contextmanager
def login_delays():
    """Collect, instead of sleeping them, the delays Tryton's login asks
    for in this context (see ``res.User.get_login``)"""
    delays = []
    token = _collected.set(delays)
    try:
        yield delays
    finally:
        _collected.reset(token)


def collected_delays():
    "The list collecting login delays in this context, or None"
    return _collected.get()


def _delay_left(name):
    until = _DELAYED.get(name)
    if until is None:
        return 0
    left = until - _clock()
    if left <= 0:
        _DELAYED.pop(name, None)
        return 0
    return left


def _delay(name, seconds):
    if seconds <= 0:
        return
    with _delayed_lock:
        _DELAYED.pop(name, None)
        while len(_DELAYED) >= _DELAYED_MAX:
            del _DELAYED[next(iter(_DELAYED))]
        _DELAYED[name] = _clock() + seconds


def _too_many(seconds):
    return Problem(429, "Too many login attempts; try later.",
        headers={'Retry-After': str(max(math.ceil(seconds), 1))})


def opening_key(request, pool):
    """``(key, query)``: request's bearer key and the query of its user
    (one ``$1``), for the transaction's first read to answer along
    (:meth:`Registry.current_with`, then :func:`opened_with`); None
    when there is no key or a module checks keys its own way"""
    key = _bearer(request)
    if not key:
        return None
    UserApplication = pool.get('res.user.application')
    if UserApplication.check.__func__ is not _BASE_CHECK:
        return None
    return key, _key_query(
        UserApplication._table, pool.get('res.user')._table, '$1')


def opened_with(key, user):
    "The user of key (its text, or None), read as the transaction opened"
    _OPENED[Transaction()] = (key, None if user is None else int(user))


# transaction -> (key, user id or None), read with the transaction's first
# query: asked again, in the same transaction, it is the same answer.
_OPENED = weakref.WeakKeyDictionary()


def _application_user(pool, key):
    """The user of a validated ``endpoint`` key of an active user, or None.

    Tryton's ``UserApplication.check`` is an ORM search that costs as much
    as a small endpoint; where no module changed it, one prepared query
    answers the same question, most often read already with the
    transaction's first (see :func:`opening_key`).
    """
    UserApplication = pool.get('res.user.application')
    if UserApplication.check.__func__ is not _BASE_CHECK:
        application = UserApplication.check(key, 'endpoint')
        return application.user.id if application else None
    transaction = Transaction()
    opened = _OPENED.get(transaction)
    if opened is not None and opened[0] == key:
        return opened[1]
    param = '?' if backend.name == 'sqlite' else '%s'
    cursor = transaction.connection.cursor()
    cursor.execute(_key_query(
            UserApplication._table, pool.get('res.user')._table, param),
        (key,))
    row = cursor.fetchone()
    return row[0] if row else None


@lru_cache(maxsize=8)
def _key_query(application_table, user_table, param):
    return (f'SELECT a."user" FROM "{application_table}" AS a '
        f'JOIN "{user_table}" AS u ON u.id = a."user" '
        f"WHERE a.key = {param} AND a.application = 'endpoint' "
        f"AND a.state = 'validated' AND u.active LIMIT 1")


def _unauthorized(mode):
    if mode == 'user':
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
