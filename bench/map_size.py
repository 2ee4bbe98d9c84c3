# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Time per request with 10 and 10,000 other endpoints, side by side in
process: ``./dev bench --map-size``.

Two Tryton processes (``bench.replay``, Werkzeug's test client, no HTTP
server) serve the custom endpoint from the 10- and the 10,000-endpoint
database, and take turns: a batch of requests in one, then in the other,
the order swapped every pair.  A pair's batches run a second apart, so
the drift of a shared machine hits both alike; the ratio reported is the
median of the pairs'.  Where there are two CPUs or more, both processes
share one CPU and PostgreSQL gets the others.  Half-way, the 10,000
endpoints are synced again, so the later pairs run on a map that
replaced a live one, as after a sync in production.
"""
import os
import time
from pathlib import Path
from statistics import median

from bench.common import (
    Child,
    Cluster,
    build,
    cluster_cmd,
    orm,
    say,
    synced_copies,
)

BATCH = 300


def _pin(pid, cpus):
    "pid and the processes it has forked so far"
    try:
        children = Path(f'/proc/{pid}/task/{pid}/children').read_text()
    except OSError:
        children = ''
    for each in [pid, *map(int, children.split())]:
        try:
            os.sched_setaffinity(each, cpus)
        except OSError:
            pass  # not ours to pin: measured unpinned


def batch(child):
    "Seconds per request of the child's next batch"
    child.expect('ready')
    start = time.perf_counter()
    child.go()
    child.expect('done')
    seconds = time.perf_counter() - start
    child.go()
    return seconds / BATCH


def run(pairs):
    cpus = sorted(os.sched_getaffinity(0))
    replay_cpus = {cpus[-1]} if len(cpus) > 1 else None
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    with Cluster() as cluster:
        conf = build(cluster)
        facts = orm(conf, 'init')
        path = f"/api/bench/party/{facts['party']}"
        scaled = synced_copies(cluster, conf, [10, 10000])
        cluster_cmd(cluster, 'vacuumdb', '--all', '--analyze', '--quiet')
        if replay_cpus:
            postmaster = int(Path(cluster.data, 'postmaster.pid')
                .read_text().split()[0])
            _pin(postmaster, set(cpus[:-1]))
        replays = {n: Child(conf, database, facts['user'],
                [[database, f'/{database}{path}', {}]], BATCH, pairs + 1)
            for n, database in scaled.items()}
        if replay_cpus:
            for replay in replays.values():
                os.sched_setaffinity(replay.process.pid, replay_cpus)
        say(f"Timing {pairs} pairs of {BATCH}-request batches…")
        ratios = []
        try:
            for number in range(pairs):
                if number == pairs // 2:
                    orm(conf, 'sync', database=scaled[10000])
                    # Not counted: the first requests build the new map.
                    for replay in replays.values():
                        batch(replay)
                order = [10, 10000] if number % 2 else [10000, 10]
                seconds = {n: batch(replays[n]) for n in order}
                ratios.append(seconds[10] / seconds[10000])
                say(f"  {number + 1:>3}: 10 others {seconds[10] * 1e3:.3f} "
                    f"ms, 10,000 others {seconds[10000] * 1e3:.3f} ms, "
                    f"ratio {ratios[-1]:.3f}")
        finally:
            for replay in replays.values():
                replay.stop()
    ratios.sort()
    say(f"\nthroughput with 10,000 others / with 10: {median(ratios):.3f} "
        f"(median of {pairs} pairs; quartiles {ratios[len(ratios) // 4]:.3f}"
        f"–{ratios[3 * len(ratios) // 4]:.3f})")
