# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What the administrator's actions do: Sync, Test, the tabs, the help."""
import json

from trytond.model.exceptions import ValidationError
from trytond.modules.endpoint.try_endpoint import sample_path
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import (
    DB_NAME,
    DBTestCase,
    with_transaction,
)
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, define, make_user


class AdminActionsTestCase(DBTestCase):
    "The administrator's actions"
    module = 'endpoint'
    extras = ['party']

    def _endpoint(self, **values):
        Endpoint = Pool().get('endpoint.endpoint')
        values.setdefault('name', values['route'])
        values.setdefault('auth', 'application')
        return Endpoint.create([values])[0]

    def _preview(self, records=None):
        "The Sync wizard's first page"
        pool = Pool()
        name = ('endpoint.sync_registry' if records is None
            else 'endpoint.endpoint.sync')
        Wizard = pool.get(name, type='wizard')
        context = {}
        if records is not None:
            context = {'active_model': 'endpoint.endpoint',
                'active_id': records[0].id,
                'active_ids': [r.id for r in records]}
        with Transaction().set_context(context):
            session_id, _, _ = Wizard.create()
            view = Wizard.execute(session_id, {}, 'start')
        return Wizard, session_id, context, view['view']['defaults']

    @with_transaction()
    def test_sync_wizard_previews_then_publishes(self):
        "Sync Registry lists added, changed and removed, publishes on OK"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Registry = pool.get('endpoint.registry')
        kept = self._endpoint(route='/kept')
        archived = self._endpoint(route='/archived')
        Endpoint.sync([kept, archived])
        kept.code = "result['payload'] = {'changed': True}\n"
        kept.save()
        archived.active = False
        archived.save()
        new = self._endpoint(route='/new', name="New one")
        version = Registry.current()

        Wizard, session_id, context, start = self._preview()
        self.assertEqual(start['added'], 'GET /new "New one"')
        self.assertEqual(start['changed'], 'GET /kept "/kept": Code')
        self.assertEqual(start['removed'], 'GET /archived "/archived"')
        self.assertEqual(start['errors'], '')
        self.assertTrue(start['can_publish'])
        # Nothing is published before the confirmation
        self.assertEqual(Registry.current(), version)
        self.assertEqual(new.state, 'out_of_sync')

        with Transaction().set_context(context):
            result = Wizard.execute(session_id, {'start': {
                        'note': "Spring release"}}, 'sync')
        self.assertNotIn('view', result)
        # The open form reloads and shows the new state
        self.assertEqual(Wizard.end(None), 'reload')
        self.assertEqual(
            {e.state for e in Endpoint.browse([kept, archived, new])},
            {'live'})
        self.assertEqual(Registry.current(), version + 1)

    @with_transaction()
    def test_sync_wizard_shows_errors_and_offers_no_publish(self):
        "A clash found at sync time is listed and Publish is not offered"
        Endpoint = Pool().get('endpoint.endpoint')
        first = self._endpoint(route='/clash/<int:id>', name="First")
        Endpoint.sync([first])
        first.active = False
        first.save()
        second = self._endpoint(route='/clash/<int:id>', name="Second")
        _, _, _, start = self._preview([second])
        self.assertIn('"Second"', start['errors'])
        self.assertFalse(start['can_publish'])
        self.assertIn('errors are fixed', start['summary'])

    @with_transaction()
    def test_sync_live_record_does_nothing_and_says_so(self):
        "Sync on a live record: no error, no new version, a message"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Registry = pool.get('endpoint.registry')
        ModelData = pool.get('ir.model.data')
        endpoint = self._endpoint(route='/live', name="Live one")
        Endpoint.sync([endpoint])
        version = Registry.current()
        admin = make_user('syncer')
        admin.groups = [ModelData.get_id('endpoint', 'group_endpoint_admin')]
        admin.save()
        # As the client calls it: a button, with the access checks
        with Transaction().set_user(admin.id), \
                Transaction().set_context(_check_access=True):
            Endpoint.sync([Endpoint(endpoint.id)])
            action = Endpoint.sync_wizard([Endpoint(endpoint.id)])
        self.assertEqual(action, pool.get('ir.action').get_action_id(
                ModelData.get_id('endpoint', 'wizard_sync')))
        self.assertEqual(Registry.current(), version)
        _, _, _, start = self._preview([endpoint])
        self.assertEqual(start['summary'],
            'Nothing to publish: endpoint "Live one" is already live.')
        self.assertFalse(start['can_publish'])

    @with_transaction()
    def test_tabs_show_archived_records(self):
        "An archived record still served is in Out of Sync and All"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        ActionDomain = pool.get('ir.action.act_window.domain')
        ModelData = pool.get('ir.model.data')
        endpoint = self._endpoint(route='/old')
        Endpoint.sync([endpoint])
        endpoint.active = False
        endpoint.save()
        tabs = ActionDomain.search([('act_window', '=',
                    ModelData.get_id('endpoint', 'act_endpoint_form'))])
        self.assertEqual([t.name for t in tabs], ['Out of Sync', 'All'])
        for tab in tabs:
            domain = PYSONDecoder({}).decode(tab.domain)
            self.assertIn(endpoint, Endpoint.search(domain), tab.name)

    @with_transaction()
    def test_duplicate_route_names_saved_record_first(self):
        "The message starts with the record being saved"
        Endpoint = Pool().get('endpoint.endpoint')
        self._endpoint(route='/twice', name="Older")
        with self.assertRaises(ValidationError) as cm:
            self._endpoint(route='/twice', name="Newer")
        self.assertTrue(cm.exception.message.startswith(
                'Endpoint "Newer" uses the route'), cm.exception.message)
        self.assertIn('like endpoint "Older"', cm.exception.message)
        # The refused record is still in this test's transaction.
        Endpoint.delete(Endpoint.search([('name', '=', 'Newer')]))
        # And at sync time, the record synced is named first
        older, = Endpoint.search([('name', '=', 'Older')])
        Endpoint.sync([older])
        older.active = False
        older.save()
        newer = self._endpoint(route='/twice', name="Newer")
        _, _, _, start = self._preview([newer])
        self.assertTrue(start['errors'].startswith('Endpoint "Newer"'),
            start['errors'])

    def test_sample_path(self):
        "One example value per converter, a placeholder left when unknown"
        self.assertEqual(sample_path('/dup/<int:id>'), '/dup/1')
        self.assertEqual(sample_path('/a/<name>/<float:x>'),
            '/a/example/1.5')
        self.assertEqual(sample_path('/i/<int(min=5):n>'), '/i/5')
        self.assertEqual(sample_path('/c/<any(red, green):c>'), '/c/red')
        self.assertEqual(sample_path('/s/<string(maxlength=3):w>'),
            '/s/exa')
        self.assertEqual(sample_path('/u/<uuid:key>'),
            '/u/123e4567-e89b-12d3-a456-426614174000')
        self.assertEqual(sample_path('/b/<base64:d>'), '/b/ZXhhbXBsZQ')
        self.assertEqual(sample_path('/p/<path:p>'), '/p/example/path')
        self.assertEqual(sample_path('/x/<odd:y>'), '/x/<odd:y>')

    def _try(self, endpoint, data=None):
        pool = Pool()
        Try = pool.get('endpoint.endpoint.try', type='wizard')
        with Transaction().set_context(
                active_model='endpoint.endpoint', active_id=endpoint.id,
                active_ids=[endpoint.id]):
            session_id, _, _ = Try.create()
            start = Try.execute(session_id, {}, 'start')['view']['defaults']
            # The defaults carry the related records' names ('user.').
            values = {k: v for k, v in start.items() if '.' not in k}
            values.update(data or {})
            result = Try.execute(session_id, {'start': values}, 'run')
        return start, result['view']['defaults']

    @with_transaction()
    def test_try_as_chosen_user(self):
        "Without Run As, the Test wizard runs as the user chosen"
        clerk = make_user('clerk')
        endpoint = self._endpoint(route='/who/<int:n>',
            code="result['payload'] = {'login': user.login, "
            "'n': request.path_params['n']}\n")
        start, response = self._try(endpoint, {'user': clerk.id})
        self.assertEqual(start['path'], '/who/1')
        self.assertEqual(start['user'], Transaction().user)
        self.assertEqual(response['status'], 200, response)
        self.assertEqual(json.loads(response['body']),
            {'login': 'clerk', 'n': 1})

    @with_transaction()
    def test_try_logs_timeout_and_error_line(self):
        "The Test wizard's log shows a timeout and a runtime error's line"
        endpoint = self._endpoint(route='/slow', timeout=0.2,
            code="x = 1\nwhile True:\n    x += 1\n")
        _, response = self._try(endpoint)
        self.assertEqual(response['status'], 504)
        request_id = json.loads(response['body'])['request_id']
        self.assertIn('error: 504 Gateway Timeout', response['logs'])

        endpoint.code = "x = 1\ny = {}\nz = y['nope']\n"
        endpoint.save()
        _, response = self._try(endpoint)
        self.assertEqual(response['status'], 500)
        self.assertIn("error: Line 3: KeyError: 'nope'", response['logs'])
        self.assertTrue(request_id)

    @with_transaction()
    def test_code_help_example_keeps_its_indentation(self):
        "A two-line example has both lines at the same indentation"
        endpoint = self._endpoint(route='/help')
        lines = endpoint.code_help.splitlines()
        first = next(i for i, line in enumerate(lines)
            if "Party = pool.get('party.party')" in line)
        self.assertEqual(lines[first],
            "    e.g. Party = pool.get('party.party')")
        self.assertTrue(lines[first + 1].startswith(
                "         parties = Party.search_read("), lines[first + 1])



class FailureLogTestCase(EndpointRouteTestCase):
    "What an admin handed a request id finds"

    def test_timeout_and_error_in_endpoint_and_server_log(self):
        "A 504's request id is in both logs; a 500's log line has its line"
        endpoint = define(route='/slow', auth='public',
            exec_user=self.web_user, timeout=0.2,
            code="x = 1\nwhile True:\n    x += 1\n")
        with self.assertLogs('trytond.modules.endpoint.pipeline',
                'WARNING') as server_log:
            response = self.client().get(self.url('/slow'))
        self.assertEqual(response.status_code, 504)
        request_id = json.loads(response.data)['request_id']
        self.assertIn(request_id, '\n'.join(server_log.output))
        broken = define(route='/broken', auth='public',
            exec_user=self.web_user,
            code="x = 1\ny = 0\nresult['payload'] = x / y\n")
        with self.assertLogs('trytond.modules.endpoint.pipeline', 'ERROR'):
            response = self.client().get(self.url('/broken'))
        error_id = json.loads(response.data)['error_id']
        with Transaction().start(DB_NAME, 0):
            Log = Pool().get('endpoint.log')
            timeout, = Log.search([('endpoint', '=', endpoint)])
            self.assertEqual(timeout.request_id, request_id)
            self.assertEqual(timeout.level, 'error')
            self.assertIn('504', timeout.message)
            error, = Log.search([('endpoint', '=', broken)])
            self.assertEqual(error.request_id, error_id)
            self.assertEqual(error.message,
                'Line 3: ZeroDivisionError: division by zero')
