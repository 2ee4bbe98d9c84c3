# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Auth mode ``signature``: a webhook signed with the endpoint's secret.

The body is read once, within the limit of an unauthenticated caller
(413 before any HMAC work), verified over its raw bytes, and only then
handed on to be parsed.  A timestamped signature is accepted once: it is
written in the request's transaction, so every worker and server sees it
(PostgreSQL makes a concurrent twin wait for the first one's commit), and
a run that fails leaves the sender free to deliver it again.
"""
import datetime as dt
import io
from functools import lru_cache

from trytond import backend, config
from trytond.model import ModelSQL, Unique, fields
from trytond.transaction import Transaction

from trytond_endpoint.http.body import INPUT_KEY, read_body
from trytond_endpoint.http.limits import body_limit
from trytond_endpoint.http.signature import (
    SignatureRefused,
    scheme_of,
    verify,
)
from trytond_endpoint.inputs import BODY_TIMEOUT, MAX_BODY_SIZE
from trytond_endpoint.problem import Problem

__all__ = ['SignatureSeen', 'run_as', 'refused']


class SignatureSeen(ModelSQL):
    "Webhook signature already accepted"
    __name__ = 'endpoint.signature.seen'

    endpoint = fields.Many2One('endpoint.endpoint', "Endpoint",
        required=True, ondelete='CASCADE')
    digest = fields.Char("Digest", required=True)
    expires = fields.Timestamp("Expires", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('endpoint_digest_unique', Unique(t, t.endpoint, t.digest),
                'endpoint.msg_signature_seen_unique'),
            ]

    @classmethod
    def clean(cls):
        "Forget the signatures whose timestamp is past every tolerance"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(
                where=table.expires < dt.datetime.now()))

    @classmethod
    def record(cls, endpoint_id, digest, expires):
        "Whether digest is new for the endpoint; it is seen from now on"
        cursor = Transaction().connection.cursor()
        cursor.execute(_insert_query(cls._table),
            (endpoint_id, digest, expires, dt.datetime.now()))
        return cursor.rowcount == 1


@lru_cache(maxsize=2)
def _insert_query(table):
    param = '?' if backend.name == 'sqlite' else '%s'
    return (f'INSERT INTO "{table}" (endpoint, digest, expires, '
        f'create_date, create_uid) VALUES ({param}, {param}, {param}, '
        f'{param}, 0) ON CONFLICT (endpoint, digest) DO NOTHING')


def refused():
    # The same answer whatever failed: a forger learns nothing from it.
    return Problem(401, "Missing or invalid signature.",
        headers={'WWW-Authenticate': 'Signature realm="Tryton"'})


def run_as(definition, request, pool):
    "The exec user of a request whose signature holds; else the problem"
    scheme = scheme_of(definition)
    environ = request.environ
    # Nobody is known before the signature is checked: the limit of a
    # public endpoint.
    limit = body_limit(True,
        tryton_public=config.getint('request', 'max_size'),
        tryton_authenticated=config.getint(
            'request', 'max_size_authenticated'),
        module=MAX_BODY_SIZE, endpoint=definition.max_body_size)
    body = environ.get(_READ)
    if body is None:
        body = environ[_READ] = read_body(
            environ, limit, timeout=BODY_TIMEOUT)
    try:
        timestamp, digest = verify(scheme, definition.signature_secret,
            request.headers, body)
    except SignatureRefused:
        raise refused() from None
    if timestamp is not None:
        expires = dt.datetime.fromtimestamp(timestamp + scheme.tolerance)
        SignatureSeen = pool.get('endpoint.signature.seen')
        if not SignatureSeen.record(definition.id, digest, expires):
            raise refused()
    _hand_on(environ, body)
    return definition.exec_user


# The body as read, for a run again of the same request (a transaction
# conflict): the client's stream is read once.
_READ = 'endpoint.signed_body'


def _hand_on(environ, body):
    "Give the parsing step the very bytes that were verified"
    environ[INPUT_KEY] = io.BytesIO(body)
    environ['CONTENT_LENGTH'] = str(len(body))
    environ.pop('HTTP_TRANSFER_ENCODING', None)
