# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Tryton's own REST client, naiad, against the seed endpoints."""
from operator import attrgetter

import httpx
import respx
from naiad import Client, Record, set_delete, set_remove
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction
from trytond.wsgi import app

from .tools import EndpointRouteTestCase, make_key

BASE_URL = 'http://localhost:8000'


class NaiadTestCase(EndpointRouteTestCase):
    "naiad works unchanged with an endpoint key"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        Party = pool.get('party.party')
        Category = pool.get('party.category')
        cls.categories = [c.id for c in Category.create([
                    {'name': 'Red'}, {'name': 'Blue'}, {'name': 'Green'}])]
        cls.party_ids = [p.id for p in Party.create([{
                        'name': f'Naiad {i:02d}', 'code': f'N{i:02d}',
                        'addresses': [('create', [{'city': f'City {i}'}])],
                        } for i in range(1, 13)])]
        admin, = pool.get('res.user').search([('login', '=', 'admin')])
        cls.admin_key = make_key(admin)

    def setUp(self):
        super().setUp()
        mock = respx.mock(base_url=BASE_URL, assert_all_called=False)
        mock.start()
        self.addCleanup(mock.stop)
        mock.route().mock(side_effect=respx.WSGIHandler(app))

    def naiad(self, key=None, **kwargs):
        return Client(f'{BASE_URL}/{self.db_name}/api',
            key or self.alice_key, max_retries=0, **kwargs)

    def domain(self):
        return [('code', 'like', 'N%')]

    def test_search(self):
        "Search with domain, order and fields"
        records = self.naiad().search('party.party', domain=self.domain(),
            order=[('code', 'DESC')], fields=['code', 'name'])
        self.assertEqual(len(records), 12)
        self.assertEqual(records,
            sorted(records, key=attrgetter('code'), reverse=True))
        self.assertEqual(records[0].name, 'Naiad 12')
        self.assertEqual(records[0]._model, 'party.party')

    def test_search_default_fields(self):
        "Without fields, the __json__ ones"
        record, = self.naiad().search(
            'party.party', domain=[('code', '=', 'N01')])
        self.assertEqual(record.rec_name, 'Naiad 01')

    def test_search_range_limit_offset(self):
        "Range, limit and offset"
        client = self.naiad()
        all_records = client.search(
            'party.party', domain=self.domain(), order=[('code', 'ASC')])
        (start, end, size), records = client.search('party.party',
            domain=self.domain(), order=[('code', 'ASC')], range_=(2, 5))
        self.assertEqual((start, end, size), (2, 5, 12))
        self.assertEqual(records, all_records[2:5])
        self.assertEqual(client.search('party.party', domain=self.domain(),
                order=[('code', 'ASC')], limit=4), all_records[:4])
        self.assertEqual(client.search('party.party', domain=self.domain(),
                order=[('code', 'ASC')], offset=9), all_records[9:])

    def test_get(self):
        "Get a record with dotted fields"
        record = self.naiad().get('party.party', self.party_ids[0],
            fields=['name', 'addresses.city'])
        self.assertEqual(record.name, 'Naiad 01')
        address, = record.addresses
        self.assertIsInstance(address, Record)
        self.assertEqual(address.city, 'City 1')

    def test_create(self):
        "Create a record"
        record = self.naiad().create('party.party',
            {'name': 'Naiad new', 'addresses': [('create', [{}])]},
            fields=['name', 'addresses'])
        self.assertEqual(record.name, 'Naiad new')
        self.assertEqual(len(record.addresses), 1)
        self.assertIsNotNone(record.id)

    def test_update(self):
        "Update a record"
        record = self.naiad().update('party.party', self.party_ids[1],
            {'name': 'Naiad renamed'}, fields=['name', 'code'])
        self.assertEqual(record.name, 'Naiad renamed')
        self.assertEqual(record.code, 'N02')

    def test_store(self):
        "Store records with nested one2many and many2many changes"
        client = self.naiad()
        record = Record('party.party', name='Stored',
            addresses=[Record('party.address', city='Ath')],
            categories=[Record('party.category', id=self.categories[0])])
        fields = ['name', 'addresses.city', 'categories.name']
        record = client.store(record, fields=fields)
        self.assertEqual(record.name, 'Stored')
        self.assertEqual([a.city for a in record.addresses], ['Ath'])
        self.assertEqual([c.name for c in record.categories], ['Red'])

        record.name = 'Stored again'
        record.addresses = list(record.addresses) + [
            Record('party.address', city='Spa')]
        record.addresses[0].city = 'Ath-Centre'
        record.categories = [
            Record('party.category', id=self.categories[1])]
        with set_delete('party.party', 'addresses'), \
                set_remove('party.party', 'categories'):
            record = client.store(record, fields=fields)
        self.assertEqual(record.name, 'Stored again')
        self.assertEqual(sorted(a.city for a in record.addresses),
            ['Ath-Centre', 'Spa'])
        self.assertEqual([c.name for c in record.categories], ['Blue'])

        record.addresses = [record.addresses[0]]
        with set_delete('party.party', 'addresses'):
            record = client.store(record, fields=fields)
        self.assertEqual(len(record.addresses), 1)

    def test_delete(self):
        "Delete a record, then it is gone"
        client = self.naiad()
        record = client.create('party.party', {'name': 'Naiad doomed'})
        client.delete(record)
        with self.assertRaises(httpx.HTTPStatusError) as context:
            client.get('party.party', record.id)
        self.assertEqual(context.exception.response.status_code, 404)

    def test_action_model(self):
        "An RPC method of the model with keyword arguments"
        definitions = self.naiad().action('party.party', 'fields_get',
            kwargs={'fields_names': ['name', 'code']})
        self.assertEqual(set(definitions), {'name', 'code'})

    def test_action_record(self):
        "An RPC method on a record answers the record when it returns none"
        record = Record('party.party', id=self.party_ids[2])
        record = self.naiad().action(record, 'pre_validate', fields=['name'])
        self.assertIsInstance(record, Record)
        self.assertEqual(record.name, 'Naiad 03')
        resources = self.naiad().action(
            'party.party', 'resources', id=self.party_ids[2])
        self.assertEqual(resources['attachment_count'], 0)

    def test_report(self):
        "A report and its file name"
        filename, content = self.naiad().report(
            'party.label', self.party_ids[0])
        self.assertRegex(filename, r'\.odt$')
        self.assertIsInstance(content, bytes)
        self.assertTrue(content)

    def test_context_and_language(self):
        "Context, languages and usages headers are accepted"
        record, = self.naiad(context={'active_test': False},
            languages=['en', ('fr', .5)], usages=['x']).search(
            'party.party', domain=[('code', '=', 'N04')], fields=['name'])
        self.assertEqual(record.name, 'Naiad 04')

    def test_no_read_access(self):
        "A user without read access gets 403 and never the records"
        def set_read(value):
            with Transaction().start(DB_NAME, 0) as transaction:
                pool = Pool()
                Access = pool.get('ir.model.access')
                ModelData = pool.get('ir.model.data')
                access = Access(ModelData.get_id(
                        'party', 'access_party_category'))
                access.perm_read = value
                access.save()
                transaction.commit()

        set_read(False)
        self.addCleanup(set_read, True)
        client = self.naiad()
        for call in [
                lambda: client.search('party.category'),
                lambda: client.get('party.category', self.categories[0]),
                ]:
            with self.assertRaises(httpx.HTTPStatusError) as context:
                call()
            response = context.exception.response
            self.assertIn(response.status_code, {403, 404})
            self.assertNotIn('Red', response.text)
        # and not through a relation either
        record = client.get('party.party', self.party_ids[0],
            fields=['name', 'categories.name'])
        self.assertNotIn('categories', record)

    def test_admin_key_refused_on_users(self):
        "An admin's key still gets 403 on res.user"
        client = self.naiad(key=self.admin_key)
        with self.assertRaises(httpx.HTTPStatusError) as context:
            client.search('res.user')
        self.assertEqual(context.exception.response.status_code, 403)
        with self.assertRaises(httpx.HTTPStatusError) as context:
            client.action('res.user', 'get_preferences')
        self.assertEqual(context.exception.response.status_code, 403)
