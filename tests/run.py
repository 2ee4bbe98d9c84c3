"""The whole suite: ruff, then every test on SQLite, then on PostgreSQL,
then the PostgreSQL server log of that run (``pglog.py``).

PostgreSQL runs in a throwaway cluster made for this run and removed
after it, so nothing outside the repository is needed but the server
binaries (``./dev test`` installs them from Debian when missing).

The tests marked ``backend_free`` (``conftest.py``) run in the SQLite
pass only: they never open a database, so a second pass would run the
very same code. They are the engine's tests (``test_contracts``,
``test_routing``, ``test_sandbox``, ``test_openapi``,
``test_problem_client``, ``test_isolation``), the log checker's
(``test_conformance_pglog``) and the unit test cases of helpers listed
in ``conftest.BACKEND_FREE`` (rules, headers, quotas, signatures, JWT
verification, spreadsheets, statistics buffers, driver error kinds).
The live-server tests already run in the SQLite pass only (their
servers are SQLite's whatever the pass), except those made for
PostgreSQL.

Each pass activates the modules once and copies the activated database
for every test case (trytond's ``DB_CACHE``: a file for SQLite, template
databases in the throwaway cluster for PostgreSQL), made fresh for the
run: a copy never outlives the code that made it.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))

import pglog  # noqa: E402
from pgcluster import Cluster  # noqa: E402


def run(args, env=None):
    import subprocess
    print('$', ' '.join(args), flush=True)
    return subprocess.call(args, cwd=ROOT, env=env)


def pytest_env(**values):
    "The environment of a pass, without the caller's test settings"
    env = {k: v for k, v in os.environ.items()
        if k not in {'DB_NAME', 'DB_CACHE', 'ENDPOINT_TEST_BACKEND'}}
    env.update(values)
    return env


def main(argv):
    python = sys.executable
    status = run([python, '-m', 'ruff', 'check', '.'])
    if status:
        return status
    pytest = [python, '-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider']
    print('== SQLite', flush=True)
    cache = tempfile.mkdtemp(prefix='endpoint-dbcache-')
    try:
        status = run([*pytest, *argv], env=pytest_env(
                TRYTOND_DATABASE__URI='sqlite://', DB_CACHE=cache))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if status:
        return status
    print('== PostgreSQL', flush=True)
    with Cluster() as cluster:
        env = pytest_env(TRYTOND_DATABASE__URI=cluster.uri,
            DB_NAME='test_endpoint', ENDPOINT_TEST_BACKEND='postgresql',
            DB_CACHE='postgresql://')
        status = run([*pytest, '-m', 'not backend_free', *argv], env=env)
        # Every ERROR the server logged during the run is a test's purpose
        # or a fault.
        log_status = pglog.report(cluster.log)
    return status or log_status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
