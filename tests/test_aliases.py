# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Several routes per endpoint: the checks at save and sync, the map,
the answers and the OpenAPI document. Serving on every worker of several
processes after one sync is in ``test_multiprocess.py``."""
import json
import unittest

from trytond.model.exceptions import ValidationError
from trytond.modules.endpoint.exceptions import SyncError
from trytond.pool import Pool
from trytond.tests.test_tryton import DBTestCase, with_transaction

from trytond_endpoint.definition import Definition
from trytond_endpoint.problem import Problem
from trytond_endpoint.routing import LiveMap, alias_errors

from .tools import EndpointRouteTestCase, bearer, define

PATH_ECHO = ("result['payload'] = {'id': request.path_params['id'],\n"
    "    'path': request.path}\n")


def definition(route='/items/<int:id>', aliases=None, **values):
    return Definition(id=values.pop('id', 1), name='Items', route=route,
        aliases=aliases, **values)


class AliasRuleTestCase(unittest.TestCase):
    "What an alias must be, without the ORM"

    def test_valid(self):
        self.assertEqual(alias_errors(definition(
                    aliases='/things/<int:id>\n\n  /v1/items/<int:item>x\n'
                    .replace('<int:item>x', '<int:id>'))), [])
        self.assertEqual(definition(aliases=' /a/<int:id> \n\n').routes(),
            ['/items/<int:id>', '/a/<int:id>'])

    def test_refused(self):
        for aliases, part in [
                ('/things/<int:id', '/things/<int:id'),
                ('things/<int:id>', 'must start'),
                ('/things/<id>', 'path parameters'),
                ('/things/<int:pk>', 'path parameters'),
                ('/things', 'path parameters'),
                ('/things/<int:id>/<int:x>', 'path parameters'),
                ('/items/<int:other>', 'path parameters'),
                ('/v2/<int:id>\n/v2/<int:id>', 'already a route'),
                ('/items/<int:id>/', None),
                ]:
            with self.subTest(aliases=aliases):
                errors = alias_errors(definition(aliases=aliases))
                if part is None:
                    self.assertEqual(errors, [])
                else:
                    self.assertEqual(len(errors), 1, errors)
                    self.assertIn(part, errors[0])
        self.assertIn('reserved', alias_errors(Definition(id=1, name='x',
                    route='/x', aliases='/openapi.json'),
                {'/openapi.json'})[0])

    def test_map_serves_each(self):
        "One entry, matched at the route and at each alias"
        live = LiveMap(1, [definition(aliases='/things/<int:id>'),
                definition(id=2, route='/other')])
        for path in ['/items/3', '/things/3']:
            entry, params = live.match(path, 'GET')
            self.assertEqual((entry.definition.id, params), (1, {'id': 3}))
        with self.assertRaises(Problem) as raised:
            live.match('/things/3', 'POST')
        self.assertEqual(raised.exception.status, 405)

    def test_without_aliases_same_published_text(self):
        "An endpoint without aliases publishes what it did before them"
        self.assertNotIn('aliases', definition().to_dict())
        self.assertEqual(
            definition(aliases='/a/<int:id>').to_dict()['aliases'],
            '/a/<int:id>')


class AliasModelTestCase(DBTestCase):
    "Aliases checked when saved and when synced"
    module = 'endpoint'
    extras = ['party']

    def _endpoint(self, **values):
        Endpoint = Pool().get('endpoint.endpoint')
        values.setdefault('name', values['route'])
        values.setdefault('auth', 'application')
        return Endpoint.create([values])[0]

    def assertRefused(self, part, **values):
        with self.assertRaises(ValidationError) as cm:
            self._endpoint(**values)
        self.assertIn(part, cm.exception.message)
        return cm.exception.message

    @with_transaction()
    def test_refused_at_save(self):
        "A bad rule or other path parameters: refused with the reason"
        message = self.assertRefused('Aliases', route='/m/<int:id>',
            aliases='/m2/<id>')
        self.assertIn('path parameters', message)
        self.assertRefused('Aliases', route='/m3/<int:id>',
            aliases='/m3/x/<int:id')
        self.assertRefused('reserved', route='/m4', aliases='/docs/x')

    # A refused create leaves its row in the test's transaction: each
    # attempt uses a route of its own.

    @with_transaction()
    def test_clash_with_routes_and_aliases(self):
        "An alias clashes with another route, a route with another alias"
        self._endpoint(route='/c/one', aliases='/c/alias')
        message = self.assertRefused('/c/one', route='/c/two',
            aliases='/c/one')
        self.assertIn('/c/one', message)
        self.assertRefused('/c/alias', route='/c/alias')
        self.assertRefused('/c/alias', route='/c/three', aliases='/c/alias')
        # Another method at the same path is no clash.
        self._endpoint(route='/c/three', aliases='/c/alias', method='DELETE')
        # An archived one is not served: no clash.
        self._endpoint(route='/c/four', aliases='/c/one', active=False)

    @with_transaction()
    def test_clash_with_published(self):
        "A sync is refused when an alias clashes with what is served"
        Endpoint = Pool().get('endpoint.endpoint')
        old = self._endpoint(route='/p/old')
        Endpoint.sync([old])
        # Edited, not synced: /p/old is still served.
        Endpoint.write([old], {'route': '/p/renamed'})
        new = self._endpoint(route='/p/new', aliases='/p/old')
        with self.assertRaises(SyncError) as cm:
            Endpoint.sync([new])
        self.assertIn('/p/old', cm.exception.message)
        Endpoint.sync([old, new])
        self.assertEqual(
            {Endpoint(old.id).state, Endpoint(new.id).state}, {'live'})

    @with_transaction()
    def test_alias_edit_is_pending(self):
        "Adding an alias is a change to publish"
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint = self._endpoint(route='/e/one')
        Endpoint.sync([endpoint])
        self.assertEqual(endpoint.state, 'live')
        Endpoint.write([endpoint], {'aliases': '/e/two'})
        self.assertEqual(Endpoint(endpoint.id).state, 'out_of_sync')
        Endpoint.sync([endpoint])
        self.assertEqual(Endpoint(endpoint.id).state, 'live')


class AliasRouteTestCase(EndpointRouteTestCase):
    "An endpoint with aliases answers at each, documented at each"

    def get(self, path, **kwargs):
        return self.client().get(self.url(path),
            headers=bearer(self.alice_key), **kwargs)

    def test_served_at_each(self):
        endpoint_id = define(route='/al/items/<int:id>',
            aliases='/al/things/<int:id>\n/al/v1/items/<int:id>',
            auth='application', code=PATH_ECHO)
        for path in ['/al/items/4', '/al/things/4', '/al/v1/items/4']:
            with self.subTest(path=path):
                response = self.get(path)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(json.loads(response.data),
                    {'id': 4, 'path': path})
        response = self.client().post(self.url('/al/things/4'),
            headers=bearer(self.alice_key))
        self.assertEqual(response.status_code, 405)
        self.assertEqual(self.get('/al/things/x').status_code, 404)

        document = json.loads(self.get('/openapi.json').data)
        paths = document['paths']
        ids = []
        for template in ['/al/items/{id}', '/al/things/{id}',
                '/al/v1/items/{id}']:
            operation = paths[template]['get']
            ids.append(operation['operationId'])
            parameter, = [p for p in operation['parameters']
                if p.get('in') == 'path']
            self.assertEqual(parameter['name'], 'id')
            self.assertEqual(parameter['schema']['type'], 'integer')
        self.assertEqual(len(set(ids)), 3)
        self.assertTrue(ids[1].endswith('_alias_1'))
        self.assertTrue(all(str(endpoint_id) in i for i in ids))
