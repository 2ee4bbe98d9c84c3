# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Replay requests in process, row by row, at the parent's signal.

``python -m bench.replay <rows JSON> <requests> [<repeat>]``: the rows
are ``[name, path, headers]``; each is warmed up, then, for each row, the
process prints ``ready <name>``, waits for a line on stdin, sends the
requests, prints ``done <name>`` and waits again; all rows ``repeat``
times (once by default).  ``bench.instructions`` zeroes and dumps
callgrind's counters around each row, ``bench.map_size`` times it,
both through :class:`bench.common.Child`.
"""
import json
import os
import shutil
import sys

from werkzeug.test import Client

from bench.floor_app import app

WARM_UP = 50
# The sandbox process under callgrind too: without the walls, which would
# refuse callgrind its output file (they cost no instruction in the
# process; the kernel runs them).
_UNWALLED = ('import sys; sys.path.insert(0, sys.argv.pop(1)); '
    'from trytond_endpoint import sandbox_process_limits as limits; '
    'limits.landlock = lambda: 0; limits.seccomp = lambda: False; '
    'limits.set_rlimits = lambda memory, cpu: {}; '
    'limits.set_cpu_budget = lambda seconds: 0; '
    'from trytond_endpoint.sandbox_process_child import main; '
    'main(sys.argv[1:])')


def _sandbox_under_callgrind(out):
    from trytond_endpoint import sandbox_process
    valgrind = shutil.which('valgrind')

    def command(*args):
        return [valgrind, '--tool=callgrind',
            f'--callgrind-out-file={out}.%p', sys.executable, '-I', '-c',
            _UNWALLED, sandbox_process._ROOT, *args]
    sandbox_process.command = command
    # Python starts some fifty times slower under callgrind.
    sandbox_process.STARTUP_TIMEOUT = 900


def main():
    rows = json.loads(sys.argv[1])
    requests = int(sys.argv[2])
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if os.environ.get('BENCH_SANDBOX_CALLGRIND'):
        _sandbox_under_callgrind(os.environ['BENCH_SANDBOX_CALLGRIND'])
    client = Client(app)
    for name, path, headers in rows:
        for _ in range(WARM_UP):
            response = client.get(path, headers=headers)
            # A conditional GET is answered 304, the others 200.
            if response.status_code not in {200, 304}:
                raise SystemExit(f"{name}: {response.status_code} "
                    f"{response.get_data(as_text=True)[:200]}")
    for _ in range(repeat):
        for name, path, headers in rows:
            print('ready', name, flush=True)
            sys.stdin.readline()
            for _ in range(requests):
                client.get(path, headers=headers)
            print('done', name, flush=True)
            sys.stdin.readline()


if __name__ == '__main__':
    main()
