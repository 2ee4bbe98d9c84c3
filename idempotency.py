# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""``Idempotency-Key`` (IETF httpapi draft) on endpoints with
``idempotent`` set: the first request runs, its answer is kept
``[endpoint] idempotency_ttl`` seconds (24 h) and replayed to the same
key and request.

Two kinds of rows, one table, unique by endpoint, caller, key and kind:

- a *claim*, written and committed before the run in a transaction of its
  own, so that every worker and server sees at once that the key is
  running (``409``);
- the *answer*, written by the run's own transaction: it is committed
  with what the run did, or not at all.

A failed run (an answer of 400 or more: the transaction was rolled back)
gives its claim up, so the request may be sent again. A claim whose
worker died is taken over once its lease (the run's time budget and a
margin) is over. On SQLite, whose writing transactions run one at a time,
the claim is written in the run's transaction: a second request waits for
the first and replays its answer.
"""
import datetime as dt
import hashlib
import json

from sql import Literal
from trytond import backend, config
from trytond.model import ModelSQL, Unique, fields
from trytond.pool import Pool
from trytond.transaction import Transaction
from werkzeug.wrappers import Response

from trytond_endpoint.problem import Problem

from . import policy
from .transaction import DEFAULT_TIMEOUT

__all__ = ['Idempotency', 'serving', 'claim', 'keep', 'release', 'TTL']

# Seconds an answer is replayed for.
TTL = config.getint('endpoint', 'idempotency_ttl', default=24 * 60 * 60)
# Seconds past the run's time budget after which a claim is abandoned.
LEASE_MARGIN = 60
METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
# The request's environ keeps this request's own claim across the
# transaction's retries: (row id, or None on SQLite, for release).
_CLAIM = 'endpoint.idempotency'
_FACTS = 'endpoint.idempotency.facts'
_SERVING = 'endpoint.idempotency.serving'
_REPLAYED = 'endpoint.idempotency.replayed'
_UNKEPT_HEADERS = frozenset({'content-length', 'transfer-encoding'})


class Idempotency(ModelSQL):
    "Idempotency Key"
    __name__ = 'endpoint.idempotency'

    endpoint = fields.Many2One('endpoint.endpoint', "Endpoint",
        required=True, ondelete='CASCADE')
    caller = fields.Char("Caller", required=True,
        help="A digest of the user and the credentials that sent the key.")
    key = fields.Char("Key", required=True)
    answered = fields.Boolean("Answered")
    fingerprint = fields.Char("Fingerprint", required=True)
    status = fields.Integer("Status")
    headers = fields.Text("Headers")
    body = fields.Binary("Body")
    lease = fields.Timestamp("Lease")
    expires = fields.Timestamp("Expires", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('key_unique', Unique(t, t.endpoint, t.caller, t.key, t.answered),
                'endpoint.msg_idempotency_key_unique'),
            ]

    @classmethod
    def clean(cls, now=None):
        "Forget the keys past their time (cron)"
        now = now or _now()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.expires <= now))


def serving(request):
    """Mark request as one the mount serves: the Test wizard's runs, always
    rolled back, neither claim nor replay keys."""
    request.environ[_SERVING] = True


def claim(request, definition, user_id):
    """None to run the request, or the answer to replay; raises the
    problem to answer (400 bad key, 409 still running, 422 another
    request under the key)."""
    environ = request.environ
    header = environ.get('HTTP_IDEMPOTENCY_KEY')
    if (header is None or not definition.idempotent
            or request.method not in METHODS or _SERVING not in environ):
        return None
    if environ.get(_CLAIM) is not None:
        # The transaction runs again: the claim, committed, is this
        # request's.
        return None
    key = _key(header)
    caller = _digest(user_id, environ.get('HTTP_AUTHORIZATION', ''))
    fingerprint = _digest(request.method, request.script_root,
        request.path, environ.get('QUERY_STRING', ''),
        environ.get('CONTENT_TYPE', ''), request.get_data(cache=True))
    budget = policy.time_budget(definition.timeout, DEFAULT_TIMEOUT)
    facts = (definition.id, caller, key, fingerprint, budget)
    environ[_FACTS] = facts[:4]
    if backend.name == 'sqlite':
        answer = _claim(*facts)
        if answer is None:
            environ[_CLAIM] = None
        return _replay(environ, answer)
    # At most three rounds: a claim that another request takes while this
    # one looks is seen, at the next round, as running.
    for _ in range(3):
        try:
            with Transaction().new_transaction() as transaction:
                answer = _claim(*facts)
                transaction.commit()
        except backend.DatabaseIntegrityError:
            continue
        if answer is None:
            environ[_CLAIM] = (definition.id, caller, key)
        return _replay(environ, answer)
    raise _running()


def keep(request, response):
    "Write the answer of a claimed request, in the run's transaction"
    environ = request.environ
    if _CLAIM not in environ or environ.get(_REPLAYED) \
            or response.status_code >= 400:
        return
    endpoint, caller, key, fingerprint = environ[_FACTS]
    headers = [(n, v) for n, v in response.headers.items()
        if n.lower() not in _UNKEPT_HEADERS]
    table = Pool().get('endpoint.idempotency').__table__()
    cursor = Transaction().connection.cursor()
    now = _now()
    cursor.execute(*table.insert([
                table.create_uid, table.create_date, table.endpoint,
                table.caller, table.key, table.answered, table.fingerprint,
                table.status, table.headers, table.body, table.expires], [[
                    0, now, endpoint, caller, key, Literal(True),
                    fingerprint, response.status_code, json.dumps(headers),
                    response.get_data(),
                    now + dt.timedelta(seconds=TTL)]]))


def release(request, pool, response):
    """Give up the claim of a request whose run was rolled back, so that
    it may be sent again"""
    claimed = request.environ.get(_CLAIM)
    if claimed is None or response.status_code < 400:
        return
    endpoint, caller, key = claimed
    try:
        with Transaction().start(pool.database_name, 0) as transaction:
            table = pool.get('endpoint.idempotency').__table__()
            cursor = transaction.connection.cursor()
            cursor.execute(*table.delete(where=(table.endpoint == endpoint)
                    & (table.caller == caller) & (table.key == key)
                    & (table.answered == Literal(False))))
            transaction.commit()
    except Exception:
        # Its lease ends it anyway.
        pass


def _claim(endpoint, caller, key, fingerprint, budget):
    """The answer kept for the key, or None once the key is claimed for
    this request; raises 409 or 422"""
    Idempotency = Pool().get('endpoint.idempotency')
    table = Idempotency.__table__()
    cursor = Transaction().connection.cursor()
    where = ((table.endpoint == endpoint) & (table.caller == caller)
        & (table.key == key))
    now = _now()
    cursor.execute(*table.select(table.id, table.answered, table.fingerprint,
            table.status, table.headers, table.body, table.lease,
            table.expires, where=where))
    rows = cursor.fetchall()
    gone = [r[0] for r in rows if _timestamp(r[7]) <= now or (
            not r[1] and _timestamp(r[6]) <= now)]
    if gone:
        cursor.execute(*table.delete(where=table.id.in_(gone)))
    rows = [r for r in rows if r[0] not in gone]
    for row in sorted(rows, key=lambda r: not r[1]):
        _, answered, kept_fingerprint, status, headers, body = row[:6]
        if kept_fingerprint != fingerprint:
            raise Problem(422, "This Idempotency-Key was sent with another "
                "request: use a new key for a new request.")
        if answered:
            return status, json.loads(headers), bytes(body or b'')
        raise _running()
    cursor.execute(*table.insert([
                table.create_uid, table.create_date, table.endpoint,
                table.caller, table.key, table.answered, table.fingerprint,
                table.lease, table.expires], [[
                    0, now, endpoint, caller, key, Literal(False),
                    fingerprint,
                    now + dt.timedelta(seconds=budget + LEASE_MARGIN),
                    now + dt.timedelta(seconds=TTL)]]))
    return None


def _replay(environ, answer):
    if answer is None:
        return None
    status, headers, body = answer
    environ[_REPLAYED] = True
    response = Response(body, status=status)
    response.headers.clear()
    for name, value in headers:
        response.headers.add(name, value)
    response.headers['Idempotent-Replayed'] = 'true'
    return response


def _running():
    return Problem(409, "A request with this Idempotency-Key is still "
        "running: ask again once it is answered.",
        headers={'Retry-After': '1'})


def _key(header):
    "The key of the header: an sf-string or its bare text"
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= 255 or any(
            not 0x20 <= ord(c) <= 0x7e or c in '"\\' for c in key):
        raise Problem(400, "Idempotency-Key must be 1 to 255 printable "
            "ASCII characters, without quotes or backslashes.",
            errors=[{'header': 'Idempotency-Key',
                    'detail': "Not a valid key."}])
    return key


def _digest(*parts):
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        if not isinstance(part, (bytes, bytearray)):
            part = str(part).encode('utf-8', 'surrogateescape')
        digest.update(len(part).to_bytes(8, 'big'))
        digest.update(part)
    return digest.hexdigest()


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _timestamp(value):
    # SQLite gives the text of the timestamp.
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value
