# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Conditional requests: ETag, If-None-Match (304), If-Match (412)."""
import json
from contextlib import contextmanager

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .test_rest import PROBLEM, b64, dumps
from .tools import EndpointRouteTestCase, bearer, make_key, make_user


@contextmanager
def reads_of(model):
    "The field lists the real read of model is asked for, while inside"
    Model = Pool(DB_NAME).get(model)
    own = Model.__dict__.get('read')
    original = Model.read.__func__
    calls = []

    def read(cls, ids, fields_names, *args, **kwargs):
        calls.append(list(fields_names))
        return original(cls, ids, fields_names, *args, **kwargs)
    Model.read = classmethod(read)
    try:
        yield calls
    finally:
        if own is None:
            del Model.read
        else:
            Model.read = own


def rename(party_id, name):
    with Transaction().start(DB_NAME, 0) as transaction:
        Party = Pool().get('party.party')
        Party.write([Party(party_id)], {'name': name})
        transaction.commit()


class ConditionalTestCase(EndpointRouteTestCase):
    "Parties, a key that sees them all and one that sees none"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        Party = pool.get('party.party')
        Group = pool.get('res.group')
        RuleGroup = pool.get('ir.rule.group')
        cls.carol_key = make_key(make_user('carol'))
        hidden, = Group.create([{'name': 'Nothing'}])
        bob = make_user('bob')
        bob.groups = [hidden]
        bob.save()
        cls.bob_key = make_key(bob)
        RuleGroup.create([{
                    'name': 'No party', 'model': 'party.party',
                    'global_p': False, 'default_p': False,
                    'groups': [('add', [hidden.id])],
                    'rules': [('create', [{
                                    'domain': json.dumps(
                                        [('id', '=', -1)])}])],
                    }])
        cls.party_ids = [p.id for p in Party.create([{
                        'name': f'Party {i:02d}', 'code': f'P{i:02d}',
                        'addresses': [('create', [
                                    {'city': 'Liège'}, {'city': 'Namur'}])],
                        } for i in range(1, 16)])]

    def get(self, path, key=None, headers=None, **kwargs):
        return self.client().get(self.url(path),
            headers={**bearer(key or self.alice_key), **(headers or {})},
            **kwargs)

    def send(self, method, path, body=None, key=None, headers=None):
        return self.client().open(self.url(path), method=method,
            data=dumps(body) if body is not None else b'',
            content_type='application/json',
            headers={**bearer(key or self.alice_key), **(headers or {})})

    def assertProblem(self, response, status):
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM)
        return json.loads(response.data)


class ConditionalRestTestCase(ConditionalTestCase):
    "ETags of the seed REST endpoints"

    def record(self, index=3):
        return f'/rest/model/party.party/{self.party_ids[index]}'

    def test_read_etag_not_modified(self):
        "A read has a strong ETag; If-None-Match with it: 304, no field read"
        response = self.get(self.record())
        self.assertEqual(response.status_code, 200, response.data)
        tag = response.headers['ETag']
        self.assertRegex(tag, r'^"[0-9a-f]+-[0-9a-f]+"$')
        self.assertEqual(self.get(self.record()).headers['ETag'], tag)

        with reads_of('party.party') as calls:
            response = self.get(self.record(),
                headers={'If-None-Match': f'"other", {tag}'})
        self.assertEqual(response.status_code, 304, response.data)
        self.assertEqual(response.data, b'')
        self.assertEqual(response.headers['ETag'], tag)
        self.assertNotIn('Content-Type', response.headers)
        self.assertEqual(calls, [['_timestamp']])

        # A weak comparison: W/ of the same tag matches too.
        response = self.get(self.record(),
            headers={'If-None-Match': f'W/{tag}'})
        self.assertEqual(response.status_code, 304)
        response = self.get(self.record(), headers={'If-None-Match': '*'})
        self.assertEqual(response.status_code, 304)
        response = self.get(self.record(),
            headers={'If-None-Match': '"nope-nope"'})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(json.loads(response.data)['rec_name'], 'Party 04')

    def test_read_etag_representation(self):
        "Fields, format, usages and context give other tags"
        tags = {
            'default': self.get(self.record()),
            'fields': self.get(self.record(), query_string={'f': 'name'}),
            'csv': self.get(self.record(), query_string={'format': 'csv'}),
            'usage': self.get(self.record(),
                headers={'X-Tryton-Usage': 'custom'}),
            'context': self.get(self.record(),
                headers={'X-Tryton-Context': b64({'company': 1})}),
            'user': self.get(self.record(), key=self.carol_key),
            }
        values = {k: r.headers['ETag'] for k, r in tags.items()}
        self.assertEqual(len(set(values.values())), len(values), values)
        # One version: the part before the dash is the same.
        self.assertEqual(
            len({v.split('-')[0] for v in values.values()}), 1, values)
        # The tag of another representation is not a match.
        response = self.get(self.record(),
            headers={'If-None-Match': values['fields']})
        self.assertEqual(response.status_code, 200)

    def test_read_etag_changes_with_record(self):
        "A write of the record gives a new tag; the old one gets 200"
        tag = self.get(self.record(4)).headers['ETag']
        rename(self.party_ids[4], 'Party 05 renamed')
        try:
            response = self.get(self.record(4),
                headers={'If-None-Match': tag})
            self.assertEqual(response.status_code, 200)
            self.assertNotEqual(response.headers['ETag'], tag)
            self.assertEqual(
                json.loads(response.data)['rec_name'], 'Party 05 renamed')
        finally:
            rename(self.party_ids[4], 'Party 05')

    def test_read_hidden_not_modified(self):
        "A record the caller may not read is 404, whatever If-None-Match"
        tag = self.get(self.record()).headers['ETag']
        for header in [tag, '*']:
            with self.subTest(header=header):
                self.assertProblem(self.get(self.record(), key=self.bob_key,
                        headers={'If-None-Match': header}), 404)

    def test_read_overridden_before_read_not_modified(self):
        """A module's own _before_read is asked by the 304 too: its refusal
        is the hidden record's 404, not a 304"""
        from trytond.model.exceptions import AccessError
        Party = Pool(DB_NAME).get('party.party')
        tag = self.get(self.record()).headers['ETag']

        def refuse(cls, ids, fields_names, *args, **kwargs):
            raise AccessError("Refused by a module")
        Party._before_read = classmethod(refuse)
        try:
            for header in [tag, '*']:
                with self.subTest(header=header):
                    self.assertProblem(self.get(self.record(),
                            headers={'If-None-Match': header}), 404)
        finally:
            del Party._before_read

    def test_read_dotted_tag_by_content(self):
        "Paths through relations: the tag follows the related records"
        query = {'f': ['name', 'addresses.city']}
        response = self.get(self.record(5), query_string=query)
        tag = response.headers['ETag']
        response = self.get(self.record(5), query_string=query,
            headers={'If-None-Match': tag})
        self.assertEqual(response.status_code, 304)
        with Transaction().start(DB_NAME, 0) as transaction:
            Address = Pool().get('party.address')
            address, = Address.search([
                    ('party', '=', self.party_ids[5]),
                    ('city', '=', 'Namur')])
            address.city = 'Mons'
            address.save()
            transaction.commit()
        response = self.get(self.record(5), query_string=query,
            headers={'If-None-Match': tag})
        self.assertEqual(response.status_code, 200)
        self.assertIn('Mons', response.data.decode())
        self.assertNotEqual(response.headers['ETag'], tag)
        # Its version is the record's own: If-Match takes it.
        response = self.send('PATCH', self.record(5), {'name': 'Party 06'},
            headers={'If-Match': response.headers['ETag']})
        self.assertEqual(response.status_code, 200, response.data)

    def test_update_if_match(self):
        "If-Match: the current tag writes, a stale one is 412 and no write"
        record = self.record(6)
        read = self.get(record, query_string={'f': 'code'})
        tag = read.headers['ETag']
        response = self.send('PATCH', record, {'name': 'Party 07 bis'},
            headers={'If-Match': tag})
        self.assertEqual(response.status_code, 200, response.data)
        new_tag = response.headers['ETag']
        self.assertNotEqual(new_tag.split('-')[0], tag.split('-')[0])

        for header in [tag, f'W/{new_tag}', '"garbage"']:
            with self.subTest(header=header):
                problem = self.assertProblem(self.send('PUT', record,
                        {'name': 'Lost update'},
                        headers={'If-Match': header}), 412)
                self.assertIn('changed', problem['detail'])
        self.assertEqual(json.loads(self.get(record).data)['rec_name'],
            'Party 07 bis')

        for header in ['{}', '*', '"x-y", {}']:
            with self.subTest(header=header):
                response = self.send('PUT', record, {'name': 'Party 07'},
                    headers={'If-Match': header.format(new_tag)})
                self.assertEqual(response.status_code, 200, response.data)
                new_tag = response.headers['ETag']

    def test_delete_if_match(self):
        "A DELETE with a stale tag is 412 and the record stays"
        with Transaction().start(DB_NAME, 0) as transaction:
            party, = Pool().get('party.party').create([{'name': 'Doomed'}])
            transaction.commit()
        record = f'/rest/model/party.party/{party.id}'
        tag = self.get(record).headers['ETag']
        rename(party.id, 'Doomed again')
        self.assertProblem(self.send('DELETE', record,
                headers={'If-Match': tag}), 412)
        self.assertEqual(self.get(record).status_code, 200)
        tag = self.get(record).headers['ETag']
        response = self.send('DELETE', record, headers={'If-Match': tag})
        self.assertEqual(response.status_code, 204, response.data)
        self.assertProblem(self.send('DELETE', record,
                headers={'If-Match': tag}), 404)

    def test_collection_etag(self):
        "A page has a tag from its records' versions; 304 on a match"
        query = {'d': b64([('code', 'like', 'P1_')]), 'f': 'code'}
        headers = {'Range': 'records=0-4'}
        response = self.get('/rest/model/party.party', query_string=query,
            headers=headers)
        tag = response.headers['ETag']
        response = self.get('/rest/model/party.party', query_string=query,
            headers={**headers, 'If-None-Match': tag})
        self.assertEqual(response.status_code, 304)
        self.assertEqual(response.data, b'')
        self.assertNotIn('Content-Range', response.headers)
        # Another page, another tag.
        other = self.get('/rest/model/party.party', query_string=query,
            headers={'Range': 'records=5-9'})
        self.assertNotEqual(other.headers['ETag'], tag)
        # A record of the page changes: a new tag.
        rename(self.party_ids[9], 'Party 10 renamed')
        try:
            response = self.get('/rest/model/party.party',
                query_string=query,
                headers={**headers, 'If-None-Match': tag})
            self.assertEqual(response.status_code, 200)
            self.assertNotEqual(response.headers['ETag'], tag)
        finally:
            rename(self.party_ids[9], 'Party 10')


class ConditionalSnippetTestCase(ConditionalTestCase):
    "ETags that snippets set"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        for route, method, code in [
                ('/tagged', 'GET', "result['response'] = Response("
                    "{'v': 1}, etag=request.args.get('tag', 'v1'))"),
                ('/tagged', 'POST', "result['response'] = Response("
                    "{'v': 1}, etag='v1')"),
                ('/header-tag', 'GET', "result['payload'] = {'v': 2}\n"
                    "result['headers'] = {'ETag': request.args['tag']}"),
                # The example of doc/http.rst
                ('/party/<int:id>', 'GET',
                    "party, = pool.get('party.party').browse("
                    "[request.path_params['id']])\n"
                    "stamp = (party.write_date or party.create_date)"
                    ".isoformat()\n"
                    "result['response'] = Response({'name': party.name}, "
                    "etag=stamp)\n"),
                ]:
            Endpoint = Pool().get('endpoint.endpoint')
            Endpoint.sync(Endpoint.create([{
                            'name': route, 'route': route, 'method': method,
                            'code': code, 'auth': 'public',
                            'exec_user': cls.web_user,
                            'content_type': 'application/json'
                            if method == 'POST' else None}]))

    def test_response_etag(self):
        "Response(etag=...) is quoted; If-None-Match gets 304 on GET only"
        client = self.client()
        response = client.get(self.url('/tagged'))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['ETag'], '"v1"')
        response = client.get(self.url('/tagged'),
            headers={'If-None-Match': '"v0", "v1"'})
        self.assertEqual(response.status_code, 304)
        self.assertEqual(response.data, b'')
        self.assertEqual(response.headers['ETag'], '"v1"')
        response = client.head(self.url('/tagged'),
            headers={'If-None-Match': '"v1"'})
        self.assertEqual(response.status_code, 304)
        response = client.get(self.url('/tagged'),
            headers={'If-None-Match': '"v2"'})
        self.assertEqual(response.status_code, 200)
        response = client.post(self.url('/tagged'), data='{}',
            content_type='application/json',
            headers={'If-None-Match': '"v1"'})
        self.assertEqual(response.status_code, 200)
        # Already quoted or weak: kept as given.
        response = client.get(self.url('/tagged'),
            query_string={'tag': 'W/"w"'})
        self.assertEqual(response.headers['ETag'], 'W/"w"')
        response = client.get(self.url('/tagged'),
            query_string={'tag': 'W/"w"'}, headers={'If-None-Match': '"w"'})
        self.assertEqual(response.status_code, 304)

    def test_headers_etag(self):
        "result['headers']['ETag'] works alike"
        client = self.client()
        response = client.get(self.url('/header-tag'),
            query_string={'tag': 'abc'})
        self.assertEqual(response.headers['ETag'], '"abc"')
        response = client.get(self.url('/header-tag'),
            query_string={'tag': 'abc'}, headers={'If-None-Match': '"abc"'})
        self.assertEqual(response.status_code, 304)

    def test_documented_example(self):
        "The snippet of doc/http.rst: a new tag once the record changes"
        client = self.client()
        url = self.url(f'/party/{self.party_ids[7]}')
        response = client.get(url)
        self.assertEqual(response.status_code, 200, response.data)
        tag = response.headers['ETag']
        response = client.get(url, headers={'If-None-Match': tag})
        self.assertEqual(response.status_code, 304)
        rename(self.party_ids[7], 'Party 08 renamed')
        response = client.get(url, headers={'If-None-Match': tag})
        self.assertEqual(response.status_code, 200)
        self.assertNotEqual(response.headers['ETag'], tag)

    def test_bad_etag(self):
        "A malformed ETag is the snippet's failure: 500, not sent"
        client = self.client()
        for route in ['/tagged', '/header-tag']:
            for tag in ['a b', 'a"b']:
                with self.subTest(route=route, tag=tag):
                    response = client.get(self.url(route),
                        query_string={'tag': tag})
                    self.assertEqual(response.status_code, 500)
                    self.assertEqual(
                        response.mimetype, 'application/problem+json')
                    self.assertNotIn('ETag', response.headers)


del ConditionalTestCase
