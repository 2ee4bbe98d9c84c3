"""The whole suite: ruff, then every test on SQLite, then on PostgreSQL,
then the PostgreSQL server log of that run (``pglog.py``).

PostgreSQL runs in a throwaway cluster made for this run and removed
after it, so nothing outside the repository is needed but the server
binaries (``./dev test`` installs them from Debian when missing).
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))

import pglog  # noqa: E402
from pgcluster import Cluster  # noqa: E402


def run(args, env=None):
    import subprocess
    print('$', ' '.join(args), flush=True)
    return subprocess.call(args, cwd=ROOT, env=env)


def main(argv):
    python = sys.executable
    status = run([python, '-m', 'ruff', 'check', '.'])
    if status:
        return status
    pytest_args = ['-q', '-p', 'no:cacheprovider', *argv]
    env = dict(os.environ, TRYTOND_DATABASE__URI='sqlite://', DB_NAME='')
    env.pop('DB_NAME')
    print('== SQLite', flush=True)
    status = run([python, '-m', 'pytest', 'tests', *pytest_args], env=env)
    if status:
        return status
    print('== PostgreSQL', flush=True)
    with Cluster() as cluster:
        env = dict(os.environ, TRYTOND_DATABASE__URI=cluster.uri,
            DB_NAME='test_endpoint', ENDPOINT_TEST_BACKEND='postgresql')
        status = run([python, '-m', 'pytest', 'tests', *pytest_args],
            env=env)
        # Every ERROR the server logged during the run is a test's purpose
        # or a fault.
        log_status = pglog.report(cluster.log)
    return status or log_status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
