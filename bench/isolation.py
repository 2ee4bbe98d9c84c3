# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What the sandbox process costs: ``./dev bench --isolation``.

In one process, no database: the time of a trivial run in a warm sandbox
process against the same run inline, the time of one round trip (a
snippet calling a method of an object of the server, as ``pool.get`` or
``Model.read`` do, against the same calls inline), and the memory of a
warm sandbox process (``VmRSS`` and ``Pss`` of ``/proc/<pid>``).
"""
import time
from statistics import median

from bench.common import say
from trytond_endpoint.sandbox import compile_snippet, run_snippet
from trytond_endpoint.sandbox_guards import PROXY_TYPES
from trytond_endpoint.sandbox_process import pool_for, run_isolated

MEMORY = 512 * 2 ** 20
CALLS = 200


class Helper:
    "Stands for the pool proxy: a method answering a little data"

    def read(self, ids, names):
        return [{'id': i, 'name': 'Party', 'code': '1'} for i in ids]


PROXY_TYPES.add(Helper)


def _timed(run, code, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(code)
        times.append(time.perf_counter() - start)
    return median(times)


def _status(pid, key):
    for name in ('status', 'smaps_rollup'):
        try:
            with open(f'/proc/{pid}/{name}') as file:
                for line in file:
                    if line.startswith(key + ':'):
                        return int(line.split()[1])
        except OSError:
            pass
    return 0


def run(repeat=300):
    trivial = "result['payload'] = {'ok': True}"
    calls = ("for i in range(%d):\n"
        "    rows = helper.read([i], ['name', 'code'])\n"
        "result['payload'] = rows" % CALLS)
    compiled = {code: compile_snippet(code, '<endpoint>')
        for code in (trivial, calls)}

    def inline(code):
        run_snippet(compiled[code], {'result': {}, 'helper': Helper()},
            timeout=5, memory=MEMORY)

    def isolated(code):
        run_isolated(code, {'result': {}, 'helper': Helper()}, timeout=5,
            memory=MEMORY)

    say("Warming a sandbox process…")
    start = time.perf_counter()
    isolated(trivial)
    first = time.perf_counter() - start
    for run_ in (inline, isolated):
        for code in (trivial, calls):
            _timed(run_, code, 20)
    figures = {}
    for name, run_ in (('inline', inline), ('process', isolated)):
        figures[name] = {
            'trivial': _timed(run_, trivial, repeat),
            'calls': _timed(run_, calls, max(repeat // 10, 10)),
            }
    sandbox = pool_for(MEMORY)._idle[0]
    rss = _status(sandbox.pid, 'VmRSS')
    pss = _status(sandbox.pid, 'Pss')
    say()
    say(f"first run (start of the process included): {first * 1e3:.0f} ms")
    for name in ('inline', 'process'):
        f = figures[name]
        say(f"{name:<8} trivial run {f['trivial'] * 1e6:8.1f} µs   "
            f"{CALLS} calls {f['calls'] * 1e3:8.2f} ms")
    extra = figures['process']['trivial'] - figures['inline']['trivial']
    trip = ((figures['process']['calls'] - figures['process']['trivial'])
        - (figures['inline']['calls'] - figures['inline']['trivial'])) / CALLS
    say(f"a run in the sandbox process costs {extra * 1e6:.0f} µs more "
        "than inline")
    say(f"one round trip (a method call of a server object, 3 rows back): "
        f"{trip * 1e6:.1f} µs more than the same call inline")
    say(f"warm sandbox process: VmRSS {rss / 1024:.1f} MB, "
        f"Pss {pss / 1024:.1f} MB, enforced {sandbox.enforced}")
