# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Rate limits per endpoint: headers, 429, callers counted apart, and on
PostgreSQL one limit held by two server processes."""
import http.client
import json
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import pytest
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint.http.headers import Quota, quota_headers

from .pgcluster import Cluster
from .test_multiprocess import BACKEND, Rpc, Server, build, only_postgresql
from .tools import EndpointRouteTestCase, basic, bearer, define, make_key

PROBLEM = 'application/problem+json'


def remaining(response_headers):
    "r of the RateLimit header"
    value = response_headers['RateLimit']
    return int(dict(p.split('=') for p in value.split(';')[1:])['r'])


class RateLimitTestCase(EndpointRouteTestCase):
    "Rate limits through Tryton's application (SQLite and PostgreSQL)"

    def public(self, route, code="result['payload'] = {'ok': 1}", **values):
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.web_user)
        return define(route=route, code=code, **values)

    def test_public_limit(self):
        "Headers on every answer, 429 problem+json with Retry-After past it"
        self.public('/limited', rate_limit=3, rate_period=3600)
        client = self.client()
        for left in [2, 1, 0]:
            response = client.get(self.url('/limited'))
            self.assertEqual(response.status_code, 200, response.data)
            self.assertEqual(response.headers['RateLimit-Policy'],
                '"endpoint";q=3;w=3600')
            self.assertEqual(remaining(response.headers), left)
        response = client.get(self.url('/limited'))
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.mimetype, PROBLEM)
        body = json.loads(response.data)
        self.assertEqual(body['status'], 429)
        retry = int(response.headers['Retry-After'])
        self.assertTrue(1 <= retry <= 3600, retry)
        self.assertEqual(remaining(response.headers), 0)
        # Another endpoint has its own count, or none.
        self.public('/unlimited')
        response = client.get(self.url('/unlimited'))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn('RateLimit', response.headers)
        self.assertNotIn('RateLimit-Policy', response.headers)

    def test_forwarded_for_ignored(self):
        "Without [web] num_proxies, X-Forwarded-For is no other client"
        self.public('/spoofed', rate_limit=1, rate_period=3600)
        client = self.client()
        self.assertEqual(client.get(self.url('/spoofed'),
                headers={'X-Forwarded-For': '10.0.0.1'}).status_code, 200)
        self.assertEqual(client.get(self.url('/spoofed'),
                headers={'X-Forwarded-For': '10.0.0.2'}).status_code, 429)
        # Another address is another caller.
        response = client.get(self.url('/spoofed'),
            environ_base={'REMOTE_ADDR': '192.0.2.7'})
        self.assertEqual(response.status_code, 200)

    def test_per_key(self):
        "Application keys are counted apart; the refused keep no quota"
        define(route='/keyed', code="result['payload'] = [user.id]",
            rate_limit=1, rate_period=3600)
        with Transaction().start(DB_NAME, 0) as transaction:
            other = make_key(Pool().get('res.user')(self.alice))
            transaction.commit()
        client = self.client()
        for key in [self.alice_key, other]:
            response = client.get(self.url('/keyed'), headers=bearer(key))
            self.assertEqual(response.status_code, 200, response.data)
            self.assertEqual(client.get(self.url('/keyed'),
                    headers=bearer(key)).status_code, 429)
        # A bad key is refused before it is counted.
        response = client.get(self.url('/keyed'), headers=bearer('nope'))
        self.assertEqual(response.status_code, 401)
        self.assertNotIn('RateLimit', response.headers)

    def test_per_user(self):
        "User endpoints are counted per login"
        define(route='/users', auth='user',
            code="result['payload'] = [user.login]",
            rate_limit=2, rate_period=3600)
        client = self.client()
        for _ in range(2):
            self.assertEqual(client.get(self.url('/users'),
                    headers=basic('alice')).status_code, 200)
        self.assertEqual(client.get(self.url('/users'),
                headers=basic('alice')).status_code, 429)
        self.assertEqual(client.get(self.url('/users'),
                headers=basic('web')).status_code, 200)

    def test_window_ends(self):
        "The count starts again with the next window"
        self.public('/windowed', rate_limit=1, rate_period=1)
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            first = client.get(self.url('/windowed'))
            if first.status_code == 200:
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(float(first.headers['Retry-After']) / 4)
        second = client.get(self.url('/windowed'))
        if second.status_code == 429:
            # Retry-After is whole seconds: here the window's one.
            self.assertEqual(second.headers['Retry-After'], '1')
            time.sleep(1.05)
            self.assertEqual(client.get(
                    self.url('/windowed')).status_code, 200)

    def test_failed_requests_count(self):
        "A request that fails still counts"
        self.public('/failing', "raise exceptions.Conflict('no')",
            rate_limit=1, rate_period=3600)
        client = self.client()
        self.assertEqual(client.get(self.url('/failing')).status_code, 409)
        self.assertEqual(client.get(self.url('/failing')).status_code, 429)

    def test_openapi(self):
        "The document declares the headers and 429 of a limited endpoint"
        self.public('/doc-limited', rate_limit=5, rate_period=60)
        doc = json.loads(self.client().get(self.url('/openapi.json')).data)
        responses = doc['paths']['/doc-limited']['get']['responses']
        self.assertEqual(responses['429'],
            {'$ref': '#/components/responses/TooManyRequests'})
        self.assertIn('RateLimit', responses['200']['headers'])
        self.assertIn('Retry-After',
            doc['components']['responses']['TooManyRequests']['headers'])

    def test_clean(self):
        "The cron deletes ended windows only"
        self.public('/cleaned', rate_limit=5, rate_period=3600)
        self.client().get(self.url('/cleaned'))
        with Transaction().start(DB_NAME, 0) as transaction:
            RateLimit = Pool().get('endpoint.rate_limit')
            table = RateLimit.__table__()
            cursor = transaction.connection.cursor()
            RateLimit.clean()
            cursor.execute(*table.select(table.id))
            kept = len(cursor.fetchall())
            transaction.rollback()
        # On SQLite the windows are kept in the process, not in the table.
        self.assertEqual(kept, 1 if BACKEND == 'postgresql' else 0)


class QuotaTestCase(unittest.TestCase):
    def test_headers(self):
        quota = Quota(limit=10, period=60, hits=12, reset=7.2)
        self.assertTrue(quota.exceeded)
        self.assertEqual(quota.retry_after, 8)
        self.assertEqual(quota_headers(quota), {
                'RateLimit-Policy': '"endpoint";q=10;w=60',
                'RateLimit': '"endpoint";r=0;t=8'})


def _get(port, path, headers=None, timeout=30):
    connection = http.client.HTTPConnection('127.0.0.1', port,
        timeout=timeout)
    try:
        connection.request('GET', path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.fixture(scope='module')
def two_servers():
    "Two gunicorn servers on one PostgreSQL database; b behind a proxy"
    folder = tempfile.mkdtemp(prefix='endpoint-rl-')
    servers = []
    cluster = Cluster().start()
    try:
        database = 'ratelimit'
        subprocess.run(cluster._cmd('createdb', '-h', '127.0.0.1',
                '-p', str(cluster.port), '-U', 'postgres', database),
            check=True, capture_output=True)
        conf = build(folder, cluster.uri, database)
        proxied = Path(folder) / 'proxied.conf'
        proxied.write_text(conf.read_text() + '\n[web]\nnum_proxies = 1\n')
        servers = [Server(folder, conf, database, 2, 'a'),
            Server(folder, proxied, database, 1, 'b')]
        for server in servers:
            server.wait_ready()
        yield cluster, servers, Rpc(servers[0].port, database)
    finally:
        for server in servers:
            server.stop()
            print(f"== {server.log.name}", server.log.read_text()[-4000:])
        cluster.__exit__(None, None, None)
        shutil.rmtree(folder, ignore_errors=True)


@only_postgresql
def test_limit_held_across_processes(two_servers):
    "Concurrent requests to two servers: exactly the limit is served"
    _, (a, b), rpc = two_servers
    id_ = rpc.create(route='/rl/shared', code="result['payload'] = 1",
        rate_limit=20, rate_period=3600)
    rpc.sync([id_])
    path = f'/{a.database}/api/rl/shared'
    statuses = []

    def hammer(server):
        for _ in range(10):
            # b trusts one proxy: the same forwarded client as a's.
            statuses.append(_get(server.port, path,
                    {'X-Forwarded-For': '127.0.0.1'})[0])
    threads = [threading.Thread(target=hammer, args=(s,))
        for s in [a, a, b, b]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] * 20 + [429] * 20, statuses
    status, headers, _ = _get(b.port, path)
    assert status == 429
    assert int(headers['Retry-After']) >= 1


@only_postgresql
def test_forwarded_for_behind_proxy(two_servers):
    "With [web] num_proxies, each forwarded client has its own count"
    _, (a, b), rpc = two_servers
    id_ = rpc.create(route='/rl/proxied', code="result['payload'] = 1",
        rate_limit=1, rate_period=3600)
    rpc.sync([id_])
    path = f'/{a.database}/api/rl/proxied'
    for client in ['198.51.100.1', '198.51.100.2']:
        headers = {'X-Forwarded-For': client}
        assert _get(b.port, path, headers)[0] == 200
        assert _get(b.port, path, headers)[0] == 429
    # a trusts no proxy: the header changes nothing there.
    assert _get(a.port, path, {'X-Forwarded-For': '198.51.100.3'})[0] == 200
    assert _get(a.port, path, {'X-Forwarded-For': '198.51.100.4'})[0] == 429


@only_postgresql
def test_counter_outage_is_no_429(two_servers):
    "A counter that can not count lets requests through, never 429"
    import psycopg
    cluster, (a, _), rpc = two_servers
    id_ = rpc.create(route='/rl/outage', code="result['payload'] = 1",
        rate_limit=1, rate_period=3600)
    rpc.sync([id_])
    path = f'/{a.database}/api/rl/outage'
    assert _get(a.port, path)[0] == 200
    with psycopg.connect(cluster.uri + a.database) as locker:
        # The caller's counter row, locked: the count waits on it past its
        # time budget. (A table lock would also hold a session's first
        # PREPARE of the count, which no statement timeout bounds.)
        assert locker.execute('SELECT 1 FROM "endpoint_rate_limit" '
            'WHERE "endpoint" = %s FOR UPDATE', (id_,)).fetchall()
        for _ in range(3):
            status, headers, _ = _get(a.port, path)
            assert status == 200
            assert 'RateLimit' not in headers
        locker.rollback()
    assert _get(a.port, path)[0] == 429


@only_postgresql
def test_table_lock_bounds_first_count(two_servers):
    "A session's first count (its PREPARE) waits on a lock no longer"
    import psycopg
    cluster, (a, _), rpc = two_servers
    id_ = rpc.create(route='/rl/first', code="result['payload'] = 1",
        rate_limit=10 ** 6, rate_period=3600)
    plain = rpc.create(route='/rl/plain', code="result['payload'] = 1")
    rpc.sync([id_, plain])
    path = f'/{a.database}/api/rl/first'
    with psycopg.connect(cluster.uri + a.database, autocommit=True) as admin:
        # New sessions for the server: none has prepared the count yet.
        admin.execute('SELECT pg_terminate_backend(pid, 5000) '
            'FROM pg_stat_activity WHERE datname = %s '
            'AND pid <> pg_backend_pid()', (a.database,))
    for _ in range(4):
        # Connections made again, without a count on them.
        _get(a.port, f'/{a.database}/api/rl/plain')
    with psycopg.connect(cluster.uri + a.database) as locker:
        locker.execute('LOCK TABLE "endpoint_rate_limit" '
            'IN ACCESS EXCLUSIVE MODE')
        for _ in range(3):
            # The lock is held for the whole loop: a count that waited
            # for it would time the socket out.
            status, headers, _ = _get(a.port, path, timeout=10)
            assert status == 200
            assert 'RateLimit' not in headers
        locker.rollback()
    status, headers, _ = _get(a.port, path)
    assert status == 200 and 'RateLimit' in headers
