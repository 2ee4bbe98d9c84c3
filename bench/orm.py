# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The benchmark's database work, through the ORM, in a process of its own.

``python -m bench.orm <config> <database> <command> [argument]`` prints one
JSON object:

- ``init``: a user with its ``rest`` and ``endpoint`` keys, 1,000
  parties and the benchmark's custom endpoint, synced;
- ``others <n>``: creates unsynced endpoints until ``n`` others exist;
- ``sync``: syncs every endpoint and reports the time it took.
"""
import json
import sys
import time

from trytond import config

CUSTOM_CODE = """\
party, = pool.get('party.party').read(
    [request.path_params['id']], ['name', 'code'])
result['payload'] = {
    'id': party['id'], 'name': party['name'], 'code': party['code']}
"""
OTHER_CODE = "result['payload'] = {'n': %d}\n"
PARTIES = 1000


def init(pool):
    User = pool.get('res.user')
    Group = pool.get('res.group')
    UserApplication = pool.get('res.user.application')
    Endpoint = pool.get('endpoint.endpoint')
    Party = pool.get('party.party')
    groups = Group.search([('name', '=', 'Party Administration')])
    user, = User.create([{
                'login': 'bench', 'name': 'Bench',
                'groups': [('add', [g.id for g in groups])],
                }])
    keys = {}
    for application in ['rest', 'endpoint']:
        key, = UserApplication.create([{
                    'user': user.id, 'application': application,
                    'state': 'validated'}])
        keys[application] = key.key
    parties = Party.create([{'name': f'Party {i:04d}'}
            for i in range(PARTIES)])
    custom, = Endpoint.create([{
                'name': "Bench party", 'route': '/bench/party/<int:id>',
                'method': 'GET', 'auth': 'public', 'exec_user': user.id,
                'code': CUSTOM_CODE}])
    # The same endpoint under a rate limit it never reaches.
    limited, = Endpoint.create([{
                'name': "Bench party, rate-limited",
                'route': '/bench/limited/party/<int:id>', 'method': 'GET',
                'auth': 'public', 'exec_user': user.id, 'code': CUSTOM_CODE,
                'rate_limit': 10 ** 9, 'rate_period': 3600}])
    Endpoint.sync([custom, limited])
    return {'user': user.id, 'keys': keys,
        'party': parties[len(parties) // 2].id}


def others(pool, count):
    Endpoint = pool.get('endpoint.endpoint')
    User = pool.get('res.user')
    user, = User.search([('login', '=', 'bench')])
    existing = Endpoint.search_count([('route', 'like', '/other/%')])
    vlist = [{
            'name': f"Other {i}", 'route': f'/other/{i}/<int:id>',
            'method': 'GET', 'auth': 'public', 'exec_user': user.id,
            'group': 'other', 'code': OTHER_CODE % i}
        for i in range(existing, count)]
    start = time.perf_counter()
    for i in range(0, len(vlist), 1000):
        Endpoint.create(vlist[i:i + 1000])
    return {'created': len(vlist), 'seconds': time.perf_counter() - start}


def sync(pool):
    Endpoint = pool.get('endpoint.endpoint')
    count = Endpoint.search_count([])
    start = time.perf_counter()
    Endpoint.sync_all()
    return {'endpoints': count, 'start': start}


def main(conf, database, command, *args):
    config.update_etc(conf)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0) as transaction:
        if command == 'init':
            result = init(pool)
        elif command == 'others':
            result = others(pool, int(args[0]))
        elif command == 'sync':
            result = sync(pool)
        else:
            raise SystemExit(f"unknown command {command}")
        transaction.commit()
    if 'start' in result:
        # Publishing and its commit: what an admin waits for.
        result['seconds'] = time.perf_counter() - result.pop('start')
    print(json.dumps(result))


if __name__ == '__main__':
    main(*sys.argv[1:])
