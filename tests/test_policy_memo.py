# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The data policy's kept answers follow changes of access rights and
groups from one request to the next.

Each case asks once (the answer is then kept), changes the rights in a
committed transaction of its own, as an administrator would in the
client, and asks again. The field watched is party's ``rec_name``: a
Function field without dependencies, which the policy hides as soon as
any field of the model is hidden, where Tryton's own ``read`` would still
give it; only a kept answer that is not dropped would show it.
"""
import json

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .tools import EndpointRouteTestCase, bearer, define

CODE = """\
party, = pool.get('party.party').read(
    [request.path_params['id']], ['rec_name'])
result['payload'] = party
"""


def _committed(function):
    with Transaction().start(DB_NAME, 0) as transaction:
        result = function(Pool())
        transaction.commit()
    return result


class PolicyMemoTestCase(EndpointRouteTestCase):
    "Kept policy answers are dropped when rights or groups change"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        pool = Pool()
        party, = pool.get('party.party').create([{'name': 'Kept'}])
        cls.party = party.id
        group, = pool.get('res.group').create([{'name': 'Code readers'}])
        cls.group = group.id

    def tearDown(self):
        # Each case leaves the rights as it found them.
        def restore(pool):
            FieldAccess = pool.get('ir.model.field.access')
            FieldAccess.delete(FieldAccess.search([
                        ('model', '=', 'party.party')]))
            User = pool.get('res.user')
            User.write([User(self.alice)], {'groups': [('remove',
                            [self.group])]})
        _committed(restore)
        super().tearDown()

    def snippet(self):
        route = f'/memo/{self._testMethodName}/<int:id>'
        if not hasattr(self, '_route'):
            define(route=route, code=CODE, auth='public',
                exec_user=self.alice)
            self._route = route
        return self.client().get(
            self.url(route.replace('<int:id>', str(self.party))))

    def seed(self):
        response = self.client().get(
            self.url(f'/rest/model/party.party/{self.party}'),
            headers=bearer(self.alice_key))
        self.assertEqual(response.status_code, 200, response.data)
        return json.loads(response.data)

    def hide_code(self, group=None):
        def hide(pool):
            pool.get('ir.model.field.access').create([{
                        'model': 'party.party', 'field': 'code',
                        'group': group, 'perm_read': group is not None}])
        _committed(hide)

    def test_snippet_field_hidden_after_first_read(self):
        "A snippet's read is refused once a field it shows is hidden"
        self.assertEqual(self.snippet().status_code, 200)
        self.hide_code()
        response = self.snippet()
        self.assertEqual(response.status_code, 403, response.data)
        self.assertIn('rec_name', json.loads(response.data)['detail'])

    def test_seed_field_hidden_after_first_read(self):
        "The seed REST leaves a field out once it is hidden"
        self.assertIn('rec_name', self.seed())
        self.hide_code()
        self.assertNotIn('rec_name', self.seed())

    def test_hidden_field_shown_again(self):
        "Removing the rule shows the field again"
        self.hide_code()
        self.assertNotIn('rec_name', self.seed())

        def show(pool):
            FieldAccess = pool.get('ir.model.field.access')
            FieldAccess.delete(FieldAccess.search([
                        ('model', '=', 'party.party')]))
        _committed(show)
        self.assertIn('rec_name', self.seed())
        self.assertEqual(self.snippet().status_code, 200)

    def test_group_joined(self):
        "A user who joins the group that may read the field sees it"
        self.hide_code()
        self.hide_code(group=self.group)
        self.assertNotIn('rec_name', self.seed())
        self.assertEqual(self.snippet().status_code, 403)

        def join(pool):
            User = pool.get('res.user')
            User.write([User(self.alice)], {'groups': [('add',
                            [self.group])]})
        _committed(join)
        self.assertIn('rec_name', self.seed())
        self.assertEqual(self.snippet().status_code, 200)
