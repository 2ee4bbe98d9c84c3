# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Tryton's WSGI application plus one hand-written route: the floor.

``gunicorn bench.floor_app:app`` serves everything
``trytond.application:app`` serves, and
``GET /<database_name>/bench/floor/party/<id>``: the least a Tryton
route can do to read one party as a user, under that user's access
rights, the way the custom endpoint of the benchmark does.

Two more routes measure what any Tryton route pays before its own work:
``/<database_name>/bench/bare`` answers 304 without a pool or a
transaction, ``/<database_name>/bench/skeleton`` answers 304 after one
``SELECT 1`` in a read-only transaction (the least a conditional GET
that asks the database whether a record changed can cost).
"""
import json
import os

from trytond.application import app
from trytond.protocols.wrappers import Response, with_pool, with_transaction
from trytond.transaction import Transaction, check_access

__all__ = ['app']
_USER = int(os.environ.get('BENCH_USER', '0'))


@app.route('/<database_name>/bench/floor/party/<int:party_id>',
    methods=['GET'])
@with_pool
@with_transaction(readonly=True)
def floor(request, pool, party_id):
    Party = pool.get('party.party')
    with Transaction().set_user(_USER), check_access():
        party, = Party.read([party_id], ['name', 'code'])
    return Response(
        json.dumps({k: party[k] for k in ['id', 'name', 'code']}),
        content_type='application/json')


@app.route('/<database_name>/bench/bare', methods=['GET'])
def bare(request, database_name):
    return Response(b'', status=304)


@app.route('/<database_name>/bench/skeleton', methods=['GET'])
@with_pool
@with_transaction(readonly=True)
def skeleton(request, pool):
    cursor = Transaction().connection.cursor()
    cursor.execute('SELECT 1')
    cursor.fetchone()
    return Response(b'', status=304)
