# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import json
from unittest import mock

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, bearer, make_key, make_user


class RestListRecNameTestCase(EndpointRouteTestCase):
    "rec_name of the seed REST list, computed without re-reading the records"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        Party = pool.get('party.party')
        Group = pool.get('res.group')
        FieldAccess = pool.get('ir.model.field.access')
        # Carol may not read the names of parties.
        no_names, = Group.create([{'name': 'No names'}])
        carol = make_user('carol')
        carol.groups = [no_names]
        carol.save()
        cls.carol_key = make_key(carol)
        FieldAccess.create([{
                    'model': 'party.party', 'field': 'name',
                    'group': no_names.id, 'perm_read': False,
                    'perm_write': False, 'perm_create': False,
                    'perm_delete': False}])
        parties = Party.create([
                {'name': f'Party {i:02d}', 'code': f'P{i:02d}'}
                for i in range(1, 6)])
        # Its getter shows the code: a field the list does not read.
        nameless, = Party.create([{'name': None, 'code': 'NONAME'}])
        cls.rec_names = {p.id: p.name for p in parties}
        cls.rec_names[nameless.id] = '[NONAME]'

    def list(self, key=None, **kwargs):
        response = self.client().get(self.url('/rest/model/party.party'),
            headers={**bearer(key or self.alice_key),
                'Range': 'records=0-49'}, **kwargs)
        self.assertEqual(response.status_code, 200, response.data)
        return response, json.loads(response.data)

    def test_rec_names(self):
        "Each row's rec_name as the model's getter gives it"
        _, rows = self.list()
        self.assertEqual({r['id']: r['rec_name'] for r in rows},
            self.rec_names)
        self.assertEqual({tuple(r) for r in rows},
            {('id', '__name__', 'rec_name')})

    def test_hidden_rec_name_column(self):
        """A user who may not read the name gets neither it nor rec_name,
        which shows it (the policy's rule), and no error"""
        for query in [None, [('f', 'name'), ('f', 'rec_name')]]:
            with self.subTest(query=query):
                _, rows = self.list(self.carol_key, query_string=query)
                self.assertEqual({r['id'] for r in rows},
                    set(self.rec_names))
                self.assertEqual({tuple(r) for r in rows},
                    {('id', '__name__')})

    def test_records_one_by_one(self):
        """The getter runs on records that each hold their own id, not the
        page's ids (which Tryton checks for every record: n² steps), and
        without access checks, as Tryton's Function fields do"""
        Party = Pool(DB_NAME).get('party.party')
        seen = []
        getter = Party.get_rec_name

        def spy(record, name):
            seen.append((list(record._ids),
                    Transaction().context.get('_check_access')))
            return getter(record, name)
        with mock.patch.object(Party, 'get_rec_name', spy):
            _, rows = self.list()
        self.assertEqual(len(seen), len(rows))
        self.assertEqual(seen, [([r['id']], False) for r in rows])

    def test_search_without_prefetch(self):
        "The list's search leaves the rows' columns to the read after it"
        Party = Pool(DB_NAME).get('party.party')
        prefetch = []
        search = Party.search

        def spy(*args, **kwargs):
            prefetch.append((kwargs.get('count', False),
                    Transaction().context.get('_search_prefetch', True)))
            return search(*args, **kwargs)
        with mock.patch.object(Party, 'search', spy):
            self.list()
        self.assertIn((False, False), prefetch)
        self.assertNotIn((False, True), prefetch)
