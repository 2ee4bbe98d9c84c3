# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""``fast_read.read`` answers what Tryton's ``read`` answers, and leaves
to it every read it does not run the same way."""
import datetime as dt
import json
from unittest import mock

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, define, make_user


def _fast_read():
    from trytond.modules.endpoint import fast_read
    return fast_read


def _rows(rows):
    return sorted((sorted(r.items()) for r in rows), key=str)


class FastReadTestCase(EndpointRouteTestCase):
    "The kept query reads what ModelSQL.read reads"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        Party = pool.get('party.party')
        Group = pool.get('res.group')
        RuleGroup = pool.get('ir.rule.group')
        parties = Party.create([
                {'name': 'Fast A', 'code': 'FA',
                    'addresses': [('create', [{'city': 'Liège',
                                    'street_unstructured': 'Rue 1',
                                    'postal_code': '4000'}])]},
                {'name': 'Fast B', 'code': 'FB', 'active': False},
                {'name': 'Hidden C', 'code': 'HC'},
                ])
        cls.parties = [p.id for p in parties]
        cls.address = parties[0].addresses[0].id
        # Ruled may read only the parties named "Fast …"
        ruled, = Group.create([{'name': 'Ruled'}])
        RuleGroup.create([{
                    'name': 'Fast parties', 'model': 'party.party',
                    'global_p': False, 'default_p': False,
                    'groups': [('add', [ruled.id])],
                    'rules': [('create', [{
                                    'domain': json.dumps(
                                        [('name', 'like', 'Fast%')])}])],
                    }])
        user = make_user('ruled')
        user.groups = [ruled]
        user.save()
        cls.ruled = user.id

    def transaction(self, user=None, **context):
        if user == 0:
            return Transaction().start(DB_NAME, 0, context=context)
        return Transaction().start(DB_NAME, user or self.alice,
            context={'_check_access': True, **context})

    def assertSame(self, model, ids, names, fast=True):
        "Both reads give the same rows; the kept query ran when fast"
        Model = Pool().get(model)
        fast_read = _fast_read()
        expected = Model.read(ids, names)
        # The kept query's parameters are bound only when it runs.
        with mock.patch.object(fast_read, '_bound',
                wraps=fast_read._bound) as bound:
            rows = fast_read.read(Model, ids, names)
        self.assertEqual(_rows(rows), _rows(expected))
        self.assertEqual(bound.called, fast)
        return rows

    def test_plain_columns(self):
        "Columns of every plain kind, with and without id, duplicate ids"
        with self.transaction():
            for model, ids, names in [
                    ('party.party', self.parties, ['name', 'code']),
                    ('party.party', self.parties[:1], ['id', 'name']),
                    ('party.party', [*self.parties, self.parties[0]],
                        ['active', 'create_date', 'write_date']),
                    ('party.address', [self.address],
                        ['party', 'city', 'street_unstructured',
                            'postal_code', 'sequence', 'active']),
                    ]:
                with self.subTest(model=model, names=names):
                    rows = self.assertSame(model, ids, names)
                    self.assertEqual(len(rows), len(set(ids)))
                    self.assertTrue(all('id' in r for r in rows))

    def test_pseudo_fields(self):
        "The record's timestamp and model name, as Tryton reads them"
        with self.transaction():
            for names in [['_timestamp'], ['__name__'],
                    ['__name__', 'id', '_timestamp', 'name']]:
                with self.subTest(names=names):
                    rows = self.assertSame('party.party', self.parties,
                        names)
                    for row in rows:
                        self.assertEqual(set(row), {'id', *names})

    def test_many_ids(self):
        "Past MAX_IDS, one array of ids where the database has arrays"
        from trytond import backend
        fast_read = _fast_read()
        with self.transaction(user=0):
            Party = Pool().get('party.party')
            many = [p.id for p in Party.create(
                    [{'name': f'Many {i}'} for i in range(40)])]
        with self.transaction():
            arrays = backend.Database.has_array()
            for ids in [many, many[:fast_read.MAX_IDS], many[::-1] + many]:
                with self.subTest(count=len(ids)):
                    self.assertSame('party.party', ids,
                        ['name', '_timestamp'],
                        fast=arrays or len(ids) <= fast_read.MAX_IDS)
            if arrays:
                # One kept text for every number of ids.
                fast_read._query.cache_clear()
                for count in [1, 5, 40]:
                    fast_read.read(Party, many[:count], ['name'])
                self.assertEqual(fast_read._query.cache_info().currsize, 1)

    def test_search_read(self):
        "search_read reads its page by the kept query, in the search order"
        fast_read = _fast_read()
        with self.transaction():
            Party = Pool().get('party.party')
            for order in [[('name', 'DESC')], [('code', 'ASC')], None]:
                with self.subTest(order=order):
                    args = ([('name', 'like', 'Fast%')], 0, 10, order,
                        ['name', '__name__', '_timestamp'])
                    expected = Party.search_read(*args)
                    with mock.patch.object(fast_read, '_bound',
                            wraps=fast_read._bound) as bound:
                        rows = fast_read.search_read(Party, *args)
                    self.assertEqual(rows, expected)
                    self.assertTrue(bound.called)
            self.assertEqual(fast_read.search_read(
                    Party, [('name', '=', 'none such')]), [])

    def test_many2one_is_an_id(self):
        with self.transaction():
            row, = self.assertSame(
                'party.address', [self.address], ['party'])
            self.assertEqual(row['party'], self.parties[0])

    def test_left_to_tryton(self):
        "Getters, paths, pseudo fields, no field: Tryton reads them"
        with self.transaction():
            for names in [['rec_name'], ['name', 'rec_name'],
                    ['addresses'], ['addresses.city'],
                    [], ['name', 'name'],
                    ['lang']]:
                with self.subTest(names=names):
                    self.assertSame('party.party', self.parties[:2], names,
                        fast=False)

    def test_translated_field(self):
        "A translated field is Tryton's to read"
        with self.transaction(user=0):
            Category = Pool().get('party.category')
            category, = Category.create([{'name': 'Fast category'}])
            self.assertTrue(Category.name.translate)
            self.assertSame('party.category', [category.id], ['name'],
                fast=False)

    def test_missing_record(self):
        "A missing id raises Tryton's own error"
        with self.transaction():
            Party = Pool().get('party.party')
            with self.assertRaises(AccessError) as tryton:
                Party.read([self.parties[0], 10 ** 6], ['name'])
            with self.assertRaises(AccessError) as fast:
                _fast_read().read(Party, [self.parties[0], 10 ** 6],
                    ['name'])
            self.assertEqual(str(fast.exception), str(tryton.exception))

    def test_record_rule(self):
        "Under a record rule Tryton reads: the hidden record is refused"
        with self.transaction(user=self.ruled):
            self.assertSame('party.party', self.parties[:2], ['name'],
                fast=False)
            Party = Pool().get('party.party')
            with self.assertRaises(AccessError):
                _fast_read().read(Party, self.parties, ['name'])

    def test_field_access(self):
        "A field the user may not read is refused before any query"
        with self.transaction(user=0):
            Pool().get('ir.model.field.access').create([{
                        'model': 'party.party', 'field': 'code',
                        'perm_read': False}])
            Transaction().commit()
        try:
            with self.transaction():
                Party = Pool().get('party.party')
                with self.assertRaises(AccessError) as tryton:
                    Party.read(self.parties, ['name', 'code'])
                with self.assertRaises(AccessError) as fast:
                    _fast_read().read(Party, self.parties, ['name', 'code'])
                self.assertEqual(
                    str(fast.exception), str(tryton.exception))
        finally:
            with self.transaction(user=0):
                FieldAccess = Pool().get('ir.model.field.access')
                FieldAccess.delete(FieldAccess.search(
                        [('model', '=', 'party.party')]))
                Transaction().commit()

    def test_model_access(self):
        "A model the user may not read is refused"
        with self.transaction(user=0):
            Pool().get('ir.model.access').create([{
                        'model': 'party.address', 'perm_read': False}])
            Transaction().commit()
        try:
            with self.transaction():
                Address = Pool().get('party.address')
                with self.assertRaises(AccessError):
                    _fast_read().read(Address, [self.address], ['city'])
        finally:
            with self.transaction(user=0):
                Access = Pool().get('ir.model.access')
                Access.delete(Access.search(
                        [('model', '=', 'party.address'),
                            ('group', '=', None)]))
                Transaction().commit()

    def test_overridden_read(self):
        "A model that reads in its own way is read by Tryton"
        with self.transaction():
            Party = Pool().get('party.party')

            @classmethod
            def _after_read(cls, vlist):
                return vlist
            with mock.patch.object(Party, '_after_read', _after_read):
                self.assertSame('party.party', self.parties[:1], ['name'],
                    fast=False)

    def test_history_asked(self):
        "A read at a date of a model with history is Tryton's"
        with self.transaction():
            Party = Pool().get('party.party')
            with mock.patch.object(Party, '_history', True):
                with Transaction().set_context(_datetime=None):
                    self.assertSame('party.party', self.parties[:1],
                        ['name'])
                with Transaction().set_context(_datetime=dt.datetime.now()):
                    self.assertFalse(_fast_read().reads_as_tryton(Party))

    def test_snippet_reads_no_hidden_record(self):
        "A snippet run as a ruled user reads no record its rule hides"
        route = '/fast/ruled/<int:id>'
        define(route=route, auth='public', exec_user=self.ruled, code=(
                "rows = pool.get('party.party').read(\n"
                "    [request.path_params['id']], ['name', 'code'])\n"
                "result['payload'] = rows\n"))
        url = self.url('/fast/ruled/%s')
        shown = self.client().get(url % self.parties[0])
        self.assertEqual(shown.status_code, 200, shown.data)
        self.assertIn(b'Fast A', shown.data)
        hidden = self.client().get(url % self.parties[2])
        self.assertEqual(hidden.status_code, 403, hidden.data)
        self.assertNotIn(b'Hidden C', hidden.data)
        self.assertNotIn(b'HC', hidden.data)

    def test_first_read_made_before_the_run(self):
        "A snippet's first read is made before its run, under its rules"
        from trytond_endpoint.sandbox_process import SandboxProcess
        for route, code in [
                ('/fast/first/<int:id>',
                    "rows = pool.get('party.party').read(\n"
                    "    [request.path_params['id']], ['name', 'code'])\n"
                    "result['payload'] = rows\n"),
                ('/fast/aliased/<int:id>',
                    "Party = pool.get('party.party')\n"
                    "party, = Party.read([request.path_params['id']],\n"
                    "    ['name'])\n"
                    "result['payload'] = [party]\n")]:
            with self.subTest(route=route):
                define(route=route, auth='public', exec_user=self.ruled,
                    code=code)
                url = self.url(route.replace('<int:id>', '%s'))
                with mock.patch.object(SandboxProcess, '_serve',
                        autospec=True,
                        side_effect=SandboxProcess._serve) as served:
                    shown = self.client().get(url % self.parties[0])
                self.assertEqual(shown.status_code, 200, shown.data)
                self.assertEqual(json.loads(shown.data)[0]['name'], 'Fast A')
                # No round trip: the read came with the run.
                self.assertEqual(served.call_count, 0)
                with mock.patch.object(SandboxProcess, '_serve',
                        autospec=True,
                        side_effect=SandboxProcess._serve) as served:
                    hidden = self.client().get(url % self.parties[2])
                # Refused beforehand, made again by the snippet: refused.
                self.assertEqual(hidden.status_code, 403, hidden.data)
                self.assertNotIn(b'Hidden C', hidden.data)
                self.assertEqual(served.call_count, 1)

    def test_first_read_only_when_certain(self):
        "Only a read the snippet surely makes first is made before"
        from trytond.modules.endpoint.isolation import _first_read
        read = "pool.get('party.party').read([request.path_params['id']], ['name'])"
        self.assertEqual(_first_read(f"rows = {read}\n"),
            ('party.party', (('param', 'id'),), ('name',)))
        self.assertEqual(_first_read(
                "P = pool.get('party.party')\nP.read([3, 4], ['code'])\n"),
            ('party.party', (('id', 3), ('id', 4)), ('code',)))
        for code in [
                f"if request.args:\n    {read}\n",
                f"log('first')\n{read}\n",
                f"pool.get('party.party').write([], {{}})\n{read}\n",
                "pool.get('party.party').read([True], ['name'])\n",
                "pool.get('party.party').read(ids, ['name'])\n",
                "pool.get('party.party').read([1], fields)\n",
                "pool.get('party.party').read([1], ['name'], x=1)\n",
                "P = pool.get(name)\nP.read([1], ['name'])\n",
                "P.read([1], ['name'])\n",
                "pool.get('party.party').search_read([], fields_names=[])\n",
                ]:
            with self.subTest(code=code):
                self.assertIsNone(_first_read(code))
