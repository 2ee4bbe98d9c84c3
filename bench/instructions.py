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
from pathlib import Path

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

# The statistics writer flushes once per interval whatever the traffic;
# under callgrind a row lasts some fifty times longer than in service, so
# the flushes that fall in it would be charged fifty times over to its
# requests. The rows count the requests' own work (their share of the
# statistics included); ``./dev bench --statistics`` counts the flushes.
NO_FLUSH = {'TRYTOND_ENDPOINT__STATISTICS_INTERVAL': '3600'}


def count(conf, database, user, rows, requests, **env):
    """Instructions per request of each row, replayed against database:
    ``(server process, sandbox processes)``"""
    # One name per replay: callgrind numbers the dumps of each from 1.
    tag = database + ''.join(f'-{v}' for v in env.values())
    out = WORK / f'callgrind-{tag}'
    sandbox_out = WORK / f'callgrind-sandbox-{tag}'
    child = Child(conf, database, user, rows, requests,
        prefix=['valgrind', '--tool=callgrind',
            f'--callgrind-out-file={out}'],
        stderr=subprocess.DEVNULL,
        env={'BENCH_SANDBOX_CALLGRIND': str(sandbox_out), **env})
    counts = {}
    try:
        for name, _, _ in rows:
            child.expect('ready')
            sandboxes = _children(child.process.pid)
            for pid in [child.process.pid, *sandboxes]:
                _control(pid, '--zero')
            child.go()
            child.expect('done')
            before = set(WORK.glob('callgrind-*'))
            _control(child.process.pid, '--dump=' + name)
            server = _total(_new_dump_text(out, before)) / requests
            sandbox = 0
            for pid in sandboxes:
                _control(pid, '--dump=' + name)
                sandbox += _total(_new_dump_text(
                        WORK / f'{sandbox_out.name}.{pid}', before))
            counts[name] = (server, sandbox / requests)
            child.go()
        child.process.wait(60)
    finally:
        child.stop()
    return counts


def _children(pid):
    "The sandbox processes of the replay process (any of its threads)"
    pids = []
    for task in Path(f'/proc/{pid}/task').iterdir():
        try:
            pids += [int(p) for p in (task / 'children').read_text().split()]
        except OSError:
            pass
    return pids


def _control(pid, option):
    # By pid: without one, callgrind_control acts on every callgrind run
    # of the machine.
    subprocess.run(['callgrind_control', option, str(pid)],
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


def run(requests, only=None):
    """Count every row, or only those whose name contains one of only
    (the database copies with other endpoints are then made only when a
    row of theirs is asked for)."""
    def wanted(name):
        return not only or any(part in name for part in only)
    need_debian('valgrind')
    need_debian('callgrind_control', 'valgrind')
    say("Building the database (PostgreSQL, party, 1,000 parties)…")
    with Cluster() as cluster:
        conf = build(cluster)
        facts = orm(conf, 'init')
        party, user = facts['party'], facts['user']
        scaled = synced_copies(cluster, conf, [n for n in [10, 10000]
                if wanted(f'custom + {n:,} others')])
        rest = {'Authorization': f"Bearer {facts['keys']['rest']}"}
        endpoint = {'Authorization': f"Bearer {facts['keys']['endpoint']}"}
        rows = [
            ['floor', f'/{DATABASE}/bench/floor/party/{party}', {}],
            ['route, no transaction', f'/{DATABASE}/bench/bare', {}],
            ['route, SELECT 1', f'/{DATABASE}/bench/skeleton', {}],
            ['custom endpoint', f'/{DATABASE}/api/bench/party/{party}', {}],
            ['custom, rate-limited',
                f'/{DATABASE}/api/bench/limited/party/{party}', {}],
            ['built-in REST read',
                f'/{DATABASE}/rest/model/party.party/{party}', rest],
            ['seed REST read',
                f'/{DATABASE}/api/rest/model/party.party/{party}', endpoint],
            ['seed REST read, 304',
                f'/{DATABASE}/api/rest/model/party.party/{party}',
                {**endpoint, 'If-None-Match': '*'}],
            ['built-in REST list', f'/{DATABASE}/rest/model/party.party',
                {**rest, 'Range': 'records=0-49'}],
            ['seed REST list', f'/{DATABASE}/api/rest/model/party.party',
                {**endpoint, 'Range': 'records=0-49'}],
            ]
        rows = [row for row in rows if wanted(row[0])]
        say(f"Counting ({requests} requests per row, under callgrind)…")
        counts = count(conf, DATABASE, user, rows, requests,
            **NO_FLUSH) if rows else {}
        if wanted('custom endpoint, inline'):
            counts.update(count(conf, DATABASE, user, [[
                            'custom endpoint, inline',
                            f'/{DATABASE}/api/bench/party/{party}', {}]],
                    requests, TRYTOND_ENDPOINT__ISOLATION='inline',
                    **NO_FLUSH))
        for n, database in scaled.items():
            name = f'custom + {n:,} others'
            counts.update(count(conf, database, user, [[name,
                            f'/{database}/api/bench/party/{party}', {}]],
                    requests, **NO_FLUSH))
    report(counts)


RATIOS = [
    ('custom endpoint', 'floor'),
    ('custom endpoint, inline', 'floor'),
    ('custom, rate-limited', 'custom endpoint'),
    ('seed REST read', 'built-in REST read'),
    ('seed REST read, 304', 'floor'),
    ('seed REST read, 304', 'route, SELECT 1'),
    ('seed REST list', 'built-in REST list'),
    ('custom + 10,000 others', 'custom + 10 others'),
    ]


def report(counts):
    say(f"\n{'row':<24} {'server':>10} {'sandbox':>10} {'total':>10}"
        "  instructions/request")
    for name, (server, sandbox) in counts.items():
        say(f"{name:<24} {server / 1e6:>8.3f} M {sandbox / 1e6:>8.3f} M "
            f"{(server + sandbox) / 1e6:>8.3f} M")
    say("\nbase's instructions / row's (server and sandbox processes; "
        "above 1: the row runs fewer):")
    for name, base in RATIOS:
        if name in counts and base in counts:
            say(f"  {name} vs {base}: "
                f"{sum(counts[base]) / sum(counts[name]):.3f}")
