# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The route checker and the published form of a definition, without ORM."""
import json
import unittest
from unittest import mock

from trytond_endpoint import routing
from trytond_endpoint.definition import Definition
from trytond_endpoint.problem import Problem
from trytond_endpoint.routing import LiveMap, _check_rule, check_route


class CheckRouteTestCase(unittest.TestCase):

    def test_valid_routes(self):
        for route in ['/', '/orders', '/orders/<int:id>',
                '/a-b/<string(length=2):code>/x_y',
                '/files/<path:name>', '/t/<base64:token>',
                '/k/<any(a,b):kind>/<uuid:u>']:
            with self.subTest(route=route):
                self.assertIsNone(check_route(route))

    def test_invalid_routes(self):
        for route, text in [
                ('orders', "start with '/'"),
                ('', "start with '/'"),
                ('/orders/<int:id', 'malformed'),
                ('/orders/<unknown:id>', 'unknown'),
                ('/orders/<int(:id>', 'malformed'),
                ]:
            with self.subTest(route=route):
                message = check_route(route)
                self.assertIsNotNone(message)
                self.assertIn(text, message.lower())

    def test_message_quotes_the_route(self):
        "Routes share checks by shape, but a message names the route given"
        message = check_route('/customers42/<int:id')
        self.assertIn('/customers42/<int:id', message)

    def test_shape_check_agrees_with_full_check(self):
        "Generated routes that differ in plain text get the full check's "
        "verdict"
        for number in range(50):
            for route in [f'/other/{number}/<int:id>',
                    f'/other-{number}/<nope:id>',
                    f'/o{number}/<int:id>/<string:s',
                    f'/p{number}/<path:p>/x{number}']:
                with self.subTest(route=route):
                    self.assertEqual(check_route(route),
                        _check_rule.__wrapped__(route))


class LiveMapTestCase(unittest.TestCase):

    def setUp(self):
        self.live = LiveMap(1, [
                Definition(id=1, name='One', route='/orders/<int:id>'),
                Definition(id=2, name='Two', route='/orders/<int:id>',
                    method='DELETE'),
                Definition(id=3, name='Three', route='/static'),
                ])

    def test_repeated_path_skips_werkzeug(self):
        "A path matched once is answered from memory, with fresh params"
        entry, params = self.live.match('/orders/7', 'GET')
        self.assertEqual((entry.definition.id, params), (1, {'id': 7}))
        params['id'] = 99
        with mock.patch.object(self.live, '_adapter') as adapter:
            entry, params = self.live.match('/orders/7', 'GET')
            adapter.match.assert_not_called()
        self.assertEqual((entry.definition.id, params), (1, {'id': 7}))
        entry, _ = self.live.match('/orders/7', 'DELETE')
        self.assertEqual(entry.definition.id, 2)

    def test_errors_are_not_remembered(self):
        for _ in range(2):
            with self.assertRaises(Problem) as cm:
                self.live.match('/orders/x', 'GET')
            self.assertEqual(cm.exception.status, 404)
            with self.assertRaises(Problem) as cm:
                self.live.match('/static', 'POST')
            self.assertEqual(cm.exception.status, 405)
        self.assertEqual(self.live._matched, {})

    def test_memory_is_bounded(self):
        with mock.patch.object(routing, 'MATCH_MEMO', 10):
            for number in range(25):
                entry, params = self.live.match(f'/orders/{number}', 'GET')
                self.assertEqual(params, {'id': number})
                self.assertLessEqual(len(self.live._matched), 10)


class DefinitionTestCase(unittest.TestCase):

    def test_round_trip(self):
        definition = Definition(id=3, name="Orders", route='/orders/<int:id>',
            method='POST', content_type='application/json', auth='user',
            exec_user=5, request_schema='{}', code="result['payload'] = 1",
            documented=False, active=False, max_body_size=10, timeout=1.5)
        values = json.loads(json.dumps(definition.to_dict()))
        self.assertEqual(Definition.from_dict(values), definition)
        self.assertEqual(values['timeout'], 1.5)
        self.assertIs(values['active'], False)

    def test_from_dict_ignores_unknown_keys(self):
        definition = Definition.from_dict(
            {'id': 1, 'name': 'A', 'route': '/a', 'obsolete': True})
        self.assertEqual(definition.route, '/a')
