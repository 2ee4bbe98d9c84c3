"""Sample endpoints, parties, a demo user and its application key."""
import json
import sys
from pathlib import Path

from trytond import config
from trytond.pool import Pool
from trytond.transaction import Transaction

ORDER_SCHEMA = {
    'type': 'object',
    'required': ['customer', 'lines'],
    'properties': {
        'customer': {'type': 'string', 'minLength': 1},
        'date': {'type': 'string', 'format': 'date'},
        'lines': {
            'type': 'array', 'minItems': 1,
            'items': {
                'type': 'object',
                'required': ['product', 'qty'],
                'properties': {
                    'product': {'type': 'string'},
                    'qty': {'type': 'integer', 'minimum': 1},
                    'note': {'type': 'string', 'default': ''},
                    },
                },
            },
        },
    }
PARTIES_QUERY = """\
type: object
properties:
  limit: {type: integer, minimum: 1, maximum: 100, default: 10}
  name: {type: string}
additionalProperties: false
"""

ENDPOINTS = [
    dict(name="Hello", route='/hello/<name>', method='GET', auth='public',
        group='demo', description="Greets by name, publicly.",
        response_schema=json.dumps({
                'type': 'object', 'required': ['hello', 'today'],
                'properties': {
                    'hello': {'type': 'string'},
                    'today': {'type': 'string', 'format': 'date'}}}),
        code="result['payload'] = {\n"
        "    'hello': request.path_params['name'],\n"
        "    'today': datetime.date.today(),\n"
        "}\n"),
    dict(name="Echo order", route='/orders', method='POST', auth='public',
        group='demo', content_type='application/json',
        request_schema=json.dumps(ORDER_SCHEMA, indent=2),
        description="Validates an order and echoes it with a total.",
        response_schema=json.dumps(dict(ORDER_SCHEMA,
                required=['customer', 'lines', 'total_qty'],
                properties=dict(ORDER_SCHEMA['properties'],
                    total_qty={'type': 'integer', 'minimum': 1}))),
        code="order = request.json\n"
        "total = sum(line['qty'] for line in order['lines'])\n"
        "log('order from %s' % order['customer'])\n"
        "result['payload'] = dict(order, total_qty=total)\n"
        "result['status_code'] = 201\n"),
    dict(name="Who am I", route='/me', method='GET', auth='application',
        group='demo', description="The key's user.",
        response_schema=json.dumps({
                'type': 'object', 'required': ['login', 'name'],
                'properties': {
                    'login': {'type': 'string'},
                    'name': {'type': 'string'}}}),
        code="result['payload'] = {'login': user['login'], "
        "'name': user['name']}\n"),
    dict(name="Parties", route='/parties', method='GET',
        auth='application', group='demo', query_schema=PARTIES_QUERY,
        description="Party names and codes, narrowed by a query schema.",
        response_schema=json.dumps({
                'type': 'array', 'items': {
                    'type': 'object', 'required': ['id', 'name'],
                    'properties': {
                        'id': {'type': 'integer'},
                        'name': {'type': 'string'},
                        'code': {'type': ['string', 'null']}}}}),
        code="domain = []\n"
        "if 'name' in request.args:\n"
        "    domain.append(('name', 'ilike', '%' + request.args['name'] "
        "+ '%'))\n"
        "result['payload'] = pool.get('party.party').search_read(\n"
        "    domain, limit=request.args['limit'],\n"
        "    fields_names=['name', 'code'])\n"),
    ]


def main(conf, database):
    config.update_etc(conf)
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        Group = pool.get('res.group')
        UserApplication = pool.get('res.user.application')
        Endpoint = pool.get('endpoint.endpoint')
        Party = pool.get('party.party')
        party_groups = Group.search([('name', 'in', [
                        'Party Administration'])])
        shop, = User.create([{
                    'login': 'shop', 'name': 'Web Shop',
                    'groups': [('add', [g.id for g in party_groups])],
                    }])
        web, = User.create([{'login': 'web', 'name': 'Public Web'}])
        key, = UserApplication.create([{
                    'user': shop.id, 'application': 'endpoint',
                    'state': 'validated'}])
        Party.create([{'name': n} for n in [
                    'ACME', 'Globex', 'Initech', 'Umbrella', 'Stark',
                    'Wayne', 'Wonka', 'Tyrell']])
        endpoints = []
        for values in ENDPOINTS:
            values = dict(values)
            if values['auth'] == 'public':
                values['exec_user'] = web.id
            endpoints.append(values)
        Endpoint.sync(Endpoint.create(endpoints))
        # The client would open the module configuration wizard at every
        # login until its items are done; the demo is configured already.
        ConfigItem = pool.get('ir.module.config_wizard.item')
        ConfigItem.write(ConfigItem.search([]), {'state': 'done'})
        transaction.commit()
        (Path(conf).parent / 'key').write_text(key.key)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
