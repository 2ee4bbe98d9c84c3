"""A throwaway PostgreSQL cluster for tests and benchmarks, and what
their local server processes share."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def _bindir():
    for path in sorted(glob.glob('/usr/lib/postgresql/*/bin'), reverse=True):
        if os.path.exists(os.path.join(path, 'pg_ctl')):
            return path
    found = shutil.which('pg_ctl')
    if found:
        return os.path.dirname(found)
    raise RuntimeError("PostgreSQL is not installed (run ./dev test)")


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def clean_env(**extra):
    "The environment without the test suite's trytond settings"
    env = {k: v for k, v in os.environ.items()
        if not k.startswith('TRYTOND_') and k != 'DB_NAME'}
    env.update(extra)
    return env


class Cluster:
    "initdb + pg_ctl start in a temporary folder; stopped and removed after"

    def __init__(self, port=None):
        self.bindir = _bindir()
        self.port = port or free_port()
        self.path = tempfile.mkdtemp(prefix='endpoint-pg-')
        self.data = os.path.join(self.path, 'data')
        self.log = os.path.join(self.path, 'log')
        self.uri = f'postgresql://postgres@127.0.0.1:{self.port}/'
        self._user = None
        if os.getuid() == 0:
            # The server refuses to run as root.
            self._user = 'postgres'
            pw = pwd.getpwnam(self._user)
            os.chown(self.path, pw.pw_uid, pw.pw_gid)
            os.chmod(self.path, 0o755)

    def _cmd(self, *args):
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self._user:
            cmd = ['runuser', '-u', self._user, '--', *cmd]
        return cmd

    def _run(self, *args):
        subprocess.run(self._cmd(*args), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        if not os.path.exists(self.data):
            self._run('initdb', '-D', self.data, '-A', 'trust',
                '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8')
        options = (f'-p {self.port} -k {self.path} '
            '-c listen_addresses=127.0.0.1 -c fsync=off '
            '-c synchronous_commit=off -c full_page_writes=off '
            '-c max_connections=200')
        self._run('pg_ctl', '-D', self.data, '-o', options, '-w',
            '-l', self.log, 'start')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")

    def stop(self, mode='fast'):
        subprocess.run(self._cmd('pg_ctl', '-D', self.data, '-m', mode,
                '-w', 'stop'), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop('immediate')
        shutil.rmtree(self.path, ignore_errors=True)
