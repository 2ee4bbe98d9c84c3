# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Instructions per request, counted by callgrind: ``./dev bench
--instructions``.

Throughput on a shared machine drifts by several percent from one minute
to the next; the number of instructions a request runs does not.  Each
database's rows are replayed in one Tryton process (``bench.replay``,
Werkzeug's test client, no HTTP server) under ``valgrind
--tool=callgrind``, whose counters are zeroed before and dumped after each
row.  The figures are the Python process's only: PostgreSQL's share and
the time spent waiting are in the ``wrk`` rows.
"""
import re
import subprocess
import time

from bench.common import (
    DATABASE,
    WORK,
    Child,
    Cluster,
    build,
    need_debian,
    orm,
    say,
    synced_copies,
)


def count(conf, database, user, rows, requests):
    "Instructions per request of each row, replayed against database"
    out = WORK / f'callgrind-{database}'
    child = Child(conf, database, user, rows, requests,
        prefix=['valgrind', '--tool=callgrind',
            f'--callgrind-out-file={out}'],
        stderr=subprocess.DEVNULL)
    counts = {}
    try:
        for name, _, _ in rows:
            child.expect('ready')
            _control(child.process, '--zero')
            child.go()
            child.expect('done')
            before = set(WORK.glob(f'{out.name}.*'))
            _control(child.process, '--dump=' + name)
            counts[name] = _total(_new_dump_text(out, before)) / requests
            child.go()
        child.process.wait(60)
    finally:
        child.stop()
    return counts


def _control(process, option):
    subprocess.run(['callgrind_control', option, str(process.pid)],
        check=True, capture_output=True)


def _new_dump_text(out, before, timeout=30):
    "The text of the dump written since before, once complete"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = sorted(set(WORK.glob(f'{out.name}.*')) - before)
        if new:
            text = new[-1].read_text()
            if 'totals:' in text:
                return text
        time.sleep(0.2)
    raise SystemExit("callgrind wrote no dump")


def _total(text):
    return int(re.search(r'^(?:summary|totals):\s+(\d+)', text,
            re.M).group(1))


def run(requests):
    need_debian('valgrind')
    need_debian('callgrind_control', 'valgrind')
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    with Cluster() as cluster:
        conf = build(cluster)
        facts = orm(conf, 'init')
        party, user = facts['party'], facts['user']
        scaled = synced_copies(cluster, conf, [10, 10000])
        rest = {'Authorization': f"Bearer {facts['keys']['rest']}"}
        endpoint = {'Authorization': f"Bearer {facts['keys']['endpoint']}"}
        rows = [
            ['floor', f'/{DATABASE}/bench/floor/party/{party}', {}],
            ['custom endpoint', f'/{DATABASE}/api/bench/party/{party}', {}],
            ['built-in REST read',
                f'/{DATABASE}/rest/model/party.party/{party}', rest],
            ['seed REST read',
                f'/{DATABASE}/api/rest/model/party.party/{party}', endpoint],
            ]
        say(f"Counting ({requests} requests per row, under callgrind)…")
        counts = count(conf, DATABASE, user, rows, requests)
        for n, database in scaled.items():
            name = f'custom + {n:,} others'
            counts.update(count(conf, database, user, [[name,
                            f'/{database}/api/bench/party/{party}', {}]],
                    requests))
    report(counts)


RATIOS = [
    ('custom endpoint', 'floor'),
    ('seed REST read', 'built-in REST read'),
    ('custom + 10,000 others', 'custom + 10 others'),
    ]


def report(counts):
    say(f"\n{'row':<24} {'instructions/request':>22}")
    for name, value in counts.items():
        say(f"{name:<24} {value / 1e6:>20.3f} M")
    say("\nbase's instructions / row's (this process only; above 1: "
        "the row runs fewer):")
    for name, base in RATIOS:
        say(f"  {name} vs {base}: {counts[base] / counts[name]:.3f}")
