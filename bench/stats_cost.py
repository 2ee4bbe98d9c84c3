# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What the statistics cost: ``./dev bench --statistics REQUESTS``.

Per request: the instructions of the custom endpoint with statistics on
(the default) and off (``[endpoint] statistics = False``), each beside the
hand-written route, under callgrind (``bench.instructions.count``). The
worker's writer thread runs in the counted process: with the default
interval the flushes that fall in the row (under callgrind a row lasts a
minute or more) are in its figure; with an interval longer than the row
the figure is the requests' own share. Per flush: the time and CPU time one
worker takes to write what it gathered for 1, 10 and 100 endpoints in one
minute, on PostgreSQL (``python -m bench.stats_cost <conf> <database>``,
a process of its own).
"""
import json
import statistics
import subprocess
import sys
import time

from bench import instructions
from bench.common import (
    DATABASE,
    ROOT,
    Cluster,
    build,
    clean_env,
    need_debian,
    orm,
    say,
)

FLUSHES = 20
REQUESTS_PER_ENDPOINT = 100


def run(requests):
    need_debian('valgrind')
    need_debian('callgrind_control', 'valgrind')
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    with Cluster() as cluster:
        conf = build(cluster)
        facts = orm(conf, 'init')
        party, user = facts['party'], facts['user']
        orm(conf, 'others', 100)
        floor = ['floor', f'/{DATABASE}/bench/floor/party/{party}', {}]
        custom = f'/{DATABASE}/api/bench/party/{party}'
        say(f"Counting ({requests} requests per row, under callgrind)…")
        counts = instructions.count(conf, DATABASE, user,
            [floor, ['custom, statistics on', custom, {}]], requests)
        # The requests' own share: no flush falls in the row.
        counts.update(instructions.count(conf, DATABASE, user,
                [['custom, on, no flush', custom, {}]], requests,
                TRYTOND_ENDPOINT__STATISTICS_INTERVAL='3600'))
        counts.update(instructions.count(conf, DATABASE, user,
                [['custom, statistics off', custom, {}]], requests,
                TRYTOND_ENDPOINT__STATISTICS='False'))
        say("Timing flushes…")
        result = subprocess.run([sys.executable, '-m', 'bench.stats_cost',
                str(conf), DATABASE], cwd=ROOT, env=clean_env(),
            capture_output=True, text=True, timeout=900)
        if result.returncode:
            raise SystemExit(f"bench.stats_cost failed:\n{result.stderr}")
        flushes = json.loads(result.stdout.strip().splitlines()[-1])
    report(counts, flushes)


def report(counts, flushes):
    say(f"\n{'row':<26} {'server':>10} {'sandbox':>10} {'total':>10}"
        "  instructions/request")
    for name, (server, sandbox) in counts.items():
        say(f"{name:<26} {server / 1e6:>8.3f} M {sandbox / 1e6:>8.3f} M "
            f"{(server + sandbox) / 1e6:>8.3f} M")
    floor = sum(counts['floor'])
    on, off = (sum(counts['custom, statistics on']),
        sum(counts['custom, statistics off']))
    own = sum(counts['custom, on, no flush'])
    say(f"\nfloor / custom: statistics on {floor / on:.3f}, "
        f"on without a flush in the row {floor / own:.3f}, "
        f"off {floor / off:.3f}")
    say(f"statistics add {(on - off) / 1e3:+.1f} k instructions per "
        f"request with the flushes of the row, {(own - off) / 1e3:+.1f} k "
        f"without ({(own - off) / off:+.2%})")
    say(f"\n{'endpoints written':>18} {'wall ms':>8} {'CPU ms':>8}"
        f"  per flush (median of {FLUSHES})")
    for row in flushes:
        say(f"{row['endpoints']:>18} {row['wall_ms']:>8.2f} "
            f"{row['cpu_ms']:>8.2f}")


def time_flushes(conf, database):
    "Median wall and CPU time of a worker's flush of n endpoints' minute"
    from trytond import config
    config.update_etc(conf)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    pool.init()
    from trytond.modules.endpoint import stats
    with Transaction().start(database, 0):
        ids = [e.id for e in pool.get('endpoint.endpoint').search(
                [], limit=100)]
    results = []
    for n in [1, 10, 100]:
        walls, cpus = [], []
        for _ in range(FLUSHES):
            for endpoint in ids[:n]:
                for i in range(REQUESTS_PER_ENDPOINT):
                    stats.BUFFER.record(database, endpoint, 200,
                        0.001 * (i % 50))
            wall, cpu = time.perf_counter(), time.process_time()
            stats.flush()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        results.append({'endpoints': n,
                'wall_ms': statistics.median(walls) * 1000,
                'cpu_ms': statistics.median(cpus) * 1000})
    print(json.dumps(results))


if __name__ == '__main__':
    time_flushes(*sys.argv[1:3])
