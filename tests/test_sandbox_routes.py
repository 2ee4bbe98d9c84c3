# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Escape attempts through a served endpoint, and the ORM that must work.

Each attack runs a snippet through the real WSGI application and checks
that it is stopped (a problem+json error) and that what it was after was
not reached: no secret in the answer, nothing changed in the database.
"""
import itertools
import json
from unittest import mock

from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import (
    EndpointRouteTestCase,
    bearer,
    define,
    make_user,
    tryton_context,
)

PROBLEM = 'application/problem+json'
_ROUTES = itertools.count()
VAT = 'BE0897290877'


class SandboxRouteTestCase(EndpointRouteTestCase):
    "Snippets reach the models only under the exec user's rights"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        User = pool.get('res.user')
        Party = pool.get('party.party')
        Access = pool.get('ir.model.access')
        FieldAccess = pool.get('ir.model.field.access')
        Attachment = pool.get('ir.attachment')
        # Nobody but root may read contact mechanisms or postal codes.
        Access.create([{
                    'model': 'party.contact_mechanism', 'perm_read': False,
                    'perm_write': False, 'perm_create': False,
                    'perm_delete': False}])
        FieldAccess.create([{
                    'model': 'party.address', 'field': 'postal_code',
                    'perm_read': False, 'perm_write': False}])
        make_user('clerk')
        user = User.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*user.select(
                user.password_hash, where=user.id == cls.alice))
        cls.alice_hash, = cursor.fetchone()
        assert cls.alice_hash
        with Transaction().set_user(cls.alice):
            party, = Party.create([{
                        'name': 'Seed',
                        'addresses': [('create', [{
                                        'city': 'Ghent',
                                        'postal_code': '9000-secret'}])],
                        'contact_mechanisms': [('create', [{
                                        'type': 'email',
                                        'value': 'hidden@example.com'}])],
                        'identifiers': [('create', [
                                    {'type': 'eu_vat', 'code': VAT},
                                    {'code': 'PLAIN-1'}])],
                        }])
        cls.seed = party.id
        attachment, = Attachment.create([{
                    'name': 'cv.txt', 'resource': f'res.user,{cls.alice}',
                    'data': b'attachment-secret'}])
        cls.user_attachment = attachment.id

    # Helpers

    def run_snippet(self, code, write=False, headers=None, **values):
        route = f'/sandbox/{next(_ROUTES)}'
        values.setdefault('auth', 'public')
        if values['auth'] == 'public':
            values.setdefault('exec_user', self.web_user)
        if write:
            values.update(method='POST', content_type='application/json')
        define(route=route, code=code, **values)
        client = self.client()
        if write:
            return client.post(
                self.url(route), json={}, headers=headers or {})
        return client.get(self.url(route), headers=headers or {})

    def ok(self, code, write=False, **values):
        response = self.run_snippet(code, write=write, **values)
        self.assertEqual(response.status_code, 200, response.data)
        return json.loads(response.data)

    def stopped(self, code, *statuses, write=False, secrets=(), **values):
        response = self.run_snippet(code, write=write, **values)
        self.assertStopped(response, *statuses, secrets=secrets)
        return json.loads(response.data)

    def assertStopped(self, response, *statuses, secrets=()):
        if statuses:
            self.assertIn(response.status_code, statuses, response.data)
        else:
            self.assertGreaterEqual(response.status_code, 400)
        self.assertEqual(response.mimetype, PROBLEM, response.data)
        text = response.get_data(as_text=True)
        for secret in ['Traceback', self.alice_hash, 'hidden@example.com',
                '9000-secret', 'attachment-secret', *secrets]:
            self.assertNotIn(secret, text)
        for name in ['Authorization', 'Cookie', 'Set-Cookie']:
            self.assertNotIn(name, response.headers)

    def count(self, model, domain):
        with Transaction().start(DB_NAME, 0, context={'active_test': False}):
            return Pool().get(model).search_count(domain)

    def parties(self, name):
        return self.count('party.party', [('name', '=', name)])

    # Administration models

    def test_admin_models_refused(self):
        "Every administration model is refused, whatever the call"
        for model in ['res.user', 'res.user.application', 'ir.session',
                'ir.model.access', 'ir.model.field.access', 'ir.rule',
                'ir.rule.group', 'ir.action', 'ir.action.act_window',
                'ir.configuration', 'ir.module', 'ir.model', 'ir.cron',
                'ir.trigger', 'res.group', 'endpoint.endpoint',
                'endpoint.log', 'no.such.model', 'party.check_vies.result']:
            with self.subTest(model=model):
                self.stopped(f"result['payload'] = pool.get({model!r})"
                    ".search_read([], fields_names=['id'])", 403,
                    secrets=['alice'])

    def test_admin_model_create_refused(self):
        "No user, key or access right is created through the pool"
        before = self.count('res.user.application', [])
        self.stopped("pool.get('res.user.application').create(["
            "{'user': 1, 'application': 'endpoint', "
            "'state': 'validated'}])", 403, write=True)
        self.assertEqual(self.count('res.user.application', []), before)
        self.stopped("pool.get('ir.model.access').create(["
            "{'model': 'party.contact_mechanism', 'perm_read': True}])",
            403, write=True)
        self.assertEqual(self.count('ir.model.access',
                [('model', '=', 'party.contact_mechanism')]), 1)

    def test_pool_user_read_only(self):
        "The run's user can not be changed through the pool"
        self.stopped("pool.user = 0\nresult['payload'] = pool.user", 500)
        self.assertEqual(self.ok("result['payload'] = pool.user"),
            self.web_user)

    # Relation walks

    def test_many2one_to_user_is_an_id(self):
        "create_uid gives an id, never a user record"
        self.stopped(
            f"p, = pool.get('party.party').browse([{self.seed}])\n"
            "result['payload'] = p.create_uid.login", 500,
            secrets=['alice'])
        self.stopped(
            f"p, = pool.get('party.party').browse([{self.seed}])\n"
            "result['payload'] = p.create_uid.password_hash", 500)

    def test_walk_into_unreadable_model(self):
        "A one2many to a model the user may not read 403"
        self.stopped(
            f"p, = pool.get('party.party').browse([{self.seed}])\n"
            "result['payload'] = [m.value for m in p.contact_mechanisms]",
            403)

    def test_walk_to_unreadable_field(self):
        "A field the user may not read 403, also through a relation"
        self.stopped(
            f"p, = pool.get('party.party').browse([{self.seed}])\n"
            "result['payload'] = p.addresses[0].postal_code", 403)

    def test_attachment_of_user_out_of_reach(self):
        "Attachments and notes of administration records are refused"
        for code in [
                f"a, = pool.get('ir.attachment').browse("
                f"[{self.user_attachment}])\nresult['payload'] = a.data",
                f"result['payload'] = pool.get('ir.attachment').read("
                f"[{self.user_attachment}], ['data', 'resource'])",
                f"pool.get('ir.attachment').write([{self.user_attachment}], "
                "{'name': 'changed'})",
                f"pool.get('ir.attachment').delete([{self.user_attachment}])",
                ]:
            with self.subTest(code=code):
                self.stopped(code, 403, write=True, secrets=['alice'])
        # Searches never find them
        response = self.run_snippet("result['payload'] = "
            "pool.get('ir.attachment').search_read([], "
            "fields_names=['data', 'resource'])")
        self.assertIn(response.status_code, (200, 403), response.data)
        self.assertNotIn(b'res.user', response.data)
        self.assertNotIn(b'attachment-secret', response.data)
        response = self.run_snippet("result['payload'] = "
            "pool.get('ir.attachment').search_read("
            f"[('resource', '=', 'res.user,{self.alice}')], "
            "fields_names=['data'])")
        self.assertIn(response.status_code, (200, 403), response.data)
        if response.status_code == 200:
            self.assertEqual(json.loads(response.data), [])

    def test_reference_to_admin_model_not_written(self):
        "An attachment can not be hung on a user"
        before = self.count('ir.attachment', [])
        self.stopped("pool.get('ir.attachment').create([{'name': 'x', "
            f"'resource': 'res.user,{self.alice}', 'data': b'x'}}])", 403,
            write=True)
        self.stopped("pool.get('ir.attachment').create([{'name': 'x', "
            f"'resource': ('res.user', {self.alice}), 'data': b'x'}}])",
            403, write=True)
        self.assertEqual(self.count('ir.attachment', []), before)

    # Dotted field names

    def test_dotted_fields_into_admin_models(self):
        "Dotted field names may not walk into a user"
        for call in [
                "search_read([], fields_names=['create_uid.password_hash'])",
                "search_read([], fields_names=['name', 'create_uid.login'])",
                f"read([{self.seed}], ['write_uid.rec_name'])",
                f"read([{self.seed}], ['addresses.create_uid.login'])",
                ]:
            with self.subTest(call=call):
                self.stopped(
                    f"result['payload'] = pool.get('party.party').{call}",
                    403, secrets=['alice'])

    def test_checked_field_names_stay_checked(self):
        "Names checked once are not a way around the check later"
        Party = "pool.get('party.party')"
        self.ok(f"result['payload'] = {Party}.read([{self.seed}], "
            "['name', 'code'])")
        for names in ["'name'", "('name', 'code')[0]", "{'name': 1}",
                "['name', 'create_uid.login']", "[['name'], 'code']"]:
            with self.subTest(names=names):
                self.stopped(f"result['payload'] = {Party}.read("
                    f"[{self.seed}], {names})", 400, 403, 500,
                    secrets=['alice'])
        payload = self.ok(f"result['payload'] = {Party}.read("
            f"[{self.seed}], ('name', 'code'))")
        self.assertEqual(sorted(payload[0]), ['code', 'id', 'name'])

    def test_dotted_fields_into_unreadable_model(self):
        "Dotted field names obey the target model's access"
        self.stopped("result['payload'] = pool.get('party.party')"
            ".search_read([], fields_names=['contact_mechanisms.value'])",
            403)

    def test_order_into_admin_model(self):
        "An order may not walk into a user"
        for order in ["[('create_uid.login', 'ASC')]",
                "[('create_uid', 'ASC')]"]:
            with self.subTest(order=order):
                self.stopped("result['payload'] = pool.get('party.party')"
                    f".search_read([], order={order}, fields_names=['id'])",
                    403)

    # Domain traversal

    def test_domain_into_admin_model(self):
        "A domain may compare user ids only, never their fields"
        for clause in [
                "('create_uid.login', '=', 'alice')",
                "('create_uid.password_hash', '!=', None)",
                "('create_uid', 'ilike', 'ali%')",
                "('create_uid', '=', 'alice')",
                "('create_uid', 'where', [('login', '=', 'alice')])",
                "('create_uid', 'child_of', [1], 'parent')",
                "('addresses.create_uid.login', '=', 'alice')",
                "['OR', ('name', '=', 'x'), ('write_uid.login', '=', 'a')]",
                ]:
            with self.subTest(clause=clause):
                self.stopped("result['payload'] = pool.get('party.party')"
                    f".search_count([{clause}])", 403)

    def test_domain_through_reference_into_admin_model(self):
        "A reference clause naming an administration model is refused"
        self.stopped("result['payload'] = pool.get('ir.attachment')"
            ".search_count([('resource.login', '=', 'alice', 'res.user')])",
            403)

    def test_domain_into_unreadable_model(self):
        "A domain obeys the target model's access"
        self.stopped("result['payload'] = pool.get('party.party')"
            ".search_count([('contact_mechanisms.value', 'like', 'h%')])",
            403)

    # RPC methods

    def test_rpc_methods_not_offered(self):
        "Only vetted methods and buttons are offered"
        for call in [
                "import_data(['name'], [['Imported']])",
                f"export_data([{self.seed}], ['create_uid/login'])",
                "export_data_domain([], ['create_uid/password_hash'])",
                "fields_view_get()",
                "view_toolbar_get()",
                f"resources([{self.seed}])",
                "pre_validate({'name': 'x'})",
                "on_change({'name': 'x'}, ['name'])",
                "on_change_with({'name': 'x'}, ['rec_name'])",
                "autocomplete('x')",
                f"history_revisions([{self.seed}])",
                "with_context(active_test=False)",
                "check_vies([])",
                "browse",
                ]:
            with self.subTest(call=call):
                self.stopped(
                    "result['payload'] = pool.get('party.party')."
                    + call, 500, write=True, secrets=['alice'])
        self.assertFalse(self.parties('Imported'))

    def test_private_names_not_compiled(self):
        "Private names and getattr are refused when the code is saved"
        for code in [
                "result['payload'] = pool.get('party.party')._ModelProxy"
                "__model",
                "result['payload'] = getattr(pool, '_raise_failure')()",
                "result['payload'] = pool.get('party.party').search("
                "[], _check_access=False)",
                f"p, = pool.get('party.party').browse([{self.seed}])\n"
                "result['payload'] = p._RecordView__batch",
                ]:
            with self.subTest(code=code):
                with self.assertRaises(ValidationError):
                    self.run_snippet(code)

    def test_values_checked(self):
        "Private keys, objects and context are refused in values"
        for call in [
                "create([{'name': 'Bad', '_check_access': False}])",
                "create([{'name': 'Bad', 'id': 1}])",
                "create([{'name': 'Bad', 'lang': pool}])",
                "create([{'name': 'Bad'}], context={'active_test': 0})",
                "create([{'name': 'Bad', 'categories': "
                "[('create', [{'name': 'C', 'create_uid': pool}])]}])",
                f"write([{self.seed}], {{'name': 'Bad', "
                "'_datetime': None})",
                f"copy([{self.seed}], default={{'name': 'Bad', "
                "'_user': 0})",
                ]:
            with self.subTest(call=call):
                self.stopped(f"pool.get('party.party').{call}", 500,
                    write=True)
        self.assertFalse(self.parties('Bad'))
        self.assertEqual(self.count('party.party',
                [('name', '=', 'Seed')]), 1)

    def test_copy_needs_read_access(self):
        "copy() is not a way to read a record"
        self.stopped("pool.get('party.contact_mechanism').copy([1])", 403,
            write=True)
        self.assertEqual(self.count('party.contact_mechanism', []), 1)

    def test_exceptions_hold_text_only(self):
        "An ORM error a snippet catches holds text, not Tryton objects"
        payload = self.ok(
            "try:\n"
            "    pool.get('party.contact_mechanism').search([])\n"
            "except Exception as e:\n"
            "    result['payload'] = [e.message, e.description, e.domain, "
            "e.args]\n")
        self.assertIn('Contact Mechanism', payload[0])
        self.assertIsNone(payload[2])
        self.assertEqual(payload[3], [
                'UserError', [payload[0], payload[1], None]])

    # Context tampering

    def test_context_cannot_lift_checks(self):
        "X-Tryton-Context never turns off access checks or changes user"
        context = tryton_context({'_check_access': False, 'user': 0,
                '_user': 0, '_datetime': None, '_skip_warnings': True})
        before = self.count('party.category', [])
        self.stopped("pool.get('party.category').create([{'name': 'x'}])",
            403, write=True, headers={'X-Tryton-Context': context})
        self.assertEqual(self.count('party.category', []), before)
        self.stopped(
            "result['payload'] = pool.get('party.contact_mechanism')"
            ".search_read([], fields_names=['value'])", 403,
            headers={'X-Tryton-Context': context})
        payload = self.ok("result['payload'] = [pool.user, context]",
            headers={'X-Tryton-Context': context})
        self.assertEqual(payload[0], self.web_user)
        self.assertEqual(payload[1], {})

    def test_active_test_is_allowed(self):
        "active_test only shows archived records the user may read"
        with Transaction().start(DB_NAME, 0) as transaction:
            Party = Pool().get('party.party')
            Party.create([{'name': 'Archived', 'active': False}])
            transaction.commit()
        code = ("result['payload'] = pool.get('party.party')"
            ".search_count([('name', '=', 'Archived')])")
        self.assertEqual(self.ok(code), 0)
        self.assertEqual(self.ok(code, headers={
                    'X-Tryton-Context': tryton_context(
                        {'active_test': False})}), 1)
        self.stopped("result['payload'] = pool.get('party.contact_mechanism')"
            ".search_count([])", 403, headers={
                'X-Tryton-Context': tryton_context({'active_test': False})})

    # Rights

    def test_read_denied_model(self):
        "A model the user may not read 403"
        self.stopped("result['payload'] = pool.get('party.contact_mechanism')"
            ".search_read([], fields_names=['value'])", 403)
        self.stopped("result['payload'] = [m.value for m in "
            "pool.get('party.contact_mechanism').browse([1])]", 403)

    def test_write_read_only_model(self):
        "Writing a model the user may only read 403, nothing changed"
        with Transaction().start(DB_NAME, 0) as transaction:
            Category = Pool().get('party.category')
            category, = Category.create([{'name': 'Fixed'}])
            transaction.commit()
        self.assertEqual(self.ok("result['payload'] = pool.get("
                f"'party.category').read([{category.id}], ['name'])"),
            [{'id': category.id, 'name': 'Fixed'}])
        self.stopped(f"pool.get('party.category').write([{category.id}], "
            "{'name': 'Changed'})", 403, write=True)
        self.stopped(f"pool.get('party.category').delete([{category.id}])",
            403, write=True)
        self.stopped("pool.get('ir.lang').write("
            "pool.get('ir.lang').search([], limit=1), "
            "{'translatable': True})", 403, write=True)
        self.assertEqual(self.count('party.category',
                [('name', '=', 'Fixed')]), 1)

    def test_button_rules(self):
        "A button in a state that hides it 403"
        Identifier = Pool(DB_NAME).get('party.identifier')
        with mock.patch.object(
                Identifier, 'check_vies', autospec=True) as check_vies:
            self.stopped("I = pool.get('party.identifier')\n"
                "I.check_vies_button(I.search([('code', '=', 'PLAIN-1')]))",
                403, write=True)
        check_vies.assert_not_called()

    def test_caller_rights(self):
        "Without an exec user, the caller's own rights apply"
        payload = self.ok("result['payload'] = pool.user",
            auth='application', headers=bearer(self.alice_key))
        self.assertEqual(payload, self.alice)
        self.stopped("result['payload'] = pool.get('party.contact_mechanism')"
            ".search_count([])", 403, auth='application',
            headers=bearer(self.alice_key))

    # The request

    def test_request_view(self):
        "The request has no credentials, no environ, no stream"
        payload = self.ok("result['payload'] = sorted(request.headers)",
            auth='application', headers={**bearer(self.alice_key),
                'Cookie': 'session=abc', 'X-Probe': '1'})
        self.assertIn('X-Probe', payload)
        self.assertNotIn('Authorization', payload)
        self.assertNotIn('Cookie', payload)
        for attribute in ['environ', 'stream', 'authorization', 'cookies',
                'session', 'user_id', 'context']:
            with self.subTest(attribute=attribute):
                self.stopped(
                    f"result['payload'] = str(request.{attribute})", 500,
                    secrets=['session=abc', self.alice_key],
                    auth='application',
                    headers={**bearer(self.alice_key),
                        'Cookie': 'session=abc'})

    # Response headers

    def test_header_injection(self):
        "CR or LF in a header is an error, the header never sent"
        for code in [
                "result['payload'] = 'x'\n"
                "result['headers'] = {'X-A': 'a\\r\\nSet-Cookie: s=1'}",
                "result['payload'] = 'x'\n"
                "result['headers'] = {'X-A': 'a\\nSet-Cookie: s=1'}",
                "result['payload'] = 'x'\n"
                "result['headers'] = {'Set-Cookie: s': '1'}",
                "result['response'] = Response('x', "
                "headers={'X-A': 'a\\r\\nSet-Cookie: s=1'})",
                "result['response'] = Response('x', "
                "content_type='text/plain\\r\\nSet-Cookie: s=1')",
                ]:
            with self.subTest(code=code):
                response = self.run_snippet(code)
                self.assertStopped(response, 500)
                self.assertNotIn('X-A', response.headers)

    # Serialisation

    def test_objects_in_payload(self):
        "Views and proxies in a payload are an error, never serialised"
        for value in [
                f"pool.get('party.party').browse([{self.seed}])",
                f"{{'p': pool.get('party.party').browse([{self.seed}])[0]}}",
                "[pool.get('party.party')]",
                "{'pool': pool}",
                "pool",
                ]:
            with self.subTest(value=value):
                self.stopped(f"result['payload'] = {value}", 500,
                    secrets=['party.party', 'ModelProxy', 'RecordView',
                        'object at'])
                self.stopped(
                    f"result['response'] = Response({value})", 500,
                    secrets=['party.party', 'ModelProxy', 'RecordView',
                        'object at'])

    # Budget

    def test_infinite_loop(self):
        "An endless loop 504 problem+json, the next request is served"
        with self.assertLogs('trytond.modules.endpoint.pipeline', 'WARNING'):
            self.stopped("while True:\n    pass", 504, timeout=0.3)
        self.assertEqual(self.ok("result['payload'] = 1"), 1)

    def test_orm_loop(self):
        "An endless loop of ORM calls 504, the next request is served"
        with self.assertLogs('trytond.modules.endpoint.pipeline', 'WARNING'):
            self.stopped("P = pool.get('party.party')\nwhile True:\n"
                "    P.search_count([('name', 'ilike', '%e%')])", 504,
                timeout=0.3)
        self.assertEqual(self.ok("result['payload'] = 2"), 2)

    def test_orm_call_over_budget(self):
        "One ORM call of many statements stops at the deadline: 504"
        with self.assertLogs('trytond.modules.endpoint.pipeline', 'WARNING'):
            self.stopped("pool.get('party.party').create("
                "[{'name': 'Bulk'}] * 5000)", 504, write=True, timeout=0.3)
        self.assertEqual(self.parties('Bulk'), 0)
        self.assertEqual(self.ok("result['payload'] = 5"), 5)

    def test_huge_allocation(self):
        "A huge allocation is refused"
        for code in ["x = 'a' * 10 ** 10", "x = [0] * 10 ** 10",
                "x = bytes(10 ** 10)", "x = 10 ** (10 ** 8)",
                "s = 'a' * 1000\nlog([s] * 10 ** 6)",
                "s = 'a' * 1000\nx = str([s] * 10 ** 6)"]:
            with self.subTest(code=code):
                self.stopped(code, 504)
        self.assertEqual(self.ok("result['payload'] = 3"), 3)

    def test_huge_exception_text(self):
        "An exception whose text would be huge: 500, logged in short"
        with self.assertLogs('trytond.modules.endpoint.pipeline') as logs:
            self.stopped("s = 'a' * 1000\nraise ValueError([s] * 10 ** 6)",
                500)
        self.assertLess(sum(len(line) for line in logs.output), 20000)
        self.assertIn('too large to show', ''.join(logs.output))

    def test_memory_budget(self):
        "A run that keeps allocating 504 before the worker runs out"
        from trytond.modules.endpoint import pipeline
        with mock.patch.object(pipeline, 'MEMORY_BUDGET', 64 * 2 ** 20), \
                self.assertLogs('trytond.modules.endpoint.pipeline', 'WARNING'):
            problem = self.stopped("x = []\nwhile True:\n"
                "    x.append('a' * 10 ** 6)", 504, timeout=30)
        self.assertIn('memory', problem['detail'])
        self.assertEqual(self.ok("result['payload'] = 4"), 4)

    # What must work

    def test_search_browse_read(self):
        "search, browse, read and search_read of parties"
        payload = self.ok(
            "P = pool.get('party.party')\n"
            "p, = P.search([('name', '=', 'Seed')])\n"
            "q, = P.browse([p.id])\n"
            "result['payload'] = {'id': p.id, 'name': q.name, "
            "'rec_name': q.rec_name, 'same': p == q, "
            "'read': P.read([p], ['name']), "
            "'sr': P.search_read([('id', '=', p.id)], "
            "fields_names=['name', 'addresses.city'])}")
        self.assertEqual(payload['id'], self.seed)
        self.assertEqual(payload['name'], 'Seed')
        self.assertEqual(payload['rec_name'], 'Seed')
        self.assertTrue(payload['same'])
        self.assertEqual(payload['read'], [{'id': self.seed, 'name': 'Seed'}])
        self.assertEqual(payload['sr'][0]['addresses.'][0]['city'], 'Ghent')

    def test_relations(self):
        "one2many to addresses, many2one back to the party, user ids"
        payload = self.ok(
            f"p, = pool.get('party.party').browse([{self.seed}])\n"
            "a = p.addresses[0]\n"
            "result['payload'] = [a.city, a.party.name, a.party == p, "
            "p.create_uid, len(p.identifiers)]")
        self.assertEqual(payload, ['Ghent', 'Seed', True, self.alice, 2])

    def test_search_count_and_domains(self):
        "search_count, id filters on users and walks to allowed models"
        payload = self.ok(
            "P = pool.get('party.party')\n"
            "result['payload'] = ["
            f"P.search_count([('create_uid', '=', {self.alice})]), "
            f"P.search_count([('create_uid', 'in', [{self.alice}])]), "
            "P.search_count([('addresses.city', '=', 'Ghent')]), "
            "P.search_count([('addresses', 'where', "
            "[('city', '=', 'Ghent')])]), "
            "len(P.search([], order=[('name', 'ASC')], limit=1))]")
        self.assertEqual(payload, [1, 1, 1, 1, 1])

    def test_create_write_delete(self):
        "create with addresses, write and delete, committed"
        payload = self.ok(
            "P = pool.get('party.party')\n"
            "p, = P.create([{'name': 'Made', 'addresses': "
            "[('create', [{'city': 'Liege'}])]}])\n"
            "q, = P.create([{'name': 'Gone'}])\n"
            "P.write([p], {'name': 'Made2'})\n"
            "P.delete([q.id])\n"
            "result['payload'] = [p.name, p.addresses[0].city]",
            write=True)
        self.assertEqual(payload, ['Made2', 'Liege'])
        self.assertEqual(self.parties('Made2'), 1)
        self.assertFalse(self.parties('Gone'))

    def test_create_with_relation_ids(self):
        "many2one set from a view or an id, many2many add"
        with Transaction().start(DB_NAME, 0) as transaction:
            Category = Pool().get('party.category')
            category, = Category.create([{'name': 'Tag'}])
            transaction.commit()
        payload = self.ok(
            "P = pool.get('party.party')\n"
            f"seed, = P.browse([{self.seed}])\n"
            "A = pool.get('party.address')\n"
            "a, = A.create([{'party': seed, 'city': 'Namur'}])\n"
            "p, = P.create([{'name': 'Tagged', 'categories': "
            f"[('add', [{category.id}])]}}])\n"
            "result['payload'] = [a.party.name, "
            "[c.name for c in p.categories]]", write=True)
        self.assertEqual(payload, ['Seed', ['Tag']])

    def test_copy(self):
        "copy with a default"
        with Transaction().start(DB_NAME, 0) as transaction:
            Party = Pool().get('party.party')
            original, = Party.create([{'name': 'Original',
                        'addresses': [('create', [{'city': 'Mons'}])]}])
            transaction.commit()
        payload = self.ok(
            "P = pool.get('party.party')\n"
            f"c, = P.copy([{original.id}], default={{'name': 'Copied'}})\n"
            "result['payload'] = [c.name, c.id != "
            f"{original.id}, c.create_uid, c.addresses[0].city]", write=True)
        self.assertEqual(payload, ['Copied', True, self.web_user, 'Mons'])

    def test_button(self):
        "A button the user may press"
        Identifier = Pool(DB_NAME).get('party.identifier')
        codes = []
        with mock.patch.object(Identifier, 'check_vies',
                side_effect=lambda ids: codes.extend(i.code for i in ids)):
            self.ok("I = pool.get('party.identifier')\n"
                f"I.check_vies_button(I.search([('code', '=', '{VAT}')]))\n"
                "result['payload'] = 1", write=True)
        self.assertEqual(codes, [VAT])

    def test_class_methods(self):
        "fields_get and default_get are offered"
        payload = self.ok(
            "P = pool.get('party.party')\n"
            "f = P.fields_get(['name', 'addresses'])\n"
            "result['payload'] = [f['name']['type'], "
            "f['addresses']['relation'], P.default_get(['active']), "
            "'name' in P.fields, P.name]")
        self.assertEqual(payload, ['char', 'party.address',
                {'active': True}, True, 'party.party'])

    def test_allowed_ir_models(self):
        "Attachments on parties, languages: views and reads"
        payload = self.ok(
            "A = pool.get('ir.attachment')\n"
            "a, = A.create([{'name': 'n.txt', 'data': b'hi', "
            f"'resource': 'party.party,{self.seed}'}}])\n"
            "result['payload'] = [a.resource.name, "
            "len(pool.get('ir.lang').search([('code', '=', 'en')]))]",
            write=True)
        self.assertEqual(payload, ['Seed', 1])

    def test_user_error_caught(self):
        "A Tryton error can be caught and answered by the snippet"
        payload = self.ok(
            "try:\n"
            "    pool.get('party.address').create([{}])\n"
            "except Exception as e:\n"
            "    result['payload'] = {'error': e.message}",
            write=True)
        self.assertIn('Party', payload['error'])


del EndpointRouteTestCase
