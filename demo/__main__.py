"""Start a demo server: ``./dev demo [--port 8000] [--reset]``.

Builds ``.demo/demo.sqlite`` with the endpoint and party modules, sample
endpoints and an application key, prints what to ``curl``, then serves
it with Tryton's own server.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / '.demo'
DB = 'demo'
ADMIN_PASSWORD = 'admin'


def config(port):
    HERE.mkdir(exist_ok=True)
    path = HERE / 'trytond.conf'
    path.write_text(
        "[database]\n"
        "uri = sqlite://\n"
        f"path = {HERE}\n"
        "[web]\n"
        f"listen = 127.0.0.1:{port}\n"
        "[session]\n"
        "max_attempt = 20\n")
    return path


def build(conf):
    (HERE / f'{DB}.sqlite').touch()
    password = HERE / 'admin-password'
    password.write_text(ADMIN_PASSWORD)
    env = dict(os.environ, TRYTONPASSFILE=str(password))
    bindir = Path(sys.executable).parent
    subprocess.run([bindir / 'trytond-admin', '-c', conf, '-d', DB,
            '--all', '--email', 'admin@example.com'], check=True, env=env)
    subprocess.run([bindir / 'trytond-admin', '-c', conf, '-d', DB,
            '-u', 'endpoint', 'party', '--activate-dependencies'],
        check=True, env=env)
    subprocess.run([sys.executable, '-m', 'demo.data', conf, DB],
        check=True, cwd=ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port', type=int, default=8000)
    parser.add_argument('--reset', action='store_true',
        help="rebuild the database")
    parser.add_argument('--build-only', action='store_true',
        help="build the database and exit")
    args = parser.parse_args()
    conf = config(args.port)
    if args.reset or not (HERE / 'key').exists():
        for path in HERE.glob(f'{DB}.sqlite*'):
            path.unlink()
        build(conf)
    key = (HERE / 'key').read_text().strip()
    base = f'http://127.0.0.1:{args.port}/{DB}/api'
    print(f"""
Demo server: {base}   (Tryton client: 127.0.0.1:{args.port}, database
"{DB}", login admin / {ADMIN_PASSWORD}; Administration > Endpoints)

API docs:    {base}/docs

  curl {base}/hello/world
  curl -X POST {base}/orders -H 'Content-Type: application/json' \\
       -d '{{"customer": "ACME", "lines": [{{"product": "P1", "qty": 2}}]}}'
  curl -X POST {base}/orders -H 'Content-Type: application/json' \\
       -d '{{"lines": [{{"qty": "two"}}]}}'          # 400 problem+json
  curl {base}/me -H 'Authorization: Bearer {key}'
  curl '{base}/parties?limit=2' -H 'Authorization: Bearer {key}'
  curl {base}/rest/model/party.party -H 'Authorization: Bearer {key}'
  curl {base}/openapi.json
""", flush=True)
    if args.build_only:
        return
    env = dict(os.environ, TRYTOND_DATABASE_NAMES=DB)
    bindir = Path(sys.executable).parent
    os.execve(bindir / 'trytond', [str(bindir / 'trytond'), '-c', str(conf)],
        env)


if __name__ == '__main__':
    main()
