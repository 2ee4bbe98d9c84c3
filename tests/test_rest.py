# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import base64
import csv
import datetime as dt
import io
import json
from decimal import Decimal

from lxml import etree
from trytond.pool import Pool
from trytond.protocols.jsonrpc import JSONDecoder, JSONEncoder
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import (
    EndpointRouteTestCase,
    bearer,
    define,
    make_key,
    make_user,
    tryton_context,
)

PROBLEM = 'application/problem+json'
_decoder = JSONDecoder()


def b64(value):
    "A query parameter as the built-in API reads it"
    return base64.urlsafe_b64encode(
        json.dumps(value, cls=JSONEncoder).encode()).decode()


def loads(response):
    return json.loads(response.data, object_hook=_decoder)


def dumps(value):
    return json.dumps(value, cls=JSONEncoder)


class RestTestCase(EndpointRouteTestCase):
    "The REST seed endpoints"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        Party = pool.get('party.party')
        Category = pool.get('party.category')
        Access = pool.get('ir.model.access')
        Group = pool.get('res.group')
        RuleGroup = pool.get('ir.rule.group')
        admin, = pool.get('res.user').search([('login', '=', 'admin')])
        cls.admin_key = make_key(admin)
        # Bob sees only the parties named "Public …"
        hidden, = Group.create([{'name': 'Restricted'}])
        bob = make_user('bob')
        bob.groups = [hidden]
        bob.save()
        cls.bob_key = make_key(bob)
        RuleGroup.create([{
                    'name': 'Public parties', 'model': 'party.party',
                    'global_p': False, 'default_p': False,
                    'groups': [('add', [hidden.id])],
                    'rules': [('create', [{
                                    'domain': json.dumps(
                                        [('name', 'like', 'Public%')])}])],
                    }])
        # Nobody may read identifiers
        Access.create([{
                    'model': 'party.identifier',
                    'perm_read': False, 'perm_write': False,
                    'perm_create': False, 'perm_delete': False}])
        cls.categories = [c.id for c in Category.create([
                    {'name': 'Customer'}, {'name': 'Supplier'}])]
        parties = Party.create([{
                    'name': f'Party {i:02d}', 'code': f'P{i:02d}',
                    'addresses': [('create', [
                                {'street': f'{i} Main Street',
                                    'city': 'Liège', 'postal_code': '4000'},
                                {'street': f'{i} Side Street',
                                    'city': 'Namur'}])],
                    'contact_mechanisms': [('create', [
                                {'type': 'email',
                                    'value': f'party{i}@example.com'}])],
                    'categories': [('add', cls.categories[:1 + i % 2])],
                    } for i in range(1, 26)])
        Party.create([{'name': 'Public One', 'code': 'PUB1'}])
        cls.party_ids = [p.id for p in parties]

    def get(self, path, key=None, headers=None, **kwargs):
        return self.client().get(self.url(path),
            headers={**bearer(key or self.alice_key), **(headers or {})},
            **kwargs)

    def send(self, method, path, body=None, key=None, headers=None,
            **kwargs):
        return self.client().open(self.url(path), method=method,
            data=dumps(body) if body is not None else b'',
            content_type='application/json',
            headers={**bearer(key or self.alice_key), **(headers or {})},
            **kwargs)

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        body = json.loads(response.data)
        self.assertEqual(body['status'], status)
        return body

    # Search

    def test_search_default_fields(self):
        "Search answers __json__ fields, id and __name__ as Tryton JSON"
        response = self.get('/rest/model/party.party',
            query_string={'d': b64([('code', '=', 'P01')])})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.headers['Content-Type'], 'application/json')
        self.assertEqual(loads(response), [{
                    'id': self.party_ids[0], '__name__': 'party.party',
                    'rec_name': 'Party 01'}])
        self.assertEqual(response.headers['Content-Language'], 'en')

    def test_search_unauthenticated(self):
        "No key 401 with a Bearer challenge; a key of another application 401"
        response = self.client().get(self.url('/rest/model/party.party'))
        self.assertProblem(response, 401)
        self.assertIn('Bearer', response.headers['WWW-Authenticate'])
        self.assertProblem(
            self.get('/rest/model/party.party', key=self.rest_key), 401)

    def test_search_fields_dotted(self):
        "f with dotted paths reads related records as nested objects"
        response = self.get('/rest/model/party.party', query_string=[
                ('d', b64([('code', '=', 'P02')])),
                ('f', 'name'), ('f', 'addresses.city'), ('f', 'categories'),
                ])
        record, = loads(response)
        self.assertEqual(record['name'], 'Party 02')
        self.assertEqual(record['categories'], self.categories[:1])
        self.assertEqual(
            {a['city'] for a in record['addresses']}, {'Liège', 'Namur'})
        self.assertEqual(
            record['addresses'][0]['__name__'], 'party.address')
        self.assertIn('id', record['addresses'][0])

    def test_search_order_limit_offset(self):
        "o, s and p order and page the search"
        query = {'d': b64([('code', 'like', 'P__')]),
            'o': b64([('code', 'DESC')]), 's': 3, 'p': 2, 'f': 'code'}
        response = self.get('/rest/model/party.party', query_string=query)
        self.assertEqual(
            [r['code'] for r in loads(response)], ['P23', 'P22', 'P21'])
        self.assertIn('rel="next"', response.headers['Link'])
        self.assertIn('rel="prev"', response.headers['Link'])

    def test_search_range(self):
        "Range answers Content-Range as the built-in does"
        domain = b64([('code', 'like', 'P__')])
        response = self.get('/rest/model/party.party',
            query_string={'d': domain, 'o': b64([('code', 'ASC')])},
            headers={'Range': 'records=5-10'})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(loads(response)), 5)
        self.assertEqual(response.headers['Accept-Ranges'], 'records')
        self.assertEqual(response.headers['Content-Range'], 'records 5-10/25')

        # The count stops at ten times the end of the range
        response = self.get('/rest/model/party.party',
            query_string={'d': domain}, headers={'Range': 'records=0-2'})
        self.assertEqual(response.headers['Content-Range'], 'records 0-2/*')

        # A short last page knows the total
        response = self.get('/rest/model/party.party',
            query_string={'d': domain}, headers={'Range': 'records=20-30'})
        self.assertEqual(
            response.headers['Content-Range'], 'records 20-25/25')

        response = self.get('/rest/model/party.party',
            query_string={'d': domain}, headers={'Range': 'records=50-60'})
        self.assertProblem(response, 416)

        for bad in ['records=a-b', 'records=9-3', 'records']:
            with self.subTest(range=bad):
                self.assertProblem(self.get('/rest/model/party.party',
                        headers={'Range': bad}), 400)

    def test_search_bad_parameters(self):
        "Bad base64 or JSON in d and o, unknown fields: 400, never 500"
        bad = [
            {'d': '!!!'},
            {'d': base64.urlsafe_b64encode(b'[').decode()},
            {'d': b64({'name': 'x'})},
            {'d': b64([('nope', '=', 1)])},
            {'d': b64([('name', 'bogus', 1)])},
            {'o': b64([('nope', 'ASC')])},
            {'o': b64([('name', 'sideways')])},
            {'o': b64('name')},
            {'f': 'nope'},
            {'f': 'name.city'},
            {'s': 'x'},
            {'p': '-1'},
            ]
        for query in bad:
            with self.subTest(query=query):
                body = self.assertProblem(self.get(
                        '/rest/model/party.party', query_string=query), 400)
                self.assertEqual(
                    body['errors'][0]['parameter'], next(iter(query)))

    def test_admin_models_refused(self):
        "Administration models 403 even for an admin's key"
        for path in ['/rest/model/res.user', '/rest/model/res.user/1',
                '/rest/model/ir.model.access', '/rest/model/res.user.csv',
                '/rest/model/endpoint.endpoint']:
            with self.subTest(path=path):
                self.assertProblem(self.get(path, key=self.admin_key), 403)
        self.assertProblem(self.send('POST', '/rest/model/res.user',
                {'login': 'x', 'name': 'x'}, key=self.admin_key), 403)
        # nor reachable through a relation
        for query in [{'f': 'create_uid.login'},
                {'d': b64([('create_uid.login', '=', 'admin')])}]:
            with self.subTest(query=query):
                self.assertProblem(self.get('/rest/model/party.party',
                        key=self.admin_key, query_string=query), 403)

    def test_unknown_model(self):
        "An unknown model 404"
        self.assertProblem(self.get('/rest/model/no.such.model'), 404)

    # Read

    def test_read(self):
        "A record, its Link headers, unknown id 404"
        party_id = self.party_ids[2]
        response = self.get(f'/rest/model/party.party/{party_id}',
            query_string=[('f', 'name'), ('f', 'code')])
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(loads(response), {'id': party_id,
                '__name__': 'party.party', 'name': 'Party 03',
                'code': 'P03'})
        link = response.headers['Link']
        self.assertIn(self.url(f'/rest/model/party.party/{party_id}/addresses')
            + '>; rel="related"; title="addresses"', link)
        self.assertNotIn('identifiers', link)  # not readable
        self.assertProblem(self.get('/rest/model/party.party/999999'), 404)

    def test_usage(self):
        "X-Tryton-Usage is given to __json__"
        response = self.get(f'/rest/model/party.party/{self.party_ids[0]}',
            headers={'X-Tryton-Usage': 'anything, else'})
        self.assertEqual(set(loads(response)), {'id', '__name__', 'rec_name'})

    def test_context_and_language(self):
        "X-Tryton-Context and Accept-Language reach the read"
        response = self.get(f'/rest/model/party.party/{self.party_ids[0]}',
            headers={'X-Tryton-Context': tryton_context({'company': None}),
                'Accept-Language': 'fr;q=0.2, en'})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(response.headers['Content-Language'], 'en')

    # Sub-collections

    def test_relation(self):
        "A one2many as a collection, with f, d and Range"
        party_id = self.party_ids[3]
        path = f'/rest/model/party.party/{party_id}/addresses'
        response = self.get(path, query_string={'f': 'city'})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(
            sorted(r['city'] for r in loads(response)), ['Liège', 'Namur'])
        self.assertEqual({r['__name__'] for r in loads(response)},
            {'party.address'})
        response = self.get(path, query_string={
                'f': 'city', 'd': b64([('city', '=', 'Namur')])},
            headers={'Range': 'records=0-1'})
        self.assertEqual([r['city'] for r in loads(response)], ['Namur'])
        self.assertEqual(response.headers['Content-Range'], 'records 0-1/1')
        response = self.get(
            f'/rest/model/party.party/{party_id}/categories.csv',
            query_string={'f': 'name'})
        self.assertEqual(response.mimetype, 'text/csv')
        self.assertProblem(
            self.get(f'/rest/model/party.party/{party_id}/name'), 404)
        self.assertProblem(self.get(
                f'/rest/model/party.party/{party_id}/identifiers'), 403)
        self.assertProblem(
            self.get('/rest/model/party.party/999999/addresses'), 404)

    def test_collection_links(self):
        "Collections advertise the sub-collections of their records"
        response = self.get('/rest/model/party.party',
            query_string={'s': 1})
        template = response.headers['Link-Template']
        base = self.url('/rest/model/party.party')
        self.assertIn(f'"{base}/{{id}}/addresses"; rel="related"; '
            f'title="addresses"; anchor="{base}/{{id}}"', template)

    # Create, update, delete

    def test_create(self):
        "Create 201 with Location and the body, nested one2many"
        response = self.send('POST', '/rest/model/party.party', {
                'name': 'Created', 'code': 'NEW1',
                'addresses': [['create', [{'city': 'Mons'}]]],
                'categories': [['add', self.categories]],
                }, query_string=[('f', 'name'), ('f', 'addresses.city')])
        self.assertEqual(response.status_code, 201, response.data)
        body = loads(response)
        self.assertEqual(body['name'], 'Created')
        self.assertEqual(body['addresses'][0]['city'], 'Mons')
        self.assertEqual(response.headers['Location'],
            self.url(f'/rest/model/party.party/{body["id"]}'))
        self.assertIn('rel="related"', response.headers['Link'])

    def test_create_bad_body(self):
        "Unknown fields, bad JSON, a non-object, the wrong type"
        response = self.send('POST', '/rest/model/party.party',
            {'name': 'X', 'nope': 1})
        body = self.assertProblem(response, 400)
        self.assertEqual(body['errors'][0]['pointer'], '/nope')
        for data in [b'{"name": ', b'[1, 2]', b'"x"']:
            with self.subTest(data=data):
                response = self.client().post(
                    self.url('/rest/model/party.party'), data=data,
                    content_type='application/json',
                    headers=bearer(self.alice_key))
                self.assertProblem(response, 400)
        response = self.client().post(self.url('/rest/model/party.party'),
            data=b'name=x', headers=bearer(self.alice_key),
            content_type='application/x-www-form-urlencoded')
        self.assertProblem(response, 415)

    def test_create_validation_error(self):
        "Tryton's validation errors 400 with their message"
        response = self.send('POST', '/rest/model/party.address', {})
        body = self.assertProblem(response, 400)
        self.assertIn('Party', body['detail'])

    def test_update_put_and_patch(self):
        "PUT and PATCH change only the given fields and answer the record"
        party_id = self.party_ids[4]
        path = f'/rest/model/party.party/{party_id}'
        for method, name in [('PUT', 'Put name'), ('PATCH', 'Patched')]:
            with self.subTest(method=method):
                response = self.send(method, path, {'name': name},
                    query_string=[('f', 'name'), ('f', 'code')])
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(loads(response), {'id': party_id,
                        '__name__': 'party.party', 'name': name,
                        'code': 'P05'})
        self.assertProblem(
            self.send('PATCH', '/rest/model/party.party/999999',
                {'name': 'x'}), 404)

    def test_delete(self):
        "DELETE 204, then 404"
        with Transaction().start(DB_NAME, 0) as transaction:
            party, = Pool().get('party.party').create([{'name': 'Doomed'}])
            transaction.commit()
        path = f'/rest/model/party.party/{party.id}'
        response = self.send('DELETE', path)
        self.assertEqual(response.status_code, 204, response.data)
        self.assertEqual(response.data, b'')
        self.assertProblem(self.send('DELETE', path), 404)
        self.assertProblem(self.get(path), 404)

    # Access

    def test_record_rules(self):
        "A user sees only the records his rules allow, others are 404"
        response = self.get('/rest/model/party.party', key=self.bob_key,
            query_string={'f': 'name'})
        self.assertEqual([r['name'] for r in loads(response)], ['Public One'])
        party_id = self.party_ids[0]
        for response in [
                self.get(f'/rest/model/party.party/{party_id}',
                    key=self.bob_key),
                self.get(f'/rest/model/party.party/{party_id}/addresses',
                    key=self.bob_key),
                self.send('PATCH', f'/rest/model/party.party/{party_id}',
                    {'name': 'Hijacked'}, key=self.bob_key),
                self.send('DELETE', f'/rest/model/party.party/{party_id}',
                    key=self.bob_key),
                ]:
            with self.subTest(method=response.request.method):
                body = self.assertProblem(response, 404)
                self.assertNotIn('Party 01', json.dumps(body))

    def test_no_read_access(self):
        "A model the user may not read 403, nothing leaks"
        response = self.get('/rest/model/party.identifier')
        body = self.assertProblem(response, 403)
        self.assertNotIn('records', body)

    def test_field_access_left_out(self):
        "Fields the user may not read are left out, as the built-in does"
        response = self.get(f'/rest/model/party.party/{self.party_ids[0]}',
            query_string=[('f', 'name'), ('f', 'identifiers.code')])
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(set(loads(response)), {'id', '__name__', 'name'})

    # Actions

    def test_model_action(self):
        "A class RPC method with JSON keyword or positional arguments"
        path = '/rest/model/party.party/fields_get'
        for body in [{'fields_names': ['name']}, [['name']]]:
            with self.subTest(body=body):
                response = self.send('POST', path, body)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(list(loads(response)), ['name'])

    def test_data_methods_as_actions(self):
        "RPC data methods run as actions, their arguments through the policy"
        path = '/rest/model/party.party'
        domain = [('code', 'like', 'P0%')]
        for name, body, expected in [
                ('search_count', {'domain': domain}, 9),
                ('search_count', [domain], 9),
                ('search', {'domain': domain, 'limit': 2,
                        'order': [('code', 'ASC')]}, self.party_ids[:2]),
                ('search_read', {'domain': [('code', '=', 'P01')],
                        'fields_names': ['code']},
                    [{'id': self.party_ids[0], 'code': 'P01'}]),
                ('read', [[self.party_ids[1]], ['code']],
                    [{'id': self.party_ids[1], 'code': 'P02'}]),
                ]:
            with self.subTest(name=name, body=body):
                response = self.send('POST', f'{path}/{name}', body)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(loads(response), expected)
        response = self.send('POST', f'{path}/create',
            [[{'name': 'By action', 'code': 'ACT1'}]])
        self.assertEqual(response.status_code, 200, response.data)
        created, = loads(response)
        response = self.send('POST', f'{path}/write',
            [[created], {'name': 'By action 2'}])
        self.assertEqual(response.status_code, 204, response.data)
        self.assertEqual(loads(self.send('POST', f'{path}/read',
                    [[created], ['name']])), [{'id': created,
                    'name': 'By action 2'}])
        response = self.send('POST', f'{path}/delete', [[created]])
        self.assertEqual(response.status_code, 204, response.data)
        self.assertEqual(loads(self.send('POST', f'{path}/search_count',
                    {'domain': [('code', '=', 'ACT1')]})), 0)
        # what the routes refuse, the actions refuse
        for name, body, status in [
                ('search_count', {'domain': [
                            ('addresses', 'where',
                                [('create_uid.login', '=', 'admin')])]},
                    403),
                ('search', {'domain': [], 'order': [
                            ('create_uid.password_hash', 'ASC')]}, 403),
                ('read', [[self.party_ids[0]], ['identifiers.code']], 403),
                ('search_read', {'domain': [('nope', '=', 1)]}, 400),
                ('search_count', {'domain': [], 'bogus': 1}, 400),
                ('write', [[self.party_ids[0]], {'create_uid': 1}], 403),
                ]:
            with self.subTest(name=name, body=body):
                self.assertProblem(
                    self.send('POST', f'{path}/{name}', body), status)
        self.assertProblem(self.send('POST', '/rest/model/res.user/'
                'search_count', {'domain': []}, key=self.admin_key), 403)

    def test_naiad_search_count_action(self):
        "naiad's client.action runs search_count as the built-in does"
        import respx
        from naiad import Client
        from trytond.wsgi import app
        base = 'http://localhost:8000'
        with respx.mock(base_url=base, assert_all_called=False) as mock:
            mock.route().mock(side_effect=respx.WSGIHandler(app))
            client = Client(f'{base}/{self.db_name}/api', self.alice_key,
                max_retries=0)
            self.assertEqual(client.action('party.party', 'search_count',
                    kwargs={'domain': [('code', 'like', 'P1%')]}), 10)

    def test_record_action(self):
        "A record action answers its result, or the record if none"
        party_id = self.party_ids[5]
        response = self.send('POST',
            f'/rest/model/party.party/{party_id}/pre_validate',
            query_string={'f': 'name'})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(loads(response), {
                'id': party_id, '__name__': 'party.party', 'name': 'Party 06'})
        response = self.send('POST',
            f'/rest/model/party.party/{party_id}/resources')
        self.assertEqual(response.status_code, 200, response.data)
        self.assertIn('attachment_count', loads(response))
        self.assertProblem(self.send('POST',
                '/rest/model/party.party/999999/pre_validate'), 404)

    def test_action_refused(self):
        "Only RPC methods: others 403, unknown names 404, bad arguments 400"
        path = '/rest/model/party.party'
        self.assertProblem(self.send('POST', f'{path}/__setup__'), 404)
        self.assertProblem(self.send('POST', f'{path}/no_such'), 404)
        self.assertProblem(self.send('POST', f'{path}/__table__'), 404)
        self.assertProblem(self.send('POST', f'{path}/_get_name'), 404)
        self.assertProblem(self.send('POST', f'{path}/get_rec_name'), 403)
        self.assertProblem(self.send('POST', f'{path}/fields_get',
                {'nope': 1}), 400)
        # data methods run through the data policy; those whose arguments
        # it can not check are refused
        for name, body in [
                ('read', [[self.party_ids[0]], ['create_uid.login']]),
                ('search_read', {'domain': [],
                        'fields_names': ['create_uid.login']}),
                ('search_count', {'domain': [
                            ('create_uid.login', '=', 'admin')]}),
                ('export_data', [[self.party_ids[0]], ['create_uid.login']]),
                ('import_data', [['name'], [['Imported']]]),
                ('autocomplete', ['x']),
                ]:
            with self.subTest(name=name):
                self.assertProblem(
                    self.send('POST', f'{path}/{name}', body), 403)

    # Formats

    def test_formats(self):
        "XML and CSV by Accept, format or suffix; 406 otherwise"
        with Transaction().start(DB_NAME, 0) as transaction:
            party, = Pool().get('party.party').create([{
                        'name': 'Format & Co', 'code': 'FMT1',
                        'addresses': [('create', [{'city': 'Gent'}])]}])
            transaction.commit()
        domain = b64([('code', '=', 'FMT1')])
        query = [('d', domain), ('f', 'name'), ('f', 'create_date'),
            ('f', 'addresses.city')]
        for kwargs in [{'headers': {'Accept': 'text/csv'}},
                {'path': '/rest/model/party.party.csv'},
                {'format': 'csv'}]:
            with self.subTest(**kwargs):
                path = kwargs.get('path', '/rest/model/party.party')
                q = query + ([('format', kwargs['format'])]
                    if 'format' in kwargs else [])
                response = self.get(path, query_string=q,
                    headers=kwargs.get('headers'))
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(response.mimetype, 'text/csv')
                rows = list(csv.DictReader(
                        io.StringIO(response.get_data(as_text=True))))
                self.assertEqual(rows[0]['name'], 'Format & Co')
                dt.datetime.fromisoformat(rows[0]['create_date'])
                self.assertEqual(
                    json.loads(rows[0]['addresses'])[0]['city'], 'Gent')
        response = self.get('/rest/model/party.party.xml', query_string=query)
        self.assertEqual(response.mimetype, 'application/xml')
        root = etree.fromstring(response.data)
        record, = root.findall('record')
        self.assertEqual(record.get('id'), str(party.id))
        self.assertEqual(record.findtext('name'), 'Format & Co')
        self.assertEqual(record.find('create_date').get('type'), 'datetime')
        self.assertEqual(
            record.find('addresses/item/city').text, 'Gent')
        response = self.get(f'/rest/model/party.party/{party.id}',
            headers={'Accept': 'application/xml'})
        self.assertEqual(etree.fromstring(response.data).tag, 'record')
        for kwargs in [{'headers': {'Accept': 'text/html'}},
                {'query_string': {'format': 'yaml'}}]:
            with self.subTest(**kwargs):
                self.assertProblem(
                    self.get('/rest/model/party.party', **kwargs), 406)
        # Browsers' Accept falls back to JSON
        response = self.get('/rest/model/party.party', headers={
                'Accept': 'text/html,application/xhtml+xml,*/*;q=0.8'})
        self.assertEqual(response.mimetype, 'application/json')

    def test_encodings(self):
        "Decimal, dates and bytes in each format"
        from trytond.modules.endpoint import rest_formats
        data = [{'id': 1, '__name__': 'x', 'amount': Decimal('1.10'),
                'day': dt.date(2026, 1, 2), 'data': b'\x00\xff',
                'none': None}]
        self.assertIn(b'"__class__": "Decimal"',
            rest_formats.encode(data, 'json'))
        row, = csv.DictReader(io.StringIO(
                rest_formats.encode(data, 'csv').decode()))
        self.assertEqual(row, {'id': '1', 'amount': '1.10',
                'day': '2026-01-02', 'data': 'AP8=', 'none': ''})
        record = etree.fromstring(rest_formats.encode(data, 'xml'))[0]
        self.assertEqual(record.findtext('amount'), '1.10')
        self.assertEqual(record.find('amount').get('type'), 'decimal')
        self.assertEqual(record.findtext('day'), '2026-01-02')
        self.assertEqual(record.findtext('data'), 'AP8=')
        self.assertEqual(record.find('none').get('nil'), 'true')

    # Reports

    def test_report(self):
        "A report as an attachment; unknown report or record 404"
        party_id = self.party_ids[0]
        response = self.get(f'/rest/report/party.label/{party_id}')
        self.assertEqual(response.status_code, 200, response.data)
        self.assertIn('attachment', response.headers['Content-Disposition'])
        self.assertTrue(response.data)
        self.assertProblem(self.get('/rest/report/no.report/1'), 404)
        self.assertProblem(self.get('/rest/report/party.label/999999'), 404)
        self.assertProblem(self.get(f'/rest/report/party.label/{party_id}',
                key=self.bob_key), 404)

    # An admin's narrowed copy

    def test_partners_endpoint(self):
        "A copy of the list endpoint exposing name and code only"
        define(route='/partners', auth='application', code=(
                "result['response'] = rest.search(\n"
                "    'party.party', fields=['name', 'code'],\n"
                "    domain=[('code', 'like', 'P__')])\n"),
            query_schema=json.dumps({'type': 'object',
                    'properties': {
                        's': {'type': 'integer', 'maximum': 10},
                        'p': {'type': 'integer', 'minimum': 0},
                        'f': {'enum': ['name', 'code']},
                        'd': {'type': 'string'},
                        'o': {'type': 'string'}},
                    'additionalProperties': False}))
        response = self.get('/partners', query_string={
                's': 2, 'o': b64([('code', 'ASC')])})
        self.assertEqual(response.status_code, 200, response.data)
        self.assertEqual(loads(response), [
                {'id': self.party_ids[0], '__name__': 'party.party',
                    'name': 'Party 01', 'code': 'P01'},
                {'id': self.party_ids[1], '__name__': 'party.party',
                    'name': 'Party 02', 'code': 'P02'}])
        self.assertNotIn('Link-Template', response.headers)
        self.assertProblem(self.get('/partners', query_string={'s': 50}), 400)
        self.assertProblem(
            self.get('/partners', query_string={'f': 'addresses'}), 400)
        self.assertProblem(self.get('/partners', query_string={
                    'd': b64([('addresses.city', '=', 'Namur')])}), 400)
        self.assertProblem(
            self.get('/partners', query_string={'x': 1}), 400)

    # The seed records

    def test_seeds_live_after_activation(self):
        "The seed endpoints are live with no manual sync"
        with Transaction().start(DB_NAME, 0):
            Endpoint = Pool().get('endpoint.endpoint')
            seeds = Endpoint.search([('route', 'like', '/rest/%')])
            self.assertEqual(len(seeds), 10)
            self.assertEqual({s.state for s in seeds}, {'live'})
            self.assertEqual({s.auth for s in seeds}, {'application'})
            for seed in seeds:
                self.assertLessEqual(len(seed.code.splitlines()), 3)

    def test_head_and_options(self):
        "HEAD answers the headers of GET, OPTIONS the methods"
        response = self.client().head(self.url('/rest/model/party.party'),
            headers=bearer(self.alice_key))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.data, b'')
        response = self.client().open(
            self.url(f'/rest/model/party.party/{self.party_ids[0]}'),
            method='OPTIONS')
        self.assertEqual(set(response.headers['Allow'].split(', ')),
            {'GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE', 'POST'})
