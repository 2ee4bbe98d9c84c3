# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Collections as spreadsheets, read back with openpyxl (another library
than the one that writes them)."""
import datetime as dt
import io
import json
import os
import unittest
from decimal import Decimal

import openpyxl
import pytest
from trytond import config
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint import xlsx
from trytond_endpoint.problem import Problem

from .livesite import Site
from .tools import EndpointRouteTestCase, bearer, define

XLSX = xlsx.MEDIA_TYPE
PROBLEM = 'application/problem+json'


def sheet_rows(data):
    "The rows of the first sheet: a header, then values as typed"
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sheet = workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows


def records(data):
    header, *rows = sheet_rows(data)
    return [dict(zip(header, row)) for row in rows]


class WriterTestCase(unittest.TestCase):
    "The workbook of a list of records, without a server"

    def test_types_kept(self):
        "Numbers, decimals, dates, times, booleans stay typed cells"
        data = [{'id': 1, '__name__': 'x', 'amount': Decimal('12.30'),
                'ratio': 0.25, 'day': dt.date(2026, 1, 2),
                'at': dt.datetime(2026, 1, 2, 10, 30, 5),
                'hour': dt.time(8, 15), 'ok': True, 'none': None,
                'name': 'Café', 'data': b'\x00\xff',
                'party': {'id': 7, 'name': 'Nested'},
                'tags': ['a', Decimal('1.5')]}]
        body = xlsx.encode(data, xlsx.Limits())
        row, = records(body)
        self.assertEqual(row['id'], 1)
        self.assertIsInstance(row['id'], int)
        self.assertEqual(row['amount'], 12.3)
        self.assertEqual(row['ratio'], 0.25)
        self.assertEqual(row['day'], dt.datetime(2026, 1, 2))
        self.assertEqual(row['at'], dt.datetime(2026, 1, 2, 10, 30, 5))
        self.assertEqual(row['hour'], dt.time(8, 15))
        self.assertIs(row['ok'], True)
        self.assertIsNone(row['none'])
        self.assertEqual(row['name'], 'Café')
        self.assertEqual(row['data'], 'AP8=')
        self.assertEqual(row['party.id'], 7)
        self.assertEqual(row['party.name'], 'Nested')
        self.assertEqual(json.loads(row['tags']), ['a', '1.5'])
        self.assertNotIn('__name__', row)
        # The decimal keeps its places on display, the date its format.
        workbook = openpyxl.load_workbook(io.BytesIO(body))
        sheet = workbook.worksheets[0]
        header = [c.value for c in sheet[1]]
        cells = {name: sheet.cell(2, i + 1) for i, name in enumerate(header)}
        self.assertEqual(cells['amount'].number_format, '0.00')
        self.assertEqual(cells['day'].number_format, 'yyyy-mm-dd')
        self.assertTrue(cells['at'].is_date)

    def test_exact_digits(self):
        "A decimal or integer a double can not hold is written as text"
        row, = records(xlsx.encode([{
                        'big': Decimal('1234567890.1234567890'),
                        'huge': 10 ** 20}], xlsx.Limits()))
        self.assertEqual(row['big'], '1234567890.1234567890')
        self.assertEqual(row['huge'], str(10 ** 20))

    def test_text_is_not_a_formula(self):
        "A text that looks like a formula or a link stays text"
        row, = records(xlsx.encode([{'a': '=1+1', 'b': 'http://x.example',
                        'c': '12'}], xlsx.Limits()))
        self.assertEqual(row, {'a': '=1+1', 'b': 'http://x.example',
                'c': '12'})

    def test_limits(self):
        "Too many rows or cells 400, a too long text 406, no list 406"
        limits = xlsx.Limits(max_rows=3, max_cells=8)
        self.assertEqual(len(records(xlsx.encode(
                        [{'a': i} for i in range(3)], limits))), 3)
        for data, status in [
                ([{'a': i} for i in range(4)], 400),
                ([{'a': 1, 'b': 2, 'c': 3}] * 3, 400),
                ([{'a': 'x' * (xlsx.CELL_CHARACTERS + 1)}], 406),
                ({'a': 1}, 406),
                ([1, 2], 406),
                ]:
            with self.subTest(status=status), \
                    self.assertRaises(Problem) as raised:
                xlsx.encode(data, limits)
            self.assertEqual(raised.exception.status, status)
        with self.assertRaises(Problem) as raised:
            limits.fetch_limit(4)
        self.assertEqual(raised.exception.status, 400)
        self.assertEqual(limits.fetch_limit(None), 4)
        self.assertEqual(limits.fetch_limit(2), 2)


class XlsxRouteTestCase(EndpointRouteTestCase):
    "Spreadsheets of the seed REST and of snippets"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        Party = Pool().get('party.party')
        Party.create([{'name': f'Sheet {i:02d}', 'code': f'SH{i:02d}'}
                for i in range(1, 8)])

    def get(self, path, headers=None, **kwargs):
        return self.client().get(self.url(path),
            headers={**bearer(self.alice_key), **(headers or {})}, **kwargs)

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        return json.loads(response.data)

    def limit_rows(self, rows):
        if not config.has_section('endpoint'):
            config.add_section('endpoint')
        config.set('endpoint', 'xlsx_max_rows', str(rows))
        self.addCleanup(config.set, 'endpoint', 'xlsx_max_rows', '10000')

    def test_seed_rest(self):
        "party.party as a spreadsheet by format, suffix or Accept"
        query = [('f', 'name'), ('f', 'code'), ('f', 'create_date'),
            ('o', 'W1siY29kZSIsICJBU0MiXV0=')]  # [["code", "ASC"]]
        for path, extra, headers in [
                ('/rest/model/party.party', [('format', 'xlsx')], None),
                ('/rest/model/party.party.xlsx', [], None),
                ('/rest/model/party.party', [], {'Accept': XLSX}),
                ]:
            with self.subTest(path=path, extra=extra, headers=headers):
                response = self.get(path, query_string=query + extra,
                    headers=headers)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(response.mimetype, XLSX)
                rows = [r for r in records(response.data)
                    if (r['code'] or '').startswith('SH')]
                self.assertEqual([r['name'] for r in rows],
                    [f'Sheet {i:02d}' for i in range(1, 8)])
                self.assertIsInstance(rows[0]['id'], int)
                self.assertIsInstance(rows[0]['create_date'], dt.datetime)

    def test_seed_rest_relation(self):
        "A sub-collection as a spreadsheet"
        with Transaction().start(DB_NAME, 0) as transaction:
            party, = Pool().get('party.party').create([{'name': 'Sheet rel',
                        'addresses': [('create', [{'city': 'Gent'},
                                    {'city': 'Namur'}])]}])
            transaction.commit()
        response = self.get(
            f'/rest/model/party.party/{party.id}/addresses.xlsx',
            query_string=[('f', 'city')])
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.mimetype, XLSX)
        self.assertEqual(sorted(r['city'] for r in records(response.data)),
            ['Gent', 'Namur'])

    def test_seed_rest_limits(self):
        "Over the row limit 400 (unpaged or asked), a page of it 200"
        self.limit_rows(3)
        body = self.assertProblem(
            self.get('/rest/model/party.party.xlsx'), 400)
        self.assertIn('at most 3 records', body['detail'])
        self.assertProblem(self.get('/rest/model/party.party.xlsx',
                query_string={'s': 4}), 400)
        self.assertProblem(self.get('/rest/model/party.party.xlsx',
                headers={'Range': 'records=0-9'}), 400)
        response = self.get('/rest/model/party.party.xlsx',
            query_string={'s': 3, 'p': 1})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(len(records(response.data)), 3)
        self.assertIn('rel="next"', response.headers['Link'])
        self.assertIn('.xlsx', response.headers['Link'].split(';')[0])
        response = self.get('/rest/model/party.party.xlsx',
            headers={'Range': 'records=0-2'})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(len(records(response.data)), 2)

    def test_record_is_no_sheet(self):
        "One record is not a collection: xlsx 406"
        with Transaction().start(DB_NAME, 0):
            party_id = Pool().get('party.party').search([], limit=1)[0].id
        self.assertProblem(self.get(f'/rest/model/party.party/{party_id}',
                query_string={'format': 'xlsx'}), 406)
        # JSON stays the answer to a browser's Accept
        response = self.get('/rest/model/party.party', headers={
                'Accept': f'application/json, {XLSX};q=0.5'})
        self.assertEqual(response.mimetype, 'application/json')

    def test_snippet_list(self):
        "A snippet's list of records, asked as a spreadsheet"
        define(route='/sheet/orders', aliases='/sheet/orders.xlsx',
            auth='application', code=(
                "result['payload'] = [\n"
                "    {'id': 1, 'total': Decimal('10.50'),\n"
                "     'day': datetime.date(2026, 3, 1), 'paid': True},\n"
                "    {'id': 2, 'total': Decimal('3.00'),\n"
                "     'day': datetime.date(2026, 3, 2), 'paid': False}]\n"
                "result['headers'] = {'X-Count': '2'}\n"))
        for path, kwargs in [
                ('/sheet/orders', {'query_string': {'format': 'xlsx'}}),
                ('/sheet/orders', {'headers': {'Accept': XLSX}}),
                ('/sheet/orders.xlsx', {}),
                ]:
            with self.subTest(path=path, **kwargs):
                response = self.get(path, **kwargs)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(response.mimetype, XLSX)
                self.assertEqual(response.headers['X-Count'], '2')
                self.assertEqual(records(response.data), [
                        {'id': 1, 'total': 10.5,
                            'day': dt.datetime(2026, 3, 1), 'paid': True},
                        {'id': 2, 'total': 3.0,
                            'day': dt.datetime(2026, 3, 2), 'paid': False}])
        response = self.get('/sheet/orders')
        self.assertEqual(response.mimetype, 'application/json')
        self.assertEqual(json.loads(response.data)[0]['id'], 1)

    def test_snippet_not_records(self):
        "A snippet answering an object can not be a spreadsheet: 406"
        define(route='/sheet/object', auth='application',
            code="result['payload'] = {'a': 1}\n")
        self.assertProblem(self.get('/sheet/object',
                query_string={'format': 'xlsx'}), 406)
        self.limit_rows(2)
        define(route='/sheet/many', auth='application',
            code="result['payload'] = [{'n': i} for i in range(5)]\n")
        self.assertProblem(self.get('/sheet/many',
                headers={'Accept': XLSX}), 400)


@pytest.mark.skipif(os.environ.get('ENDPOINT_TEST_BACKEND') == 'postgresql',
    reason="backend independent: runs in the SQLite pass only")
class LiveXlsxTestCase(unittest.TestCase):
    "party.party through a live server, read back by openpyxl"

    @classmethod
    def setUpClass(cls):
        cls.site = Site().start()
        cls.addClassCleanup(cls.site.stop)

    def test_parties(self):
        status, headers, body = self.site.fetch(
            '/rest/model/party.party.xlsx?f=name&f=code',
            headers=bearer(self.site.key))
        self.assertEqual(status, 200, body[:500])
        self.assertEqual(headers.get_content_type(), XLSX)
        rows = records(body)
        self.assertTrue(rows)
        for row in rows:
            self.assertIsInstance(row['id'], int)
            self.assertIsInstance(row['name'], str)
        status, headers, body = self.site.fetch(
            '/rest/model/party.party?f=name', headers={
                **bearer(self.site.key), 'Accept': XLSX})
        self.assertEqual(status, 200, body[:500])
        self.assertEqual(len(records(body)), len(rows))
