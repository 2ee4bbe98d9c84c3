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
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

from bench import instructions, isolation, map_size, stats_cost
from bench.common import (
    BIN,
    DATABASE,
    ROOT,
    WORK,
    Cluster,
    build,
    clean_env,
    cluster_cmd,
    copy_database,
    free_port,
    need_debian,
    orm,
    say,
    synced_copies,
)

# wrk's connections to each row's server
CONNECTIONS = 16


class Server:
    "gunicorn serving one database: a worker's heap holds its map only"

    def __init__(self, conf, user, workers, database=DATABASE, **env):
        self.port = free_port()
        self.workers = workers
        self.database = database
        self.log = open(WORK / f'gunicorn-{database}-{self.port}.log', 'wb')
        # The production configuration (threaded workers), as documented,
        # with wrk's connections shared evenly by the workers: a threaded
        # worker otherwise accepts as many as it wakes up for first, and
        # in one run in three or four one worker held nearly all of them
        # and the row ran on one CPU, at about half its rate.
        self.process = subprocess.Popen([BIN / 'gunicorn',
                '-c', str(ROOT / 'gunicorn.conf.py'),
                '-w', str(workers), '-b', f'127.0.0.1:{self.port}',
                '--worker-connections',
                str(max(CONNECTIONS // workers, 1)),
                '--chdir', str(ROOT), '--backlog', '256',
                'bench.floor_app:app'],
            env=clean_env(TRYTOND_CONFIG=str(conf),
                TRYTOND_DATABASE_NAMES=database, BENCH_USER=str(user),
                **env),
            stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f'http://127.0.0.1:{self.port}/{self.database}{path}'

    def get(self, path, headers=None):
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
            timeout=30)
        try:
            connection.request('GET', f'/{self.database}{path}',
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
        raise SystemExit("gunicorn did not start; see .bench/gunicorn-*.log")

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


def wrk(url, headers=None, seconds=10, threads=2, connections=None):
    connections = connections or CONNECTIONS
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
    return result


class Bench:
    """Rows measured in interleaved rounds.

    Each round runs every row once, for the same length, one after the
    other (rows compared are added next to each other): a slow spell of
    a shared machine hits every row of a round alike, so ratios are taken
    round by round (paired) and their median is reported.
    """

    def __init__(self, seconds, rounds):
        self.seconds = seconds
        self.rounds = rounds
        self.paths = {}
        self.rows = {}
        self.notes = []

    def add(self, name, server, path, headers=None, expect=200):
        status, body = server.get(path, headers)
        if status != expect:
            self.rows[name] = None
            self.notes.append(f"{name}: skipped, GET {path} answered "
                f"{status} {body[:120]!r}")
            say(f"  {name}: skipped ({status})")
            return
        self.paths[name] = (server.url(path), headers)
        self.rows[name] = []

    def run(self):
        # Warm every worker (map built, code compiled, caches filled).
        for url, headers in self.paths.values():
            wrk(url, headers, seconds=2)
        rows = list(self.paths.items())
        for number in range(1, self.rounds + 1):
            say(f"  round {number} of {self.rounds}")
            # Every other round backwards: a machine slowing down (or
            # speeding up) through a round favours the first rows of one
            # round and the last of the next alike.
            for name, (url, headers) in (
                    rows if number % 2 else reversed(rows)):
                result = wrk(url, headers, seconds=self.seconds)
                self.rows[name].append(result)
                say(f"    {name}: {result['rps']:.0f} req/s, p50 "
                    f"{result['p50']:.2f} ms, p99 {result['p99']:.2f} ms")

    def summary(self, name):
        rounds = self.rows.get(name)
        if not rounds:
            return None
        return {
            'rps': median(r['rps'] for r in rounds),
            'p50': median(r['p50'] for r in rounds),
            'p99': median(r['p99'] for r in rounds),
            'bad': sum(r['bad'] for r in rounds),
            }

    def ratios(self, name, base):
        "Per-round ratios of name to base, sorted"
        if not self.rows.get(name) or not self.rows.get(base):
            return []
        return sorted(a['rps'] / b['rps']
            for a, b in zip(self.rows[name], self.rows[base]))


def ratio(bench, name, base):
    ratios = bench.ratios(name, base)
    return median(ratios) if ratios else None


BASES = {
    'custom endpoint': 'floor',
    'custom endpoint, inline': 'floor',
    'custom, statistics off': 'floor',
    'custom, rate-limited': 'custom endpoint',
    'seed REST read': 'built-in REST read',
    'seed REST read, 304': 'floor',
    'seed REST list': 'built-in REST list',
    'custom + 10 others': 'custom endpoint',
    'custom + 1,000 others': 'custom + 10 others',
    'custom + 10,000 others': 'custom + 10 others',
    }


def report(bench, sync, memory, workers):
    say()
    say(f"{'row':<24} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>7}  ratio (median of rounds; range)")
    shown = ['floor', 'built-in REST read', 'seed REST read',
        'seed REST read, 304', 'built-in REST list', 'seed REST list',
        'custom endpoint', 'custom, statistics off',
        'custom endpoint, inline', 'custom, rate-limited',
        *[n for n in BASES if n.startswith('custom +')]]
    for name in sorted(bench.rows, key=lambda n: (
                shown.index(n) if n in shown else len(shown))):
        result = bench.summary(name)
        if result is None:
            say(f"{name:<24} {'skipped':>7}")
            continue
        base = BASES.get(name)
        ratios = bench.ratios(name, base) if base else []
        text = (f"{median(ratios):.2f}× {base} "
            f"({ratios[0]:.2f}–{ratios[-1]:.2f})" if ratios else '')
        say(f"{name:<24} {result['rps']:>7.0f} {result['p50']:>7.2f} "
            f"{result['p99']:>7.2f} {result['bad']:>7}  {text}")
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
        ("custom ≥ 0.90× floor", ratio(bench, 'custom endpoint', 'floor'),
            lambda v: v >= 0.90),
        ("seed REST ≥ 1.5× built-in REST",
            ratio(bench, 'seed REST read', 'built-in REST read'),
            lambda v: v >= 1.5),
        ("rate-limited ≥ 0.90× custom",
            ratio(bench, 'custom, rate-limited', 'custom endpoint'),
            lambda v: v >= 0.90),
        ("conditional GET (304) ≥ 2× floor",
            ratio(bench, 'seed REST read, 304', 'floor'),
            lambda v: v >= 2.0),
        ("seed REST list ≥ 1.5× built-in list",
            ratio(bench, 'seed REST list', 'built-in REST list'),
            lambda v: v >= 1.5),
        ("10,000 ≥ 0.95× of 10",
            ratio(bench, 'custom + 10,000 others', 'custom + 10 others'),
            lambda v: v >= 0.95),
        ("sync 10,000 < 2 s", sync['seconds'], lambda v: v < 2),
        ("memory < 100 MB", extra_mb, lambda v: v < 100),
        ]
    for label, value, check in targets:
        if value is None:
            verdict = 'SKIP'
        else:
            verdict = 'PASS' if check(value) else 'MISS'
        # Three decimals: a value just under its line shows as under it.
        shown = '' if value is None else f' ({value:.3f})'
        say(f"{verdict:<5} {label}{shown}")


def rate_limit(seconds, rounds, workers):
    "The rate-limited row against the same endpoint without a limit"
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    servers = []
    with Cluster() as cluster:
        try:
            conf = build(cluster)
            facts = orm(conf, 'init')
            party = facts['party']
            bench = Bench(seconds, rounds)
            for name, path in [
                    ('custom endpoint', f'/api/bench/party/{party}'),
                    ('custom, rate-limited',
                        f'/api/bench/limited/party/{party}')]:
                server = Server(conf, facts['user'], workers)
                servers.append(server)
                server.wait(f'/bench/floor/party/{party}')
                bench.add(name, server, path)
            say("Measuring…")
            bench.run()
        finally:
            for server in servers:
                server.stop()
    for name in bench.rows:
        result = bench.summary(name)
        say(f"{name:<24} {result['rps']:>7.0f} req/s, p50 "
            f"{result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
            f"non-2xx {result['bad']}")
    ratios = bench.ratios('custom, rate-limited', 'custom endpoint')
    say(f"rate-limited / custom: {median(ratios):.3f} "
        f"({ratios[0]:.3f}–{ratios[-1]:.3f}, {rounds} rounds)")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seconds', type=int, default=4,
        help="length of each wrk run (default 4)")
    parser.add_argument('--rounds', type=int, default=10,
        help="interleaved rounds over all rows (default 10)")
    parser.add_argument('--workers', type=int, default=2,
        help="gunicorn sync workers per server (default 2)")
    parser.add_argument('--instructions', type=int, metavar='REQUESTS',
        nargs='?', const=300, default=None,
        help="count instructions per request under callgrind instead "
        "(default 300 requests per row); see bench/instructions.py")
    parser.add_argument('--only', action='append', metavar='ROW',
        help="with --instructions: only the rows whose name contains ROW "
        "(repeatable), e.g. --only floor --only 'custom endpoint'")
    parser.add_argument('--map-size', type=int, metavar='PAIRS',
        nargs='?', const=40, default=None,
        help="time the custom endpoint with 10 and 10,000 others in "
        "turns, in process, instead (default 40 pairs); see "
        "bench/map_size.py")
    parser.add_argument('--isolation', type=int, metavar='REPEAT',
        nargs='?', const=300, default=None,
        help="time a run and a round trip in a sandbox process against "
        "inline, and its memory, instead; see bench/isolation.py")
    parser.add_argument('--statistics', type=int, metavar='REQUESTS',
        nargs='?', const=300, default=None,
        help="count the instructions of the custom endpoint with "
        "statistics on and off, and time a flush, instead; see "
        "bench/stats_cost.py")
    parser.add_argument('--rate-limit', type=int, metavar='ROUNDS',
        nargs='?', const=6, default=None,
        help="only the custom endpoint with and without a rate limit, "
        "in interleaved rounds (default 6)")
    args = parser.parse_args()
    if args.isolation is not None:
        isolation.run(args.isolation)
        return
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    if args.instructions is not None:
        instructions.run(args.instructions, args.only)
        return
    if args.statistics is not None:
        stats_cost.run(args.statistics)
        return
    if args.map_size is not None:
        map_size.run(args.map_size)
        return
    need_debian('wrk')
    if args.rate_limit is not None:
        rate_limit(args.seconds, args.rate_limit, args.workers)
        return
    started = time.monotonic()
    servers = []
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    with Cluster() as cluster:
        try:
            conf = build(cluster)
            facts = orm(conf, 'init')
            party = facts['party']
            floor = f'/bench/floor/party/{party}'
            custom = f'/api/bench/party/{party}'
            scaled = synced_copies(cluster, conf, [10, 1000])
            # Its others are made and synced later, while it is served.
            scaled[10000] = f'{DATABASE}_10000'
            copy_database(cluster, scaled[10000])

            def serve(database=DATABASE, **env):
                server = Server(conf, facts['user'], args.workers, database,
                    **env)
                servers.append(server)
                server.wait(floor)
                return server

            floor_server = serve()
            big = serve(scaled[10000])
            # The 10,000 map: synced while its server runs, as in use.
            big.get(custom)
            memory = {'before': big.rss()}
            created = orm(conf, 'others', 10000, database=big.database)
            sync = orm(conf, 'sync', database=big.database)
            sync['created'] = created['created']
            sync['create_seconds'] = created['seconds']
            # One request per worker builds its new map; concurrent ones
            # make sure that every worker got one.
            with ThreadPoolExecutor(4 * args.workers) as executor:
                list(executor.map(lambda _: big.get(custom),
                        range(8 * args.workers)))
            memory['after'] = big.rss()
            # Databases just filled: vacuumed now, not by autovacuum while
            # a row is measured.
            cluster_cmd(cluster, 'vacuumdb', '--all', '--analyze', '--quiet')

            bench = Bench(args.seconds, args.rounds)
            rest = {'Authorization': f"Bearer {facts['keys']['rest']}"}
            endpoint = {
                'Authorization': f"Bearer {facts['keys']['endpoint']}"}
            # Each row has a server of its own: no worker mixes the load
            # of two rows.
            bench.add('floor', floor_server, floor)
            bench.add('custom endpoint', serve(), custom)
            # What the statistics (on by default) cost
            bench.add('custom, statistics off',
                serve(TRYTOND_ENDPOINT__STATISTICS='False'), custom)
            # Each request counted in the database by every worker.
            bench.add('custom, rate-limited', serve(),
                f'/api/bench/limited/party/{party}')
            # The snippet in the server process: what the sandbox process
            # costs.
            bench.add('custom endpoint, inline',
                serve(TRYTOND_ENDPOINT__ISOLATION='inline'), custom)
            bench.add('built-in REST read', serve(),
                f'/rest/model/party.party/{party}', rest)
            bench.add('seed REST read', serve(),
                f'/api/rest/model/party.party/{party}', endpoint)
            # A cache revalidating its copy: `*` is answered as the
            # record's own tag would be, with the same one query.
            bench.add('seed REST read, 304', serve(),
                f'/api/rest/model/party.party/{party}',
                {**endpoint, 'If-None-Match': '*'}, expect=304)
            page = {'Range': 'records=0-49'}
            bench.add('built-in REST list', serve(),
                '/rest/model/party.party', {**rest, **page})
            bench.add('seed REST list', serve(),
                '/api/rest/model/party.party', {**endpoint, **page})
            bench.add('custom + 1,000 others', serve(scaled[1000]), custom)
            bench.add('custom + 10 others', serve(scaled[10]), custom)
            bench.add('custom + 10,000 others', big, custom)
            say("Measuring…")
            bench.run()
        finally:
            for server in servers:
                server.stop()
    report(bench, sync, memory, args.workers)
    say(f"\n({time.monotonic() - started:.0f} s; wrk -t2 -c{CONNECTIONS}, "
        f"{args.rounds} rounds of {args.seconds} s per row, gunicorn -w "
        f"{args.workers} per row, {os.cpu_count()} CPUs)")


if __name__ == '__main__':
    main()
