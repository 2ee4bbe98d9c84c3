# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Seed REST records as module code, and what they read."""
import json
from unittest import mock

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint import sandbox_process

from .tools import EndpointRouteTestCase, bearer, change, define

SANDBOX = 'trytond.modules.endpoint.isolation.run_isolated'
INLINE = 'trytond.modules.endpoint.isolation.run_snippet'
READ_CODE = ("params = request.path_params\n"
    "result['response'] = rest.read(params['model'], params['id'])\n")


class RestSeedTestCase(EndpointRouteTestCase):
    "Seeds as the module ships them run in the worker; nothing else does"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        Party = pool.get('party.party')
        with Transaction().set_user(cls.alice):
            cls.party, = Party.create([{'name': 'Seed party', 'code': 'S1'}])
        cls.party = cls.party.id
        cls.seed_read = pool.get('ir.model.data').get_id(
            'endpoint', 'rest_read')

    def read(self, path=None, headers=None):
        path = path or f'/rest/model/party.party/{self.party}'
        return self.client().get(self.url(path),
            headers={**bearer(self.alice_key), **(headers or {})})

    def assertRead(self, response):
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(json.loads(response.data), {'id': self.party,
                '__name__': 'party.party', 'rec_name': 'Seed party'})

    def assertSandboxed(self, path=None):
        "The read is answered, through the sandbox process"
        runs = []
        original = sandbox_process.run_isolated

        def counted(*args, **kwargs):
            runs.append(args[0])
            return original(*args, **kwargs)
        with mock.patch(SANDBOX, counted):
            self.assertRead(self.read(path))
        self.assertEqual(len(runs), 1)

    def test_seed_runs_without_sandbox(self):
        "The module's read record runs its code in the worker"
        with mock.patch(SANDBOX, side_effect=AssertionError('sandboxed')), \
                mock.patch(INLINE, side_effect=AssertionError('snippet')):
            self.assertRead(self.read())
            response = self.read(headers={'If-None-Match': '*'})
        self.assertEqual(response.status_code, 304, response.data)

    def test_same_text_elsewhere_is_sandboxed(self):
        "An admin's endpoint with the very same code text is a snippet"
        define(route='/mine/<model>/<int:id>', method='GET',
            auth='application', code=READ_CODE)
        self.assertSandboxed(f'/mine/party.party/{self.party}')

    def test_edited_seed_is_sandboxed(self):
        "A seed whose code changed is a snippet; its own text trusts it again"
        edited = READ_CODE + "# narrowed later\n"
        change(self.seed_read, sync=True, code=edited)
        try:
            self.assertSandboxed()
        finally:
            change(self.seed_read, sync=True, code=READ_CODE)
        with mock.patch(SANDBOX, side_effect=AssertionError('sandboxed')):
            self.assertRead(self.read())

    def test_rec_name_in_one_read(self):
        "The default body's rec_name is read with the record, in one read"
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
        original = Party.read
        reads = []

        def read(ids, fields_names):
            reads.append(sorted(fields_names))
            return original(ids, fields_names)
        with mock.patch.object(Party, 'read', staticmethod(read)):
            self.assertRead(self.read())
        self.assertEqual(len(reads), 1, reads)

    def test_not_modified_of_missing_record(self):
        "No record, no 304: a conditional read of an unknown id is 404"
        response = self.read('/rest/model/party.party/999999',
            headers={'If-None-Match': '*'})
        self.assertEqual(response.status_code, 404, response.data)
        tag = self.read().headers['ETag']
        self.assertEqual(self.read(headers={'If-None-Match': tag}
                ).status_code, 304)
