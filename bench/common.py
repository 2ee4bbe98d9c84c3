# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What the benchmarks share: the database they build and their tools."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / 'tests'))

# The tests' throwaway cluster, for the benchmarks too
from pgcluster import Cluster, clean_env, free_port  # noqa: E402

__all__ = ['Cluster', 'clean_env', 'free_port']

DATABASE = 'bench'
WORK = ROOT / '.bench'
PASSWORD = 'bench-Admin-42'


def say(*args):
    print(*args, flush=True)


def need_debian(command, package=None):
    "Install the Debian package of command when missing (as root)"
    package = package or command
    if shutil.which(command):
        return
    if os.getuid() == 0:
        say(f"Installing {package} from Debian…")
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        subprocess.run(['apt-get', 'update', '-qq'], env=env, check=True)
        subprocess.run(['apt-get', 'install', '-y', '-qq', package],
            env=env, check=True, stdout=subprocess.DEVNULL)
    if not shutil.which(command):
        raise SystemExit(f"The benchmark needs {command}: "
            f"sudo apt-get install -y {package}")




def build(cluster):
    conf = WORK / 'trytond.conf'
    conf.write_text(f"[database]\nuri = {cluster.uri}\n")
    password = WORK / 'password'
    password.write_text(PASSWORD)
    cluster_cmd(cluster, 'createdb', DATABASE)
    with open(WORK / 'admin.log', 'wb') as log:
        subprocess.run([BIN / 'trytond-admin', '-c', conf, '-d', DATABASE,
                '--all', '--email', 'admin@example.com',
                '-u', 'endpoint', 'party', '--activate-dependencies'],
            env=clean_env(TRYTONPASSFILE=str(password)), check=True,
            stdout=log, stderr=subprocess.STDOUT)
    return conf


def cluster_cmd(cluster, command, *args):
    subprocess.run(cluster._cmd(command, '-h', '127.0.0.1',
            '-p', str(cluster.port), '-U', 'postgres', *args), check=True)


def copy_database(cluster, name):
    "A copy of the built database, made before any server connects to it"
    cluster_cmd(cluster, 'createdb', '-T', DATABASE, name)


def synced_copies(cluster, conf, counts):
    "Copies of the built database, each with n other endpoints synced"
    copies = {n: f'{DATABASE}_{n}' for n in counts}
    for n, database in copies.items():
        copy_database(cluster, database)
        orm(conf, 'others', n, database=database)
        orm(conf, 'sync', database=database)
    return copies


def orm(conf, *args, database=DATABASE):
    "Run a bench.orm command; its JSON answer"
    result = subprocess.run([sys.executable, '-m', 'bench.orm', str(conf),
            database, *map(str, args)], cwd=ROOT, env=clean_env(),
        capture_output=True, text=True, timeout=900)
    if result.returncode:
        raise SystemExit(f"bench.orm {args} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Child:
    "A bench.replay process, stepped row by row"

    def __init__(self, conf, database, user, rows, requests, repeat=1,
            prefix=(), stderr=None, env=None):
        self.process = subprocess.Popen([*prefix, sys.executable, '-m',
                'bench.replay', json.dumps(rows), str(requests),
                str(repeat)],
            cwd=ROOT, env=clean_env(TRYTOND_CONFIG=str(conf),
                TRYTOND_DATABASE_NAMES=database, BENCH_USER=str(user),
                **(env or {})),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            text=True)

    def expect(self, word):
        line = self.process.stdout.readline()
        if not line.startswith(word):
            raise SystemExit(f"bench.replay: expected {word!r}, got "
                f"{line!r}; run it alone to see why")

    def go(self):
        "Let the child take its next step"
        self.process.stdin.write('\n')
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
