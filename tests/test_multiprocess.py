# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Real server processes serving one registry.

Each backend gets its own database, built with ``trytond-admin`` in a
temporary folder (SQLite file) or in a PostgreSQL cluster made for this
module, and served by gunicorn processes running
``trytond.application:app``. Endpoints are created, changed, archived,
synced and deleted through Tryton's JSON-RPC, as the desktop client does,
and read back over HTTP from other processes and workers.
"""
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from .pgcluster import Cluster, clean_env, free_port

BIN = Path(sys.executable).parent
GUNICORN_CONF = Path(__file__).resolve().parent.parent / 'gunicorn.conf.py'
PASSWORD = 'admin-Secret-42'
PROBLEM = 'application/problem+json'
BACKEND = ('postgresql'
    if os.environ.get('ENDPOINT_TEST_BACKEND') == 'postgresql'
    or os.environ.get('TRYTOND_DATABASE__URI', '').startswith('postgres')
    else 'sqlite')

only_sqlite = pytest.mark.skipif(
    BACKEND != 'sqlite', reason="runs in the SQLite pass")
only_postgresql = pytest.mark.skipif(
    BACKEND != 'postgresql', reason="runs in the PostgreSQL pass")




def fetch(port, path, method='GET', body=None, headers=None, timeout=10):
    "One request on its own connection: (status, headers, body)"
    connection = http.client.HTTPConnection('127.0.0.1', port,
        timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def version_of(body):
    return json.loads(body)['v']


def snippet(version):
    return f"result['payload'] = {{'v': {version}}}\n"


class Rpc:
    "Tryton JSON-RPC as the admin, the way the client edits endpoints"

    def __init__(self, port, database):
        self.port = port
        self.database = database
        self.authorization = None
        user_id, token = self.call(
            'common.db.login', 'admin', {'password': PASSWORD}, 'en')[:2]
        self.user_id = user_id
        session = base64.b64encode(
            f'admin:{user_id}:{token}'.encode()).decode()
        self.authorization = f'Session {session}'

    def call(self, method, *params):
        headers = {'Content-Type': 'application/json'}
        if self.authorization:
            headers['Authorization'] = self.authorization
        status, _, data = fetch(self.port, f'/{self.database}/rpc/', 'POST',
            json.dumps({'id': 1, 'method': method, 'params': params}),
            headers, timeout=60)
        assert status == 200, (status, data)
        answer = json.loads(data)
        if answer.get('error'):
            raise AssertionError(answer['error'])
        return answer['result']

    def model(self, name, method, *params):
        return self.call(f'model.{name}.{method}', *params, {})

    def create(self, **values):
        values.setdefault('name', values['route'])
        values.setdefault('auth', 'public')
        values.setdefault('exec_user', self.user_id)
        id_, = self.model('endpoint.endpoint', 'create', [values])
        return id_

    def write(self, ids, **values):
        self.model('endpoint.endpoint', 'write', ids, values)

    def sync(self, ids):
        self.model('endpoint.endpoint', 'sync', ids)

    def sync_all(self):
        "The Sync Registry action"
        name = 'wizard.endpoint.sync_registry'
        session, _, _ = self.call(f'{name}.create', {})
        self.call(f'{name}.execute', session, {}, 'sync', {})
        self.call(f'{name}.delete', session, {})

    def delete(self, ids):
        self.model('endpoint.endpoint', 'delete', ids)

    def latest_version(self):
        "The newest published version: {'id', 'number'}"
        version, = self.model('endpoint.registry.version', 'search_read',
            [], 0, 1, [['number', 'DESC']], ['number'])
        return version


class Server:
    "gunicorn serving trytond.application:app"
    app = 'trytond.application:app'

    def __init__(self, folder, conf, database, workers, name):
        self.port = free_port()
        self.log = Path(folder) / f'{name}.log'
        env = clean_env(TRYTOND_CONFIG=str(conf),
            TRYTOND_DATABASE_NAMES=database,
            TRYTOND_LOGGING_LEVEL='30')
        with open(self.log, 'wb') as log:
            # The production configuration (threaded workers).
            self.process = subprocess.Popen([BIN / 'gunicorn',
                    '-c', str(GUNICORN_CONF),
                    '-w', str(workers), '-b', f'127.0.0.1:{self.port}',
                    '--timeout', '60', '--graceful-timeout', '5',
                    self.app],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self.database = database
        self.workers = workers

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                status, _, _ = fetch(self.port,
                    f'/{self.database}/api/openapi.json', timeout=5)
            except OSError:
                time.sleep(0.2)
                continue
            if status == 200 and len(self.worker_pids()) == self.workers:
                return self
            time.sleep(0.2)
        raise AssertionError(
            "gunicorn did not start:\n" + self.log.read_text()[-3000:])

    def worker_pids(self):
        pid = self.process.pid
        try:
            text = Path(f'/proc/{pid}/task/{pid}/children').read_text()
        except OSError:
            return set()
        return {int(p) for p in text.split()}

    def get(self, path, timeout=10, **kwargs):
        return fetch(self.port, f'/{self.database}/api{path}',
            timeout=timeout, **kwargs)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def build(folder, uri, database, path=None):
    "A database with the endpoint module, made by trytond-admin"
    conf = Path(folder) / 'trytond.conf'
    lines = ['[database]', f'uri = {uri}']
    if path:
        lines.append(f'path = {path}')
    lines += ['[session]', 'max_attempt = 100']
    # What is tested here is serving across processes: the public
    # endpoints run as the admin the RPC calls are made as.
    lines += ['[endpoint]', 'allow_admin_exec = True', '']
    conf.write_text('\n'.join(lines))
    password = Path(folder) / 'password'
    password.write_text(PASSWORD)
    result = subprocess.run([BIN / 'trytond-admin', '-c', conf,
            '-d', database, '--all', '--email', 'admin@example.com',
            '-u', 'endpoint', '--activate-dependencies'],
        env=clean_env(TRYTONPASSFILE=str(password)),
        capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    result = subprocess.run([sys.executable, '-c', MAKE_ADMIN, conf,
            database], env=clean_env(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return conf


# Run with the ORM in a process of its own, before any server starts, so
# that no server holds the admin's groups in its cache.
MAKE_ADMIN = """
import sys
from trytond import config
config.update_etc(sys.argv[1])
from trytond.pool import Pool
from trytond.transaction import Transaction
Pool.start()
pool = Pool(sys.argv[2])
pool.init()
with Transaction().start(sys.argv[2], 0) as transaction:
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    group = ModelData.get_id('endpoint', 'group_endpoint_admin')
    User.write(User.search([('login', '=', 'admin')]),
        {'groups': [('add', [group])]})
    transaction.commit()
"""


class Site:
    def __init__(self, folder, servers, rpc, cluster=None):
        self.folder = folder
        self.servers = servers
        self.rpc = rpc
        self.cluster = cluster

    def close(self):
        for server in self.servers:
            server.stop()
            # Shown by pytest when a test failed.
            print(f"== {server.log.name}", server.log.read_text()[-6000:])
        if self.cluster is not None:
            self.cluster.__exit__(None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope='module')
def sqlite_site():
    folder = tempfile.mkdtemp(prefix='endpoint-mp-')
    servers = []
    try:
        database = 'multiprocess'
        (Path(folder) / f'{database}.sqlite').touch()
        conf = build(folder, 'sqlite://', database, path=folder)
        servers = [
            Server(folder, conf, database, 2, 'a'),
            Server(folder, conf, database, 1, 'b'),
            ]
        for server in servers:
            server.wait_ready()
        rpc = Rpc(servers[0].port, database)
        site = Site(folder, servers, rpc)
    except BaseException:
        Site(folder, servers, None).close()
        raise
    yield site
    site.close()


@pytest.fixture(scope='module')
def pg_site():
    folder = tempfile.mkdtemp(prefix='endpoint-mp-')
    servers = []
    cluster = Cluster().start()
    try:
        database = 'multiprocess'
        subprocess.run(cluster._cmd('createdb', '-h', '127.0.0.1',
                '-p', str(cluster.port), '-U', 'postgres', database),
            check=True, capture_output=True)
        conf = build(folder, cluster.uri, database)
        servers = [Server(folder, conf, database, 3, 'pg')]
        servers[0].wait_ready()
        rpc = Rpc(servers[0].port, database)
        site = Site(folder, servers, rpc, cluster)
    except BaseException:
        Site(folder, servers, None, cluster).close()
        raise
    yield site
    site.close()


@pytest.fixture(scope='module')
def site(request):
    if BACKEND == 'postgresql':
        return request.getfixturevalue('pg_site')
    return request.getfixturevalue('sqlite_site')


class Load:
    """Concurrent GETs in threads, bounded in count and in time

    Every answer is kept as (route, start, end, status, content type,
    body), with ``start`` taken before the request is sent.
    """

    def __init__(self, server, routes, threads=6, requests=3000,
            seconds=90, timeout=15):
        self.server = server
        self.routes = list(routes)
        self.results = []
        self.errors = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run,
                args=(i, requests // threads, seconds, timeout))
            for i in range(threads)]

    def _run(self, index, count, seconds, timeout):
        deadline = time.monotonic() + seconds
        for n in range(count):
            if self._stop.is_set() or time.monotonic() > deadline:
                break
            route = self.routes[(index + n) % len(self.routes)]
            start = time.monotonic()
            try:
                status, headers, body = self.server.get(
                    route, timeout=timeout)
            except Exception as exception:
                self.errors.append((route, start, time.monotonic(),
                        repr(exception)))
                continue
            self.results.append((route, start, time.monotonic(), status,
                    headers.get_content_type(), body))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def settle(self, count=20, timeout=30):
        "Wait until ``count`` more answers arrived"
        target = len(self.results) + count
        deadline = time.monotonic() + timeout
        while len(self.results) < target and time.monotonic() < deadline:
            time.sleep(0.02)


@only_sqlite
def test_sqlite_two_processes(sqlite_site):
    "A sync through one server process is served by the other at once"
    a, b = sqlite_site.servers
    rpc = sqlite_site.rpc
    route = '/mp/item'

    id_ = rpc.create(route=route, code=snippet(1))
    # Editing is not publishing.
    assert b.get(route)[0] == 404
    rpc.sync([id_])
    status, _, body = b.get(route)
    assert (status, version_of(body)) == (200, 1)
    for _ in range(4):
        status, _, body = a.get(route)
        assert (status, version_of(body)) == (200, 1)

    for version in range(2, 5):
        rpc.write([id_], code=snippet(version))
        status, _, body = b.get(route)
        assert version_of(body) == version - 1, "served before sync"
        rpc.sync([id_])
        status, _, body = b.get(route)
        assert (status, version_of(body)) == (200, version)
        status, _, body = a.get(route)
        assert (status, version_of(body)) == (200, version)

    # A sync done in the other process is seen by the first one.
    other = Rpc(b.port, b.database)
    other.write([id_], code=snippet(5))
    other.sync([id_])
    for server in [a, a, a, b]:
        status, _, body = server.get(route)
        assert (status, version_of(body)) == (200, 5)

    rpc.write([id_], active=False)
    assert b.get(route)[0] == 200, "archived before sync"
    rpc.sync_all()
    for server in [b, a, a]:
        status, headers, _ = server.get(route)
        assert status == 404
        assert headers.get_content_type() == PROBLEM

    rpc.write([id_], active=True)
    rpc.sync([id_])
    assert b.get(route)[0] == 200
    rpc.delete([id_])
    for server in [b, a, a]:
        assert server.get(route)[0] == 404


@only_postgresql
def test_postgresql_syncs_under_load(pg_site):
    "No worker serves an old definition once its sync has returned"
    server, = pg_site.servers
    rpc = pg_site.rpc
    routes = [f'/load/{i}' for i in range(4)]
    ids = [rpc.create(route=r, code=snippet(1)) for r in routes]
    rpc.sync(ids)
    synced = {r: [(0.0, 1)] for r in routes}  # (returned at, version)
    churn = []

    def check_churn(route, expected):
        for _ in range(6):
            status, headers, body = server.get(route)
            if expected is None:
                assert status == 404, (route, status, body)
                assert headers.get_content_type() == PROBLEM
            else:
                assert status == 200, (route, status, body)
                assert version_of(body) == expected, route

    with Load(server, routes) as load:
        load.settle()
        for version in range(2, 10):
            changed = ids if version % 2 else ids[version % len(ids):][:2]
            rpc.write(changed, code=snippet(version))
            route = f'/churn/{version}'
            new = rpc.create(route=route, code=snippet(version))
            archived = None
            if version % 2 == 0 and churn:
                # The previous new one archived, everything synced by the
                # Sync Registry action.
                archived = churn.pop()
                rpc.write([archived[0]], active=False)
                rpc.sync_all()
            else:
                rpc.sync(changed + [new])
            returned = time.monotonic()
            for id_, r in zip(ids, routes):
                if id_ in changed:
                    synced[r].append((returned, version))
            churn.append((new, route, version))
            check_churn(route, version)
            if archived:
                check_churn(archived[1], None)
            if version % 3 == 0 and len(churn) > 1:
                # Deleting a live endpoint takes it out at once.
                gone = churn.pop(0)
                rpc.delete([gone[0]])
                check_churn(gone[1], None)
            load.settle()

    assert not load.errors, load.errors[:5]
    failures = [r[:5] for r in load.results if r[3] != 200]
    assert not failures, failures[:5]
    stale = []
    for route, start, _, _, _, body in load.results:
        expected = max(v for t, v in synced[route] if t < start)
        if version_of(body) < expected:
            stale.append((route, start, version_of(body), expected))
    assert not stale, stale[:5]
    # Enough traffic to have crossed every sync on every worker.
    assert len(load.results) > 100


@only_postgresql
def test_postgresql_restore_seen_by_every_process(pg_site):
    "A restore is served by every worker of every server on its next request"
    server, = pg_site.servers
    rpc = pg_site.rpc
    other = Server(pg_site.folder, Path(pg_site.folder) / 'trytond.conf',
        server.database, 1, 'pg-other')
    try:
        other.wait_ready()
        kept = rpc.create(route='/restore/kept', code=snippet(1))
        gone = rpc.create(route='/restore/gone', code=snippet(1))
        rpc.sync([kept, gone])
        version = rpc.latest_version()
        # Every worker of both servers has built the map of that version.
        for target in [server] * 6 + [other]:
            assert version_of(target.get('/restore/kept')[2]) == 1

        rpc.write([kept], code=snippet(2))
        rpc.delete([gone])
        new = rpc.create(route='/restore/new', code=snippet(2))
        rpc.sync([kept, new])
        for target in [server] * 6 + [other]:
            assert version_of(target.get('/restore/kept')[2]) == 2
            assert target.get('/restore/gone')[0] == 404
            assert target.get('/restore/new')[0] == 200

        rpc.model('endpoint.registry.version', 'restore', [version['id']])
        restored = rpc.latest_version()
        assert restored['number'] > version['number']
        # The first request of each process after the restore: threaded
        # workers are picked at random, so a few requests reach each one.
        for target in [other] + [server] * 6:
            status, _, body = target.get('/restore/kept')
            assert (status, version_of(body)) == (200, 1)
            status, _, body = target.get('/restore/gone')
            assert (status, version_of(body)) == (200, 1)
            status, headers, _ = target.get('/restore/new')
            assert status == 404
            assert headers.get_content_type() == PROBLEM
    finally:
        other.stop()
        print("== pg-other.log", other.log.read_text()[-3000:])


def test_slow_snippet(site):
    "An endpoint over its budget answers 504 and blocks nobody else"
    server = site.servers[0]
    rpc = site.rpc
    slow = rpc.create(route='/slow', timeout=1.0,
        code="while True:\n    pass\n")
    fast = rpc.create(route='/fast', code=snippet(1))
    rpc.sync([slow, fast])
    answer = {}

    def call_slow():
        start = time.monotonic()
        answer['response'] = server.get('/slow', timeout=30)
        answer['times'] = (start, time.monotonic())

    thread = threading.Thread(target=call_slow)
    thread.start()
    time.sleep(0.1)
    fast_times = []
    for _ in range(3):
        status, _, body = server.get('/fast', timeout=30)
        assert (status, version_of(body)) == (200, 1)
        fast_times.append(time.monotonic())
    thread.join(60)

    status, headers, body = answer['response']
    assert status == 504, body
    assert headers.get_content_type() == PROBLEM
    problem = json.loads(body)
    assert problem['status'] == 504
    start, end = answer['times']
    assert 1.0 <= end - start < 10
    # The fast endpoint was answered while the slow one ran.
    assert fast_times[-1] < end


def test_aliases_every_worker(site):
    "After one sync, every worker of every process answers at each alias"
    routes = ['/mp/alias/<int:id>', '/mp/alias-b/<int:id>',
        '/mp/alias-c/<int:id>']
    code = ("result['payload'] = {'v': 1, "
        "'id': request.path_params['id']}\n")
    id_ = site.rpc.create(route=routes[0], aliases='\n'.join(routes[1:]),
        code=code)
    site.rpc.sync([id_])
    paths = [r.replace('<int:id>', '7') for r in routes]

    def served(paths):
        # Concurrent requests on fresh connections reach every worker.
        for server in site.servers:
            with Load(server, paths, threads=6, requests=60,
                    seconds=60) as load:
                load.settle(count=60, timeout=60)
            assert not load.errors, load.errors[:3]
            assert len(load.results) == 60
            for route, _, _, status, _, body in load.results:
                assert status == 200, (route, body)
                assert json.loads(body) == {'v': 1, 'id': 7}

    served(paths)
    # One sync moves an alias: the old path is gone everywhere at once.
    site.rpc.write([id_], aliases='/mp/alias-d/<int:id>')
    site.rpc.sync([id_])
    served([paths[0], '/mp/alias-d/7'])
    for server in site.servers:
        for _ in range(3):
            status, headers, _ = server.get(paths[1])
            assert status == 404
            assert headers.get_content_type() == PROBLEM
    site.rpc.delete([id_])
def test_signed_webhook_once(site):
    """A timestamped webhook signature is served once, whichever process
    and worker it reaches; on PostgreSQL, twins sent at once too"""
    import hashlib
    import hmac
    rpc = site.rpc
    secret = 'whsec_multiprocess'
    hook = rpc.create(route='/signed/once', method='POST',
        content_type='application/json', auth='signature',
        signature_scheme='stripe', signature_secret=secret,
        code="result['payload'] = {'event': request.json['id']}\n")
    rpc.sync([hook])

    def signed(event):
        body = json.dumps({'id': event}).encode()
        now = int(time.time())
        digest = hmac.new(secret.encode(), f'{now}.'.encode() + body,
            hashlib.sha256).hexdigest()
        return body, {'Content-Type': 'application/json',
            'Stripe-Signature': f't={now},v1={digest}'}

    def post(server, body, headers):
        return server.get('/signed/once', method='POST', body=body,
            headers=headers, timeout=30)

    body, headers = signed('evt_seq')
    statuses = [post(server, body, headers)[0]
        for server in site.servers * 2]
    assert statuses == [200] + [401] * (len(statuses) - 1), statuses
    if BACKEND != 'postgresql':
        return
    body, headers = signed('evt_twins')
    answers = []
    threads = [threading.Thread(
            target=lambda: answers.append(
                post(site.servers[0], body, headers)[0]))
        for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200] + [401] * 7, answers
def _metrics(server, key):
    "{(metric name, endpoint id): value} of the server's /metrics"
    from prometheus_client.parser import text_string_to_metric_families
    status, _, body = server.get('/metrics',
        headers={'Authorization': f'Bearer {key}'})
    assert status == 200, body
    return {(s.name, s.labels.get('endpoint')): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples if 'le' not in s.labels}


def _endpoint_key(rpc):
    "A validated endpoint key of the admin (in Endpoint Administration)"
    # Validated when an administrator makes it
    id_, = rpc.model('res.user.application', 'create', [{
                'user': rpc.user_id, 'application': 'endpoint'}])
    (values,) = rpc.model('res.user.application', 'read', [id_], ['key'])
    return values['key']


@only_postgresql
def test_postgresql_statistics_of_two_servers(pg_site):
    "Each worker of each server writes its counts; /metrics sums them all"
    first = pg_site.servers[0]
    second = Server(pg_site.folder, Path(pg_site.folder) / 'trytond.conf',
        first.database, 2, 'pg-stats')
    try:
        second.wait_ready()
        rpc = pg_site.rpc
        route = '/stats/count'
        id_ = rpc.create(route=route, code="if request.args.get('fail'):\n"
            "    x = 1 / 0\nresult['payload'] = 1\n")
        rpc.sync([id_])
        key = _endpoint_key(rpc)
        ids = set()
        for server, count, failures in [(first, 7, 1), (second, 5, 2)]:
            for n in range(count):
                path = route + ('?fail=1' if n < failures else '')
                status, headers, _ = server.get(path)
                assert status == (500 if n < failures else 200)
                ids.add(headers['X-Request-Id'])
        assert len(ids) == 12, "every answer has its own request id"

        # Written by each worker within [endpoint] statistics_interval.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            totals = _metrics(second, key)
            if totals.get(('endpoint_requests_total', str(id_))) == 12:
                break
            time.sleep(0.5)
        assert totals.get(('endpoint_requests_total', str(id_))) == 12, totals
        assert totals[('endpoint_server_errors_total', str(id_))] == 3
        assert totals[('endpoint_client_errors_total', str(id_))] == 0
        assert totals[('endpoint_request_duration_seconds_count',
                str(id_))] == 12
        assert _metrics(first, key) == totals
        rows = rpc.model('endpoint.statistic', 'search_read',
            [('endpoint', '=', id_)], 0, None, None, ['requests'])
        assert sum(r['requests'] for r in rows) == 12
        status, _, body = second.get('/metrics')
        assert status == 401 and b'endpoint_requests' not in body

        # A server stopped gracefully writes what its workers counted
        # before they exit, however soon after the requests.
        for _ in range(4):
            assert second.get(route)[0] == 200
        second.stop()
        totals = _metrics(first, key)
        assert totals[('endpoint_requests_total', str(id_))] == 16, totals
    finally:
        second.stop()
        print(f"== {second.log.name}", second.log.read_text()[-3000:])
@only_postgresql
def test_postgresql_idempotency_key_runs_once(pg_site):
    "The same Idempotency-Key sent at once to two server processes runs once"
    rpc = pg_site.rpc
    other = Server(pg_site.folder, Path(pg_site.folder) / 'trytond.conf',
        rpc.database, 2, 'pg-idempotency')
    try:
        other.wait_ready()
        servers = [pg_site.servers[0], other]
        endpoint = rpc.create(route='/idempotent', method='POST',
            content_type='application/json', idempotent=True, timeout=20.0,
            code="n = 0\nwhile n < 300000:\n    n += 1\nlog('ran')\n"
            "result['payload'] = {'order': request.json['order']}\n"
            "result['status_code'] = 201\n")
        rpc.sync([endpoint])
        body = json.dumps({'order': 'A-1'})
        headers = {'Content-Type': 'application/json',
            'Idempotency-Key': 'order-A-1'}
        barrier = threading.Barrier(8)
        answers = []

        def send(server):
            barrier.wait(10)
            answers.append(server.get('/idempotent', method='POST',
                    body=body, headers=headers, timeout=30))

        threads = [threading.Thread(target=send, args=(servers[i % 2],))
            for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(answers) == 8
        ran = [a for a in answers
            if a[0] == 201 and 'Idempotent-Replayed' not in a[1]]
        assert len(ran) == 1, [(s, h.items(), b) for s, h, b in answers]
        for status, answer_headers, data in answers:
            if status == 201:
                assert json.loads(data) == {'order': 'A-1'}
            else:
                assert status == 409, (status, data)
                assert answer_headers.get_content_type() == PROBLEM
        logs = rpc.model('endpoint.log', 'search_count',
            [('endpoint', '=', endpoint), ('message', '=', 'ran')])
        assert logs == 1
        # Once answered, every process replays it, and refuses another body.
        for server in servers:
            status, answer_headers, data = server.get('/idempotent',
                method='POST', body=body, headers=headers)
            assert status == 201, data
            assert answer_headers['Idempotent-Replayed'] == 'true'
            assert json.loads(data) == {'order': 'A-1'}
            status, _, data = server.get('/idempotent', method='POST',
                body=json.dumps({'order': 'B-2'}), headers=headers)
            assert status == 422, data
        assert rpc.model('endpoint.log', 'search_count',
            [('endpoint', '=', endpoint), ('message', '=', 'ran')]) == 1
    finally:
        other.stop()


# Last: after a restart, each worker's connection pool takes a while to
# leave its reconnection back-off, which would slow the tests after it.
@only_postgresql
def test_postgresql_restart(pg_site):
    "PostgreSQL down: 503 problem+json at once; back: served again"
    server, = pg_site.servers
    cluster = pg_site.cluster
    rpc = pg_site.rpc
    route = '/restart/ping'
    rpc.sync([rpc.create(route=route, code=snippet(1))])
    workers = server.worker_pids()
    assert server.get(route)[0] == 200

    with Load(server, [route], threads=3, requests=3000, seconds=120,
            timeout=20) as load:
        load.settle()
        stopped = time.monotonic()
        cluster.stop('fast')
        try:
            # While it is down, fresh requests answer 503 quickly.
            down = []
            unavailable = []
            for _ in range(5):
                start = time.monotonic()
                status, headers, body = server.get(route, timeout=20)
                down.append((status, headers.get_content_type(),
                        time.monotonic() - start))
                if status == 503:
                    assert json.loads(body)['request_id'] == (
                        headers['X-Request-Id'])
                    unavailable.append(headers['X-Request-Id'])
                time.sleep(0.2)
        finally:
            cluster.start()
        restarted = time.monotonic()
        deadline = restarted + 30
        # Served again once every worker serves: each has its own pool,
        # which reconnects on its own schedule, so one 200 is one worker.
        served = 0
        while time.monotonic() < deadline and served < 6:
            served = served + 1 if server.get(
                route, timeout=20)[0] == 200 else 0
            time.sleep(0.1)
        recovered = time.monotonic()
        load.settle()

    assert all(s == 503 and t == PROBLEM for s, t, _ in down), down
    assert max(d for _, _, d in down) < 5, down
    assert recovered < deadline, "not served again after the restart"
    assert server.worker_pids() == workers, "workers were restarted"
    assert not load.errors, load.errors[:5]
    for _, start, end, status, content_type, _ in load.results:
        assert status in {200, 503}, status
        if status == 503:
            assert content_type == PROBLEM
            assert start >= stopped - 1 and end <= restarted + 30
        assert end - start < 10
    # Requests started once every worker served again are all served
    # (one started just before may still end in a 503 of its own).
    after = [r[3] for r in load.results if r[1] >= recovered]
    assert after and set(after) == {200}, after[:20]
    # Each 503 is in the endpoint log, written once the database is back.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logged = rpc.model('endpoint.log', 'search_read',
            [('request_id', 'in', unavailable)], 0, None, None,
            ['request_id', 'message'])
        if {line['request_id'] for line in logged} == set(unavailable):
            break
        time.sleep(0.5)
    assert {line['request_id'] for line in logged} == set(unavailable)
    assert all('503' in line['message'] for line in logged), logged
