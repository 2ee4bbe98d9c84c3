"""Shared set-up for the module's database tests."""
import base64
import json

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'Secret-pass-42'


def make_user(login, groups=()):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    group_ids = [ModelData.get_id(*g.split('.')) for g in groups]
    user, = User.create([{
                'login': login, 'name': login.title(), 'password': PASSWORD,
                'groups': [('add', group_ids)] if group_ids else [],
                }])
    del Group
    return user


def make_key(user, application='endpoint'):
    UserApplication = Pool().get('res.user.application')
    app_, = UserApplication.create([{
                'user': user.id, 'application': application,
                'state': 'validated'}])
    return app_.key


def define(sync=True, **values):
    "Create an endpoint in its own committed transaction"
    with Transaction().start(DB_NAME, 0) as transaction:
        Endpoint = Pool().get('endpoint.endpoint')
        values.setdefault('name', values['route'])
        endpoint, = Endpoint.create([values])
        if sync:
            Endpoint.sync([endpoint])
        transaction.commit()
        return endpoint.id


def change(endpoint_id, sync=False, **values):
    with Transaction().start(DB_NAME, 0) as transaction:
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint = Endpoint(endpoint_id)
        Endpoint.write([endpoint], values)
        if sync:
            Endpoint.sync([endpoint])
        transaction.commit()


def sync(*endpoint_ids):
    with Transaction().start(DB_NAME, 0, context={'active_test': False}) \
            as transaction:
        Endpoint = Pool().get('endpoint.endpoint')
        Endpoint.sync(Endpoint.browse(endpoint_ids))
        transaction.commit()


def state(endpoint_id):
    with Transaction().start(DB_NAME, 0, context={'active_test': False}):
        Endpoint = Pool().get('endpoint.endpoint')
        return Endpoint(endpoint_id).state


def basic(login, password=PASSWORD):
    token = base64.b64encode(f'{login}:{password}'.encode()).decode()
    return {'Authorization': f'Basic {token}'}


def bearer(key):
    return {'Authorization': f'Bearer {key}'}


def tryton_context(context):
    return base64.urlsafe_b64encode(json.dumps(context).encode()).decode()


class EndpointRouteTestCase(RouteTestCase):
    module = 'endpoint'
    extras = ['party']

    @classmethod
    def setUpDatabase(cls):
        cls.web_user = make_user('web').id
        alice = make_user('alice')
        cls.alice = alice.id
        cls.alice_key = make_key(alice)
        cls.rest_key = make_key(alice, 'rest')

    def url(self, path):
        return f'/{self.db_name}/api{path}'
