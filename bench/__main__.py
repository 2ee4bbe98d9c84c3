# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Throughput of endpoints against plain Tryton: ``./dev bench``.

Builds a PostgreSQL database in a throwaway cluster (the party module,
1,000 parties, a user with ``rest`` and ``endpoint`` keys), serves it with
gunicorn on 127.0.0.1 and drives each row with ``wrk``; then prints
requests/s, p50 and p99 latency and the ratios the targets are about.
See doc/benchmarks.rst for what each row measures.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / 'tests'))

from pgcluster import Cluster, clean_env, free_port  # noqa: E402

DATABASE = 'bench'
WORK = ROOT / '.bench'
PASSWORD = 'bench-Admin-42'


def say(*args):
    print(*args, flush=True)


def need_wrk():
    if shutil.which('wrk'):
        return
    if os.getuid() == 0:
        say("Installing wrk from Debian…")
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        subprocess.run(['apt-get', 'update', '-qq'], env=env, check=True)
        subprocess.run(['apt-get', 'install', '-y', '-qq', 'wrk'], env=env,
            check=True, stdout=subprocess.DEVNULL)
    if not shutil.which('wrk'):
        raise SystemExit(
            "The benchmark needs wrk: sudo apt-get install -y wrk")




def build(cluster):
    conf = WORK / 'trytond.conf'
    conf.write_text(f"[database]\nuri = {cluster.uri}\n")
    password = WORK / 'password'
    password.write_text(PASSWORD)
    subprocess.run(cluster._cmd('createdb', '-h', '127.0.0.1',
            '-p', str(cluster.port), '-U', 'postgres', DATABASE),
        check=True)
    with open(WORK / 'admin.log', 'wb') as log:
        subprocess.run([BIN / 'trytond-admin', '-c', conf, '-d', DATABASE,
                '--all', '--email', 'admin@example.com',
                '-u', 'endpoint', 'party', '--activate-dependencies'],
            env=clean_env(TRYTONPASSFILE=str(password)), check=True,
            stdout=log, stderr=subprocess.STDOUT)
    return conf


def orm(conf, *args):
    "Run a bench.orm command; its JSON answer"
    result = subprocess.run([sys.executable, '-m', 'bench.orm', str(conf),
            DATABASE, *map(str, args)], cwd=ROOT, env=clean_env(),
        capture_output=True, text=True, timeout=900)
    if result.returncode:
        raise SystemExit(f"bench.orm {args} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Server:
    def __init__(self, conf, user, workers):
        self.port = free_port()
        self.workers = workers
        self.log = open(WORK / 'gunicorn.log', 'wb')
        self.process = subprocess.Popen([BIN / 'gunicorn',
                '-w', str(workers), '-b', f'127.0.0.1:{self.port}',
                '--chdir', str(ROOT), '--backlog', '256',
                'bench.floor_app:app'],
            env=clean_env(TRYTOND_CONFIG=str(conf),
                TRYTOND_DATABASE_NAMES=DATABASE, BENCH_USER=str(user)),
            stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f'http://127.0.0.1:{self.port}/{DATABASE}{path}'

    def get(self, path, headers=None):
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
            timeout=30)
        try:
            connection.request('GET', f'/{DATABASE}{path}',
                headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def wait(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (self.get(path)[0] == 200
                        and len(self.worker_pids()) == self.workers):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not start; see .bench/gunicorn.log")

    def worker_pids(self):
        pid = self.process.pid
        try:
            text = Path(f'/proc/{pid}/task/{pid}/children').read_text()
        except OSError:
            return []
        return sorted(int(p) for p in text.split())

    def rss(self):
        "Resident memory of each worker, in kB"
        sizes = {}
        for pid in self.worker_pids():
            for line in Path(f'/proc/{pid}/status').read_text().splitlines():
                if line.startswith('VmRSS:'):
                    sizes[pid] = int(line.split()[1])
        return sizes

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


_UNITS = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3}


def _ms(text):
    number, unit = re.fullmatch(r'([\d.]+)(us|ms|s|m)', text).groups()
    return float(number) * _UNITS[unit]


def wrk(url, headers=None, seconds=10, threads=2, connections=16):
    command = ['wrk', '--latency', f'-t{threads}', f'-c{connections}',
        f'-d{seconds}s', '--timeout', '10s']
    for name, value in (headers or {}).items():
        command += ['-H', f'{name}: {value}']
    output = subprocess.run(command + [url], capture_output=True,
        text=True, check=True, timeout=seconds + 60).stdout
    result = {'rps': float(re.search(r'Requests/sec:\s+([\d.]+)',
                output).group(1))}
    for percentile in ['50', '99']:
        match = re.search(rf'^\s+{percentile}%\s+(\S+)$', output, re.M)
        # No latency lines when no request completed.
        result[f'p{percentile}'] = (
            _ms(match.group(1)) if match else float('nan'))
    match = re.search(r'Non-2xx or 3xx responses: (\d+)', output)
    result['bad'] = int(match.group(1)) if match else 0
    match = re.search(r'Socket errors: connect (\d+), read (\d+), '
        r'write (\d+), timeout (\d+)', output)
    result['bad'] += sum(map(int, match.groups())) if match else 0
    result['requests'] = int(re.search(r'(\d+) requests in', output)
        .group(1))
    return result


class Bench:
    def __init__(self, server, seconds):
        self.server = server
        self.seconds = seconds
        self.rows = {}
        self.notes = []

    def run(self, name, path, headers=None):
        status, body = self.server.get(path, headers)
        if status != 200:
            self.rows[name] = None
            self.notes.append(f"{name}: skipped, GET {path} answered "
                f"{status} {body[:120]!r}")
            say(f"  {name}: skipped ({status})")
            return
        # Warm every worker (map built, code compiled, caches filled).
        wrk(self.server.url(path), headers, seconds=2)
        result = wrk(self.server.url(path), headers, seconds=self.seconds)
        self.rows[name] = result
        say(f"  {name}: {result['rps']:.0f} req/s, p50 "
            f"{result['p50']:.2f} ms, p99 {result['p99']:.2f} ms")


def ratio(rows, name, base):
    if rows.get(name) and rows.get(base):
        return rows[name]['rps'] / rows[base]['rps']
    return None


def report(bench, sync, memory, workers):
    rows = bench.rows
    bases = {
        'custom endpoint': 'floor',
        'seed REST read': 'built-in REST read',
        'custom + 10,000 others': 'custom + 10 others',
        'custom + 1,000 others': 'custom + 10 others',
        'custom + 10 others': 'floor',
        }
    say()
    say(f"{'row':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8}  ratio")
    for name, result in rows.items():
        if result is None:
            say(f"{name:<26} {'skipped':>8}")
            continue
        base = bases.get(name)
        value = ratio(rows, name, base) if base else None
        text = f"{value:.2f}× {base}" if value is not None else ''
        say(f"{name:<26} {result['rps']:>8.0f} {result['p50']:>8.2f} "
            f"{result['p99']:>8.2f} {result['bad']:>8}  {text}")
    say()
    say(f"sync of {sync['endpoints']:,} endpoints: {sync['seconds']:.2f} s "
        f"(in the ORM, commit included; {sync['created']:,} created "
        f"unsynced just before, in {sync['create_seconds']:.1f} s)")
    growth = [after - memory['before'].get(pid, after)
        for pid, after in memory['after'].items()]
    extra_mb = max(growth) / 1024 if growth else float('nan')
    say(f"worker memory for the 10,000-endpoint map: +{extra_mb:.1f} MB "
        f"(largest VmRSS growth of {workers} workers; each "
        + ', '.join(f'{g / 1024:.1f}' for g in growth) + ' MB)')
    for note in bench.notes:
        say(f"note: {note}")
    say()
    targets = [
        ("custom ≥ 0.90× floor", ratio(rows, 'custom endpoint', 'floor'),
            lambda v: v >= 0.90),
        ("seed REST ≥ 1.0× built-in REST",
            ratio(rows, 'seed REST read', 'built-in REST read'),
            lambda v: v >= 1.0),
        ("10,000 ≥ 0.95× of 10",
            ratio(rows, 'custom + 10,000 others', 'custom + 10 others'),
            lambda v: v >= 0.95),
        ("sync 10,000 < 2 s", sync['seconds'], lambda v: v < 2),
        ("memory < 100 MB", extra_mb, lambda v: v < 100),
        ]
    for label, value, check in targets:
        if value is None:
            verdict = 'SKIP'
        else:
            verdict = 'PASS' if check(value) else 'MISS'
        shown = '' if value is None else f' ({value:.2f})'
        say(f"{verdict:<5} {label}{shown}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seconds', type=int, default=10,
        help="length of each measured wrk run (default 10)")
    parser.add_argument('--workers', type=int, default=2,
        help="gunicorn sync workers (default 2)")
    args = parser.parse_args()
    need_wrk()
    started = time.monotonic()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    server = None
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    with Cluster() as cluster:
        try:
            conf = build(cluster)
            facts = orm(conf, 'init')
            server = Server(conf, facts['user'], args.workers)
            party = facts['party']
            server.wait(f'/bench/floor/party/{party}')
            bench = Bench(server, args.seconds)
            rest = {'Authorization': f"Bearer {facts['keys']['rest']}"}
            endpoint = {
                'Authorization': f"Bearer {facts['keys']['endpoint']}"}
            say("Measuring…")
            bench.run('floor', f'/bench/floor/party/{party}')
            bench.run('built-in REST read',
                f'/rest/model/party.party/{party}', rest)
            bench.run('seed REST read',
                f'/api/rest/model/party.party/{party}', endpoint)
            bench.run('custom endpoint', f'/api/bench/party/{party}')
            custom = f'/api/bench/party/{party}'
            for count in [10, 1000]:
                orm(conf, 'others', count)
                orm(conf, 'sync')
                bench.run(f'custom + {count:,} others', custom)
            memory = {'before': server.rss()}
            created = orm(conf, 'others', 10000)
            sync = orm(conf, 'sync')
            sync['created'] = created['created']
            sync['create_seconds'] = created['seconds']
            # One request per worker builds its new map; concurrent ones
            # make sure that every worker got one.
            with ThreadPoolExecutor(4 * args.workers) as executor:
                list(executor.map(lambda _: server.get(custom),
                        range(8 * args.workers)))
            memory['after'] = server.rss()
            bench.run('custom + 10,000 others', custom)
        finally:
            if server is not None:
                server.stop()
    report(bench, sync, memory, args.workers)
    say(f"\n({time.monotonic() - started:.0f} s; wrk -t2 -c16, "
        f"{args.seconds} s per row, gunicorn -w {args.workers}, "
        f"{os.cpu_count()} CPUs)")


if __name__ == '__main__':
    main()
