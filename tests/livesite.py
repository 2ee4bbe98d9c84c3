# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""A live server like the demo's, in a temporary folder, for HTTP tests.

``Site.start()`` gives a site a fresh SQLite database: a copy of one
built once per test process with ``trytond-admin``, the demo's data
(``demo/data.py``: its endpoints, parties, users and application key) and
the varied sample endpoints below; then the site's own data if any, and
serves it with gunicorn on a free loopback port. ``python -m
tests.livesite CONF DATABASE`` is the data step, run in a process of its
own so that the server never shares a cache with it.
"""
import atexit
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .pgcluster import clean_env, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE = 'live'
ADMIN_PASSWORD = 'admin-Secret-42'
CLERK_PASSWORD = 'Clerk-pass-42'

ITEM_SCHEMA = {
    'type': 'object',
    'required': ['id', 'label'],
    'properties': {
        'id': {'type': 'integer'},
        'label': {'type': 'string'},
        'tags': {'type': 'array', 'items': {'type': 'string'}},
        },
    }
QUERY_YAML = """\
type: object
required: [q]
properties:
  q: {type: string, minLength: 1, maxLength: 50}
  limit: {type: integer, minimum: 1, maximum: 20, default: 5}
  exact: {type: boolean, default: false}
  tag: {type: array, items: {type: string, maxLength: 20}, maxItems: 5}
  sort: {type: string, enum: [name, code]}
additionalProperties: false
"""
BASKET_YAML = """\
type: object
required: [items]
additionalProperties: false
properties:
  note: {type: string, maxLength: 200}
  items:
    type: array
    minItems: 1
    maxItems: 20
    items: {$ref: "#/$defs/item"}
$defs:
  item:
    type: object
    required: [sku, qty]
    additionalProperties: false
    properties:
      sku: {type: string, minLength: 1, maxLength: 20}
      qty: {type: integer, minimum: 1, maximum: 1000}
"""
BASKET_RESPONSE_YAML = """\
type: object
required: [count, total_qty]
properties:
  count: {type: integer, minimum: 1}
  total_qty: {type: integer, minimum: 1}
"""
ORDER_XSD = """\
<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="order">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="customer" type="xs:string"/>
        <xs:element name="qty" type="xs:positiveInteger"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""
FORM_YAML = """\
type: object
required: [name]
properties:
  name: {type: string, minLength: 2, maxLength: 50}
  age: {type: integer, minimum: 0, maximum: 150}
  newsletter: {type: boolean, default: false}
"""
UPLOAD_YAML = """\
type: object
required: [title, attachment]
properties:
  title: {type: string, minLength: 1, maxLength: 50}
  attachment: {type: string, format: binary}
"""


def _echo(name, cast=''):
    value = f"request.path_params['{name}']"
    return f"result['payload'] = {{'{name}': {cast}({value})}}\n"


# Varied endpoints on top of the demo's: each converter, a YAML query and
# body schema with $defs, XML with an XSD, form and multipart bodies, plain
# text and CSV, response schemas, each auth mode and each method.
SAMPLES = [
    dict(name="Sample int", route='/samples/int/<int:n>',
        code=_echo('n'), response_schema=json.dumps({
                'type': 'object', 'required': ['n'],
                'properties': {'n': {'type': 'integer', 'minimum': 0}}})),
    dict(name="Sample float", route='/samples/float/<float:x>',
        code=_echo('x')),
    dict(name="Sample uuid", route='/samples/uuid/<uuid:key>',
        code=_echo('key', 'str'), response_schema=json.dumps({
                'type': 'object', 'required': ['key'],
                'properties': {'key': {'type': 'string', 'format': 'uuid'}}})),
    dict(name="Sample path", route='/samples/files/<path:file>',
        code=_echo('file')),
    dict(name="Sample any", route='/samples/colour/<any(red,green):colour>',
        code=_echo('colour')),
    dict(name="Sample base64", route='/samples/b64/<base64:data>',
        code=_echo('data')),
    dict(name="Sample string", route='/samples/say/<string(maxlength=20):word>',
        code=_echo('word')),
    dict(name="Sample search", route='/samples/search',
        query_schema=QUERY_YAML, description="A query schema in YAML.",
        code="result['payload'] = {'args': dict(request.args)}\n"),
    dict(name="Sample basket", route='/samples/basket', method='POST',
        content_type='application/json', request_schema=BASKET_YAML,
        response_schema=BASKET_RESPONSE_YAML,
        code="items = request.json['items']\n"
        "result['payload'] = {'count': len(items),\n"
        "    'total_qty': sum(i['qty'] for i in items)}\n"),
    dict(name="Sample XML order", route='/samples/xml', method='POST',
        content_type='application/xml', request_schema=ORDER_XSD,
        code="result['payload'] = {'size': len(request.data)}\n"),
    dict(name="Sample form", route='/samples/form', method='POST',
        content_type='application/x-www-form-urlencoded',
        request_schema=FORM_YAML,
        code="result['payload'] = {'form': dict(request.form)}\n"),
    dict(name="Sample upload", route='/samples/upload', method='POST',
        content_type='multipart/form-data', request_schema=UPLOAD_YAML,
        code="result['payload'] = {'title': request.form['title'],\n"
        "    'files': sorted(request.files)}\n"),
    dict(name="Sample text", route='/samples/text', method='POST',
        content_type='text/plain',
        code="result['payload'] = {'length': len(request.text)}\n"),
    dict(name="Sample CSV", route='/samples/csv', method='POST',
        content_type='text/csv',
        code="result['payload'] = {'lines': len(request.text.splitlines())}\n"),
    dict(name="Sample user", route='/samples/whoami', auth='user',
        code="result['payload'] = {'login': user.login}\n",
        response_schema=json.dumps({'type': 'object', 'required': ['login'],
                'properties': {'login': {'type': 'string'}}})),
    dict(name="Sample item read", route='/samples/items/<int:id>',
        auth='application', response_schema=json.dumps(ITEM_SCHEMA),
        code="result['payload'] = {'id': request.path_params['id'],\n"
        "    'label': 'item %s' % request.path_params['id'], 'tags': []}\n"),
    dict(name="Sample item replace", route='/samples/items/<int:id>',
        method='PUT', auth='application', content_type='application/json',
        request_schema=json.dumps({'type': 'object', 'required': ['label'],
                'properties': {'label': {'type': 'string'}}}),
        response_schema=json.dumps(ITEM_SCHEMA),
        code="result['payload'] = {'id': request.path_params['id'],\n"
        "    'label': request.json['label']}\n"),
    dict(name="Sample item patch", route='/samples/items/<int:id>',
        method='PATCH', auth='application', content_type='application/json',
        request_schema=json.dumps({'type': 'object',
                'properties': {'tags': {'type': 'array',
                        'items': {'type': 'string'}}}}),
        code="result['payload'] = {'id': request.path_params['id'],\n"
        "    'label': 'item', 'tags': request.json.get('tags', [])}\n"),
    dict(name="Sample item delete", route='/samples/items/<int:id>',
        method='DELETE', auth='application', code="pass\n"),
    dict(name="Sample hidden", route='/samples/hidden', documented=False,
        code="result['payload'] = {'hidden': True}\n"),
    ]
for _sample in SAMPLES:
    _sample.setdefault('group', 'samples')
    _sample.setdefault('auth', 'public')
del _sample


def load(conf, database):
    "The demo's data, then a clerk with a password and the samples"
    from demo import data
    data.main(conf, database)

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        Endpoint = pool.get('endpoint.endpoint')
        web, = User.search([('login', '=', 'web')])
        User.create([{'login': 'clerk', 'name': 'Clerk',
                    'password': CLERK_PASSWORD}])
        samples = [dict(s, exec_user=web.id) if s['auth'] == 'public'
            else dict(s) for s in SAMPLES]
        Endpoint.sync(Endpoint.create(samples))
        transaction.commit()


_BASE = []


def base():
    """The folder of the database every site starts from, built at the
    first call of the process: the database file, its file store and the
    application key ``demo/data.py`` leaves beside the configuration."""
    if not _BASE:
        folder = Path(tempfile.mkdtemp(prefix='endpoint-live-base-'))
        try:
            conf = folder / 'trytond.conf'
            conf.write_text(configuration(folder))
            build(conf, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _BASE.append(folder)
    return _BASE[0]


def configuration(folder, extra=''):
    # Many failed logins are part of the tests: no brute-force lock.
    return ("[database]\nuri = sqlite://\n"
        f"path = {folder}\n"
        "[session]\nmax_attempt = 1000\n" + extra)


def build(conf, folder):
    "The database with the modules, the demo's data and the samples"
    (folder / f'{DATABASE}.sqlite').touch()
    password = folder / 'admin-password'
    password.write_text(ADMIN_PASSWORD)
    run([BIN / 'trytond-admin', '-c', conf, '-d', DATABASE, '--all',
            '--email', 'admin@example.com',
            '-u', 'endpoint', 'party', '--activate-dependencies'],
        env=clean_env(TRYTONPASSFILE=str(password)))
    run([sys.executable, '-m', 'tests.livesite', conf, DATABASE],
        env=clean_env(), cwd=ROOT)


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, timeout=300,
        **kwargs)
    if result.returncode:
        raise RuntimeError(f"{args[0]} failed:\n"
            + result.stderr.decode(errors='replace')[-3000:])


class Site:
    "A database in a temporary folder and gunicorn serving it"

    def __init__(self, workers=1, conf='', data=None):
        # conf: more configuration lines; data: a module run as
        # ``python -m data CONF DATABASE`` after the samples are loaded.
        self.extra_conf = conf
        self.data = data
        self.folder = Path(tempfile.mkdtemp(prefix='endpoint-live-'))
        self.database = DATABASE
        self.port = free_port()
        self.workers = workers
        self.process = None
        self.log = self.folder / 'server.log'
        self.key = None

    @property
    def root(self):
        return f'http://127.0.0.1:{self.port}'

    @property
    def base(self):
        "The mount: what the OpenAPI document's server is"
        return f'{self.root}/{self.database}/api'

    def start(self):
        try:
            self._build()
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def _build(self):
        # The extra configuration is the site's data step's and server's:
        # what the base is built with reads none of it.
        shutil.copytree(base(), self.folder, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns('trytond.conf'))
        self.conf = self.folder / 'trytond.conf'
        self.conf.write_text(configuration(self.folder, self.extra_conf))
        if self.data:
            run([sys.executable, '-m', self.data, self.conf,
                    self.database], env=clean_env(), cwd=ROOT)
        # demo/data.py leaves the key beside the configuration.
        self.key = (self.folder / 'key').read_text().strip()

    def _serve(self):
        env = clean_env(TRYTOND_CONFIG=str(self.conf),
            TRYTOND_DATABASE_NAMES=self.database,
            TRYTOND_LOGGING_LEVEL='30')
        with open(self.log, 'wb') as log:
            self.process = subprocess.Popen([BIN / 'gunicorn',
                    '-c', str(ROOT / 'gunicorn.conf.py'),
                    '-w', str(self.workers), '-b', f'127.0.0.1:{self.port}',
                    '--timeout', '60', '--graceful-timeout', '5',
                    'trytond.application:app'],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                status = self.fetch('/openapi.json', timeout=5)[0]
            except OSError:
                status = None
            if status == 200:
                return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start:\n" + self.log_tail())

    def fetch(self, path, method='GET', body=None, headers=None,
            timeout=10):
        "One request below the mount: (status, headers, body)"
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
            timeout=timeout)
        try:
            connection.request(method, f'/{self.database}/api{path}',
                body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def log_tail(self, size=6000):
        try:
            return self.log.read_text(errors='replace')[-size:]
        except OSError:
            return ''

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == '__main__':
    load(sys.argv[1], sys.argv[2])
