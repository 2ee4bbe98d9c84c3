# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""An attacker's notebook: the data policy through served endpoints.

The attacker is "mallory", a member of Endpoint Administration (not an
administrator), who writes snippets that run as "clerk", a user with no
administration rights and a record rule limiting what it may create and
change. Each attack is served through the real WSGI application; each test
checks both that it is refused (a problem+json error naming what) and that
what it was after was not reached: no secret in the answer, nothing
changed in the database.
"""
import itertools
import json
from unittest import mock

from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, bearer, define, make_key, make_user

PROBLEM = 'application/problem+json'
RESET_TOKEN = 'reset-token-of-admin-0123456789'
_ROUTES = itertools.count()


def _policy():
    from trytond.modules.endpoint import policy
    return policy


class SandboxDataTestCase(EndpointRouteTestCase):
    "No secret read, nothing written out of rights, nothing as an admin"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        User = pool.get('res.user')
        Group = pool.get('res.group')
        RuleGroup = pool.get('ir.rule.group')
        Party = pool.get('party.party')
        Attachment = pool.get('ir.attachment')
        Note = pool.get('ir.note')
        FieldAccess = pool.get('ir.model.field.access')
        ModelData = pool.get('ir.model.data')
        admin, = User.search([('login', '=', 'admin')])
        cls.admin = admin.id
        cls.admin_key = make_key(admin)
        user = User.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*user.update(
                [user.password_reset, user.password_reset_expire],
                [RESET_TOKEN, '2999-01-01 00:00:00'],
                where=user.id == admin.id))
        cursor.execute(*user.select(
                user.password_hash, where=user.id == admin.id))
        cls.admin_hash, = cursor.fetchone()
        # Clerks may only create and change parties named "Clerk …"
        clerks, = Group.create([{'name': 'Clerks'}])
        cls.clerks = clerks.id
        RuleGroup.create([{
                    'name': 'Clerk parties', 'model': 'party.party',
                    'global_p': False, 'default_p': False,
                    'perm_read': False, 'perm_write': True,
                    'perm_create': True, 'perm_delete': True,
                    'groups': [('add', [clerks.id])],
                    'rules': [('create', [{
                                    'domain': json.dumps(
                                        [('name', 'like', 'Clerk%')])}])],
                    }])
        clerk = make_user('clerk')
        clerk.groups = [clerks]
        clerk.save()
        cls.clerk = clerk.id
        endpoint_admin = ModelData.get_id('endpoint', 'group_endpoint_admin')
        mallory = make_user('mallory')
        mallory.groups = [endpoint_admin, clerks.id]
        mallory.save()
        cls.mallory = mallory.id
        # A user with a group mallory lacks
        auditors, = Group.create([{'name': 'Auditors'}])
        auditor = make_user('auditor')
        auditor.groups = [auditors]
        auditor.save()
        cls.auditor = auditor.id
        FieldAccess.create([{
                    'model': 'party.address', 'field': 'postal_code',
                    'perm_read': False, 'perm_write': False}])
        with Transaction().set_user(admin.id):
            party, = Party.create([{'name': 'Clerk Seed',
                        'addresses': [('create', [{
                                        'city': 'Ghent',
                                        'postal_code': '9000-hidden'}])]}])
        cls.party = party.id
        cls.address = party.addresses[0].id
        cls.admin_attachment, = [a.id for a in Attachment.create([{
                        'name': 'admin.txt',
                        'resource': f'res.user,{admin.id}',
                        'data': b'admin-attachment-secret'}])]
        cls.admin_note, = [n.id for n in Note.create([{
                        'resource': f'res.user,{admin.id}',
                        'message': 'admin-note-secret'}])]
        cls.party_attachment, = [a.id for a in Attachment.create([{
                        'name': 'party.txt',
                        'resource': f'party.party,{party.id}',
                        'data': b'party-attachment'}])]

    # Helpers

    def serve(self, code, method='GET', headers=None, body=None, **values):
        route = f'/attack/{next(_ROUTES)}'
        values.setdefault('auth', 'public')
        if values['auth'] == 'public':
            values.setdefault('exec_user', self.clerk)
        if method != 'GET':
            values.setdefault('content_type', 'application/json')
        define(route=route, code=code, method=method, **values)
        client = self.client()
        if method == 'GET':
            return client.get(self.url(route), headers=headers or {})
        return client.open(self.url(route), method=method,
            json=body if body is not None else {}, headers=headers or {})

    def ok(self, code, **kwargs):
        response = self.serve(code, **kwargs)
        self.assertEqual(response.status_code, 200, response.data)
        self.assertNoSecret(response)
        return json.loads(response.data)

    def refused(self, code, status=403, names=(), **kwargs):
        "Refused with status, the problem naming each of names"
        response = self.serve(code, **kwargs)
        self.assertEqual(response.status_code, status, response.data)
        self.assertEqual(response.mimetype, PROBLEM, response.data)
        self.assertNoSecret(response)
        problem = json.loads(response.data)
        for name in names:
            self.assertIn(name, problem['detail'])
        return problem

    def assertNoSecret(self, response):
        text = response.get_data(as_text=True)
        for secret in [RESET_TOKEN, self.admin_hash, self.admin_key,
                'admin-attachment-secret', 'admin-note-secret',
                '9000-hidden', 'Traceback']:
            if secret:
                self.assertNotIn(secret, text)

    def count(self, model, domain):
        with Transaction().start(DB_NAME, 0, context={'active_test': False}):
            return Pool().get(model).search_count(domain)

    def parties(self, name):
        return self.count('party.party', [('name', '=', name)])

    # Field paths into administration models

    def test_rest_fields_into_user(self):
        "rest.search/read fields through create_uid: 403, never read"
        for code in [
                "result['response'] = rest.search('party.party', "
                "fields=['name', 'create_uid.password_reset'])",
                "result['response'] = rest.read('party.party', "
                f"{self.party}, fields=['create_uid.password_hash'])",
                "result['response'] = rest.search('party.party', "
                "fields=['addresses.create_uid.applications.key'])",
                ]:
            with self.subTest(code=code):
                self.refused(code, names=['res.user'])

    def test_pool_fields_into_user(self):
        "The pool refuses the same paths"
        self.refused("result['payload'] = pool.get('party.party')"
            ".search_read([], fields_names=['create_uid.password_reset'])",
            names=['res.user'])

    # Domain oracles

    def test_rest_domain_oracle_on_keys(self):
        "A domain of the endpoint or of the client never reaches a key"
        for domain in [
                "[('create_uid.applications.key', 'like', 'a%')]",
                "[('addresses', 'where', "
                "[('create_uid.applications.key', 'like', 'a%')])]",
                "['OR', ('name', '=', 'x'), [('create_uid.password_hash',"
                " 'like', '$%')]]",
                "[('create_uid', 'where', [('login', '=', 'admin')])]",
                "[('create_uid', 'ilike', 'adm%')]",
                ]:
            with self.subTest(domain=domain):
                self.refused("result['response'] = rest.search("
                    f"'party.party', domain={domain})")
                self.refused("result['payload'] = pool.get('party.party')"
                    f".search_count({domain})")

    def test_reference_domain_into_user(self):
        "The 4-element Reference form naming res.user is refused"
        for clause in [
                "('resource.password_hash', 'like', '$%', 'res.user')",
                "('resource', 'where', [('login', '=', 'admin')], "
                "'res.user')",
                "('resource.resource', 'like', 'res.user%', "
                "'ir.attachment')",
                ]:
            with self.subTest(clause=clause):
                self.refused("result['payload'] = pool.get('ir.note')"
                    f".search_count([{clause}])")
                self.refused("result['response'] = rest.search("
                    f"'ir.note', domain=[{clause}])")

    def test_name_search_oracle_on_hidden_field(self):
        "A name search whose searcher reads a hidden field is refused"
        for model, clause in [
                ('party.party', "('addresses', 'ilike', '%9000-hid%')"),
                ('party.party', "('addresses.rec_name', 'ilike', '%9000%')"),
                ('party.address', "('rec_name', 'ilike', '%9000-hid%')"),
                ]:
            with self.subTest(clause=clause):
                self.refused(f"result['payload'] = pool.get({model!r})"
                    f".search_count([{clause}])", names=['rec_name'])
                self.refused(f"result['response'] = rest.search({model!r}, "
                    f"domain=[{clause}])")

    def test_seed_rest_domain_oracle(self):
        "The seed REST refuses the oracle in d, also nested"
        from .test_rest import b64
        for domain in [
                [('create_uid.applications.key', 'like', 'a%')],
                [('addresses', 'where',
                        [('create_uid.password_hash', 'like', '$%')])],
                ]:
            with self.subTest(domain=domain):
                response = self.client().get(
                    self.url('/rest/model/party.party'),
                    query_string={'d': b64(domain)},
                    headers=bearer(self.alice_key))
                self.assertEqual(response.status_code, 403, response.data)
                self.assertNoSecret(response)

    def test_order_oracle(self):
        "An order may not sort by a user's secret, nor through a Reference"
        from .test_rest import b64
        response = self.client().get(self.url('/rest/model/party.party'),
            query_string={'o': b64([('create_uid.password_hash', 'ASC')])},
            headers=bearer(self.alice_key))
        self.assertEqual(response.status_code, 403, response.data)
        self.refused("result['payload'] = pool.get('ir.note').search_read("
            "[], order=[('resource.login', 'ASC')], fields_names=['id'])")

    def test_report_of_admin_model(self):
        "A report of users is refused, whatever the record"
        self.refused("result['response'] = rest.report("
            f"'res.user.email_reset_password', {self.admin})",
            names=['res.user.email_reset_password'])

    def test_button_in_get(self):
        "A button pressed in a GET is refused before it runs"
        self.refused("I = pool.get('party.identifier')\n"
            "I.check_vies_button([])", names=['read-only'])

    # Attachments and notes of administration records

    def test_rest_read_admin_attachment_and_note(self):
        "rest.read of an attachment or note of a user 403"
        for model, id_ in [('ir.attachment', self.admin_attachment),
                ('ir.note', self.admin_note)]:
            with self.subTest(model=model):
                self.refused(f"result['response'] = rest.read({model!r}, "
                    f"{id_})", names=[model])
                response = self.client().get(
                    self.url(f'/rest/model/{model}/{id_}'),
                    headers=bearer(self.alice_key))
                self.assertEqual(response.status_code, 403, response.data)
                self.assertNoSecret(response)
        # Nor found by a search, nor changed
        for resource, names in [
                (f'party.party,{self.party}', ['party.txt']),
                (f'res.user,{self.admin}', [])]:
            with self.subTest(resource=resource):
                response = self.serve("result['response'] = rest.search("
                    "'ir.attachment', fields=['name'], "
                    f"domain=[('resource', '=', {resource!r})])")
                self.assertEqual(response.status_code, 200, response.data)
                self.assertEqual(
                    [a['name'] for a in json.loads(response.data)], names)
        self.refused("result['response'] = rest.update('ir.attachment', "
            f"{self.admin_attachment})", method='PATCH',
            body={'name': 'changed'})
        self.assertEqual(self.count('ir.attachment',
                [('name', '=', 'changed')]), 0)

    def test_reference_to_admin_attachment(self):
        "A note hung on an attachment of a user is refused, never followed"
        before = self.count('ir.note', [])
        self.refused("n, = pool.get('ir.note').create([{'message': 'x', "
            f"'resource': 'ir.attachment,{self.admin_attachment}'}}])\n"
            "result['payload'] = n.resource.data.decode()",
            method='POST', names=['ir.attachment'])
        self.refused("result['response'] = rest.create('ir.note')",
            method='POST', body={'message': 'x',
                'resource': f'ir.attachment,{self.admin_attachment}'},
            names=['ir.attachment'])
        self.assertEqual(self.count('ir.note', []), before)

    def test_note_hangs_on_data_records_only(self):
        "Notes hang on data records: followed there, refused elsewhere"
        payload = self.ok("n, = pool.get('ir.note').create([{"
            f"'message': 'x', 'resource': 'party.party,{self.party}'}}])\n"
            "result['payload'] = [n.resource.name]", method='POST')
        self.assertEqual(payload, ['Clerk Seed'])
        before = self.count('ir.note', [])
        self.refused("pool.get('ir.note').create([{'message': 'x', "
            f"'resource': 'ir.attachment,{self.party_attachment}'}}])",
            method='POST', names=['ir.attachment'])
        self.assertEqual(self.count('ir.note', []), before)

    # Function fields

    def test_function_field_of_hidden_field(self):
        "full_address computed from a hidden postal code is not readable"
        self.refused("a, = pool.get('party.address').browse("
            f"[{self.address}])\nresult['payload'] = a.full_address",
            names=['full_address'])
        self.refused("result['payload'] = pool.get('party.address').read("
            f"[{self.address}], ['full_address'])", names=['full_address'])
        self.refused("result['payload'] = pool.get('party.party')"
            ".search_read([], fields_names=['addresses.full_address'])",
            names=['full_address'])
        # The REST answers leave it out, as fields the user may not read
        for code in [
                "result['response'] = rest.read('party.address', "
                f"{self.address})",
                "result['response'] = rest.read('party.address', "
                f"{self.address}, fields=['city', 'full_address'])",
                "result['response'] = rest.search('party.address', "
                "fields=['city', 'full_address', 'rec_name'])",
                ]:
            with self.subTest(code=code):
                response = self.serve(code)
                self.assertEqual(response.status_code, 200, response.data)
                self.assertNoSecret(response)
                self.assertNotIn(b'full_address', response.data)
        # What does not depend on the hidden field stays readable
        self.assertEqual(self.ok("a, = pool.get('party.address').browse("
                f"[{self.address}])\nresult['payload'] = [a.city]"),
            ['Ghent'])

    # Nothing half-done

    def test_caught_record_rule_error_keeps_nothing(self):
        "A caught record rule error leaves no row created or renamed"
        payload = self.ok(
            "P = pool.get('party.party')\n"
            "errors = []\n"
            "try:\n"
            "    P.create([{'name': 'Outside'}])\n"
            "except Exception as e:\n"
            "    errors.append(str(e))\n"
            f"seed, = P.browse([{self.party}])\n"
            "try:\n"
            "    P.write([seed], {'name': 'Renamed outside'})\n"
            "except Exception as e:\n"
            "    errors.append(str(e))\n"
            "P.create([{'name': 'Clerk Inside'}])\n"
            "result['payload'] = errors", method='POST')
        self.assertEqual(len(payload), 2, payload)
        self.assertEqual(self.parties('Outside'), 0)
        self.assertEqual(self.parties('Renamed outside'), 0)
        self.assertEqual(self.parties('Clerk Seed'), 1)
        # What the snippet did within its rights is kept
        self.assertEqual(self.parties('Clerk Inside'), 1)

    def test_caught_rest_error_keeps_nothing(self):
        "A caught error of the rest helper leaves no row either"
        self.ok(
            "try:\n"
            "    rest.create('party.party')\n"
            "except Exception:\n"
            "    pass\n"
            "result['payload'] = 1", method='POST',
            body={'name': 'Rest outside'})
        self.assertEqual(self.parties('Rest outside'), 0)
        self.ok(
            "try:\n"
            f"    rest.update('party.party', {self.party})\n"
            "except Exception:\n"
            "    pass\n"
            "result['payload'] = 1", method='PATCH',
            body={'name': 'Rest renamed'})
        self.assertEqual(self.parties('Rest renamed'), 0)
        self.assertEqual(self.parties('Clerk Seed'), 1)

    def test_get_never_writes(self):
        "A GET snippet that creates is refused, even when it catches it"
        self.refused("pool.get('party.party').create([{'name': 'Clerk "
            "By GET'}])", names=['read-only'])
        self.ok("try:\n"
            "    pool.get('party.party').create([{'name': 'Clerk By GET'}])\n"
            "except Exception:\n"
            "    pass\n"
            "result['payload'] = 1")
        self.refused("result['response'] = rest.create('party.party')")
        self.assertEqual(self.parties('Clerk By GET'), 0)

    def test_sqlite_read_only_transaction(self):
        "On SQLite, a read-only run's connection refuses to write"
        policy = _policy()
        with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
            Party = Pool().get('party.party')
            with policy.read_only(transaction):
                try:
                    Party.create([{'name': 'Clerk Raw'}])
                except Exception:
                    written = False
                else:
                    written = True
            transaction.rollback()
        from trytond import backend
        if backend.name == 'sqlite':
            self.assertFalse(written)
        self.assertEqual(self.parties('Clerk Raw'), 0)

    # Time budget

    def test_timeout_capped(self):
        "A snippet's own timeout is capped by [endpoint] max_timeout"
        from trytond.modules.endpoint import isolation
        budgets = []
        original = isolation.run

        def run(compiled, source, names, budget, *args, **kwargs):
            budgets.append(budget)
            return original(compiled, source, names, budget, *args, **kwargs)
        with mock.patch.object(isolation, 'run', run):
            self.ok("result['payload'] = 1", timeout=3600)
        self.assertEqual(budgets, [30])
        self.assertEqual(_policy().time_budget(None, 5), 5)
        self.assertEqual(_policy().time_budget(3600, 5), 30)

    # No escalation through Run As

    def save_as(self, user_id, **values):
        "Create an endpoint as user_id, with access checks, committed"
        values.setdefault('route', f'/saved/{next(_ROUTES)}')
        values.setdefault('name', values['route'])
        values.setdefault('code', "result['payload'] = 1")
        with Transaction().start(DB_NAME, user_id,
                context={'_check_access': True}) as transaction:
            Endpoint = Pool().get('endpoint.endpoint')
            endpoint, = Endpoint.create([values])
            transaction.commit()
            return endpoint.id

    def test_public_endpoint_never_as_admin(self):
        "A public endpoint running as admin is refused, even for root"
        for user_id in [self.mallory, 0]:
            with self.subTest(editor=user_id):
                with self.assertRaises(ValidationError) as cm:
                    self.save_as(user_id, auth='public',
                        exec_user=self.admin)
                self.assertIn('allow_admin_exec', cm.exception.message)
        # Unless the configuration allows it
        with mock.patch.object(_policy(), 'ALLOW_ADMIN_EXEC', True):
            self.save_as(0, auth='public', exec_user=self.admin)

    def test_public_endpoint_not_as_administrator(self):
        "A user with the Administrator flag is an administrator too"
        with Transaction().start(DB_NAME, 0) as transaction:
            boss = make_user('boss')
            boss.administrator = True
            boss.save()
            transaction.commit()
        with self.assertRaises(ValidationError):
            self.save_as(0, auth='public', exec_user=boss.id)

    def test_exec_user_groups_subset(self):
        "An editor may only run as a user whose groups are all theirs"
        with self.assertRaises(ValidationError) as cm:
            self.save_as(self.mallory, auth='application',
                exec_user=self.auditor)
        self.assertIn('Auditors', cm.exception.message)
        with self.assertRaises(ValidationError):
            self.save_as(self.mallory, auth='application',
                exec_user=self.admin)
        # clerk's groups are all mallory's
        self.save_as(self.mallory, auth='public', exec_user=self.clerk)

    def test_sync_checks_exec_user_again(self):
        "A Run As user who gained groups since the save is refused at sync"
        with Transaction().start(DB_NAME, 0) as transaction:
            riser = make_user('riser')
            transaction.commit()
        endpoint_id = self.save_as(self.mallory, auth='public',
            exec_user=riser.id)
        with Transaction().start(DB_NAME, 0) as transaction:
            User = Pool().get('res.user')
            User.write([User(riser.id)], {
                    'groups': [('add', [self.auditor_group()])]})
            transaction.commit()
        from trytond.exceptions import UserError
        with Transaction().start(DB_NAME, self.mallory,
                context={'_check_access': True}):
            Endpoint = Pool().get('endpoint.endpoint')
            with self.assertRaises(UserError) as cm:
                Endpoint.sync([Endpoint(endpoint_id)])
            self.assertIn('Auditors', cm.exception.message)

    def auditor_group(self):
        Group = Pool().get('res.group')
        group, = Group.search([('name', '=', 'Auditors')])
        return group.id

    def test_xml_load_refuses_public_admin(self):
        "Module data (context module) is checked like a save"
        with Transaction().start(DB_NAME, 0,
                context={'module': 'endpoint'}):
            Endpoint = Pool().get('endpoint.endpoint')
            with self.assertRaises(ValidationError):
                Endpoint.create([{'name': 'x', 'route': '/xml-admin',
                            'auth': 'public', 'exec_user': self.admin,
                            'code': "result['payload'] = 1"}])

    # What must keep working

    def test_legitimate_data_access(self):
        "Reads, searches, relations and writes within the rights work"
        payload = self.ok(
            "P = pool.get('party.party')\n"
            f"p, = P.browse([{self.party}])\n"
            "result['payload'] = [p.name, p.create_uid, "
            "P.search_count([('create_uid', '=', p.create_uid)]), "
            "P.search_count([('addresses', 'where', "
            "[('city', '=', 'Ghent')])]), "
            "[a.city for a in p.addresses]]")
        self.assertEqual(payload, ['Clerk Seed', self.admin, 1, 1, ['Ghent']])
        self.ok("pool.get('party.party').create([{'name': 'Clerk New'}])\n"
            "result['payload'] = 1", method='POST')
        self.assertEqual(self.parties('Clerk New'), 1)


del EndpointRouteTestCase
