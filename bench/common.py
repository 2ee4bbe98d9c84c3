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


def orm(conf, *args, database=DATABASE):
    "Run a bench.orm command; its JSON answer"
    result = subprocess.run([sys.executable, '-m', 'bench.orm', str(conf),
            database, *map(str, args)], cwd=ROOT, env=clean_env(),
        capture_output=True, text=True, timeout=900)
    if result.returncode:
        raise SystemExit(f"bench.orm {args} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])
