# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Published versions: one per sync, their diff, and restore."""
import json

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.endpoint.registry import loads
from trytond.pool import Pool
from trytond.tests.test_tryton import DBTestCase, with_transaction
from trytond.transaction import Transaction

from .tools import make_user


class VersionsTestCase(DBTestCase):
    "Published versions"
    module = 'endpoint'
    extras = ['party']

    def _endpoint(self, **values):
        Endpoint = Pool().get('endpoint.endpoint')
        values.setdefault('name', values['route'])
        values.setdefault('auth', 'application')
        return Endpoint.create([values])[0]

    def _versions(self):
        Version = Pool().get('endpoint.registry.version')
        return Version.search([], order=[('number', 'ASC')])

    def _latest(self):
        Version = Pool().get('endpoint.registry.version')
        version, = Version.search([], order=[('number', 'DESC')], limit=1)
        return version

    def _served(self):
        "{id: (route, code)} of what is served"
        Endpoint = Pool().get('endpoint.endpoint')
        return {d.id: (d.route, d.code)
            for d in Endpoint.published_definitions() if d.active}

    def _sync_registry(self, note=None):
        Wizard = Pool().get('endpoint.sync_registry', type='wizard')
        session_id, _, _ = Wizard.create()
        Wizard.execute(session_id, {'start': {'note': note}}, 'sync')

    @with_transaction()
    def test_module_activation_is_one_version(self):
        "Activating the module published its endpoints as one version"
        versions = self._versions()
        self.assertEqual(len(versions), 1)
        version, = versions
        self.assertEqual(version.number, 1)
        self.assertIn('Module "endpoint"', version.note)
        snapshot = loads(version.snapshot)
        Endpoint = Pool().get('endpoint.endpoint')
        self.assertEqual(set(snapshot), {e.id for e in Endpoint.search([])})
        self.assertEqual(version.summary,
            f'{len(snapshot)} added, 0 changed, 0 removed')
        self.assertIn('Added: GET /rest/model/<model> "REST: Search',
            version.diff)

    @with_transaction()
    def test_versions_after_create_edit_archive_delete(self):
        "Each sync is a version with who, note and a readable diff"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        start = self._latest().number

        endpoint = self._endpoint(route='/v/item', name="Item",
            code="result['payload'] = {'v': 1}\n")
        # Saving is not publishing.
        self.assertEqual(self._latest().number, start)
        Endpoint.sync([endpoint])
        created = self._latest()
        self.assertEqual(created.number, start + 1)
        self.assertEqual(created.diff, 'Added: GET /v/item "Item"')
        self.assertEqual(created.summary, '1 added, 0 changed, 0 removed')
        self.assertEqual(created.create_uid.id, Transaction().user)
        self.assertTrue(created.create_date)

        endpoint.code = "x = 2\nresult['payload'] = {'v': x}\n"
        endpoint.route = '/v/thing'
        endpoint.save()
        self._sync_registry(note="Second cut")
        edited = self._latest()
        self.assertEqual(edited.number, start + 2)
        self.assertEqual(edited.note, "Second cut")
        self.assertEqual(edited.diff.splitlines(), [
                'Changed: GET /v/thing "Item"',
                '  --- Code (before)',
                '  +++ Code (after)',
                '  @@ -1 +1,2 @@',
                "  -result['payload'] = {'v': 1}",
                '  +x = 2',
                "  +result['payload'] = {'v': x}",
                "  Route: '/v/item' -> '/v/thing'",
                ])

        # Sync on a record already live: no version.
        Endpoint.sync([endpoint])
        self.assertEqual(self._latest().number, start + 2)

        endpoint.active = False
        endpoint.save()
        Endpoint.sync([endpoint])
        archived = self._latest()
        self.assertEqual(archived.diff.splitlines(), [
                'Changed: GET /v/thing "Item"',
                '  Active: True -> False'])

        Endpoint.delete([endpoint])
        deleted = self._latest()
        self.assertEqual(deleted.number, start + 4)
        self.assertEqual(deleted.diff, 'Removed: GET /v/thing "Item"')
        self.assertNotIn(endpoint.id, loads(deleted.snapshot))

        # An unpublished record deleted changes nothing served.
        draft = self._endpoint(route='/v/draft')
        Endpoint.delete([draft])
        self.assertEqual(self._latest().number, start + 4)

    @with_transaction()
    def test_snapshot_keeps_published_values_of_unsynced_records(self):
        "A record edited but not synced stays in the snapshot as served"
        Endpoint = Pool().get('endpoint.endpoint')
        first = self._endpoint(route='/v/first', code="a = 1\n")
        second = self._endpoint(route='/v/second')
        Endpoint.sync([first, second])
        first.code = "a = 2\n"
        first.save()
        second.code = "b = 1\n"
        second.save()
        Endpoint.sync([second])
        snapshot = loads(self._latest().snapshot)
        self.assertEqual(snapshot[first.id]['code'], "a = 1\n")
        self.assertEqual(snapshot[second.id]['code'], "b = 1\n")
        self.assertNotIn('/v/first', self._latest().diff)

    @with_transaction()
    def test_restore(self):
        "Restore publishes the snapshot and sets the records back"
        pool = Pool()
        Endpoint = pool.get('endpoint.endpoint')
        Version = pool.get('endpoint.registry.version')
        Registry = pool.get('endpoint.registry')
        kept = self._endpoint(route='/r/kept', name="Kept", code="k = 1\n")
        gone = self._endpoint(route='/r/gone', name="Gone",
            description="Deleted later")
        Endpoint.sync([kept, gone])
        target = self._latest()
        served = self._served()

        kept.code = "k = 2\n"
        kept.route = '/r/kept2'
        kept.save()
        Endpoint.delete([gone])
        new = self._endpoint(route='/r/new', name="New")
        Endpoint.sync([kept, new])
        self.assertNotEqual(self._served(), served)
        registry = Registry.current()

        Version.restore([target])
        restored = self._latest()
        self.assertEqual(restored.number, target.number + 3)
        self.assertEqual(restored.note,
            f'Restore of version {target.number}')
        self.assertGreater(Registry.current(), registry)

        kept = Endpoint(kept.id)
        self.assertEqual((kept.route, kept.code), ('/r/kept', "k = 1\n"))
        recreated, = Endpoint.search([('route', '=', '/r/gone')])
        self.assertNotEqual(recreated.id, gone.id)
        self.assertEqual(recreated.description, "Deleted later")
        new = Endpoint(new.id)
        self.assertFalse(new.active)
        # Each record is live, and what is served is the snapshot.
        with Transaction().set_context(active_test=False):
            self.assertEqual({e.state for e in Endpoint.search([])},
                {'live'})
        served_now = self._served()
        self.assertEqual(sorted(served_now.values()),
            sorted(served.values()))
        self.assertIn('Added: GET /r/gone "Gone"', restored.diff)
        self.assertIn('Changed: GET /r/new "New"', restored.diff)
        self.assertIn("Route: '/r/kept2' -> '/r/kept'", restored.diff)

        # The records' history has every edit, restore included.
        history = Endpoint.__table_history__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*history.select(history.route,
                where=history.id == kept.id))
        self.assertEqual([r for r, in cursor],
            ['/r/kept', '/r/kept2', '/r/kept'])

    @with_transaction()
    def test_restore_of_the_current_version_is_a_version(self):
        "Nothing to set back: still a new version, nothing changed"
        Version = Pool().get('endpoint.registry.version')
        latest = self._latest()
        served = self._served()
        Version.restore([latest])
        self.assertEqual(self._latest().number, latest.number + 1)
        self.assertEqual(self._latest().diff, '')
        self.assertEqual(self._served(), served)

    @with_transaction()
    def test_restore_keeps_fields_of_every_kind(self):
        "Dates, booleans, integers and aliases of a snapshot come back"
        import datetime as dt
        Endpoint = Pool().get('endpoint.endpoint')
        Version = Pool().get('endpoint.registry.version')
        clerk = make_user('kinds')
        endpoint = self._endpoint(route='/kinds', auth='public',
            exec_user=clerk.id, aliases='/kinds-too',
            deprecation=dt.date(2026, 1, 2), sunset=dt.date(2027, 3, 4),
            rate_limit=5, rate_period=60, allow_null_origin=True,
            cache_max_age=30)
        Endpoint.publish([endpoint])
        kept = self._latest()
        Endpoint.write([endpoint], {'deprecation': None, 'sunset': None,
                'aliases': None, 'rate_limit': None, 'rate_period': None,
                'allow_null_origin': False, 'cache_max_age': None})
        Endpoint.publish([endpoint])
        Version.restore([kept])
        endpoint = Endpoint(endpoint.id)
        self.assertEqual((endpoint.deprecation, endpoint.sunset),
            (dt.date(2026, 1, 2), dt.date(2027, 3, 4)))
        self.assertEqual((endpoint.aliases, endpoint.rate_limit,
                endpoint.rate_period, endpoint.allow_null_origin,
                endpoint.cache_max_age), ('/kinds-too', 5, 60, True, 30))
        self.assertEqual(endpoint.state, 'live')

    def _refused(self, version):
        Version = Pool().get('endpoint.registry.version')
        before = (self._served(), self._latest().number)
        with self.assertRaises(UserError) as cm:
            Version.restore([version])
        self.assertEqual((self._served(), self._latest().number), before)
        self.assertIn(f'Version {version.number} was not restored',
            cm.exception.message)
        return cm.exception.message

    def _tamper(self, version, change):
        "A snapshot as an older module version would have written it"
        Version = Pool().get('endpoint.registry.version')
        snapshot = loads(version.snapshot)
        change(snapshot)
        table = Version.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.snapshot],
                [json.dumps({str(k): v for k, v in snapshot.items()})],
                where=table.id == version.id))
        return Version(version.id)

    @with_transaction()
    def test_restore_refused_model_removed(self):
        "A snippet naming a model that is gone is refused, nothing changes"
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint = self._endpoint(route='/x/model',
            code="Sale = pool.get('sale.sale')\n")
        Endpoint.sync([endpoint])
        target = self._latest()
        endpoint.code = "pass\n"
        endpoint.save()
        Endpoint.sync([endpoint])
        message = self._refused(target)
        self.assertIn('the model "sale.sale" no longer exists', message)
        self.assertEqual(Endpoint(endpoint.id).code, "pass\n")

    @with_transaction()
    def test_restore_refused_route_clash_and_field(self):
        "Every reason is listed: clashing routes, unknown values"
        Endpoint = Pool().get('endpoint.endpoint')
        one = self._endpoint(route='/x/one', name="One")
        two = self._endpoint(route='/x/two', name="Two")
        Endpoint.sync([one, two])

        def change(snapshot):
            snapshot[two.id]['route'] = '/x/one'
            snapshot[two.id]['auth'] = 'gone-mode'
            snapshot[one.id]['dropped_field'] = 'value'
            snapshot[one.id]['exec_user'] = 10 ** 6
        target = self._tamper(self._latest(), change)
        message = self._refused(target)
        self.assertIn('uses the route "/x/one" with method GET', message)
        self.assertIn('"gone-mode" is no longer a value', message)
        self.assertIn('the field "dropped_field" no longer exists',
            message)
        self.assertIn(f'the record {10 ** 6} of "Run As" no longer exists',
            message)

    @with_transaction()
    def test_restore_refused_alias_clash(self):
        "An alias of the snapshot on another endpoint's route is refused"
        Endpoint = Pool().get('endpoint.endpoint')
        one = self._endpoint(route='/x/first', name="First")
        two = self._endpoint(route='/x/second', name="Second")
        Endpoint.sync([one, two])

        def change(snapshot):
            snapshot[two.id]['aliases'] = '/x/first'
        target = self._tamper(self._latest(), change)
        message = self._refused(target)
        self.assertIn('uses the route "/x/first" with method GET', message)

    @with_transaction()
    def test_note_over_size_refused(self):
        "A note over the field's size publishes nothing"
        Endpoint = Pool().get('endpoint.endpoint')
        endpoint = self._endpoint(route='/x/note')
        number = self._latest().number
        with self.assertRaises(UserError) as cm:
            self._sync_registry(note='n' * 201)
        self.assertIn('at most 200', cm.exception.message)
        self.assertEqual(self._latest().number, number)
        self.assertEqual(endpoint.state, 'out_of_sync')
        self._sync_registry(note='n' * 200)
        self.assertEqual(self._latest().note, 'n' * 200)
        self.assertEqual(Endpoint(endpoint.id).state, 'live')

    @with_transaction()
    def test_secret_masked_in_diff(self):
        "A field ending in _secret is hidden in the diff, kept for restore"
        from trytond.modules.endpoint.trytond_endpoint import snapshot_diff
        old = {1: {'route': '/a', 'method': 'GET', 'name': 'A',
                'signature_secret': 'old-secret-value'}}
        new = {1: {**old[1], 'signature_secret': 'new-secret-value'}}
        text = snapshot_diff.render(old, new, {'signature_secret': 'Secret'})
        self.assertEqual(text.splitlines(), ['Changed: GET /a "A"',
                '  Secret: (hidden) changed'])
        self.assertNotIn('secret-value', text)

    @with_transaction()
    def test_versions_only_for_endpoint_administration(self):
        "Other users can not read versions, nor restore them"
        pool = Pool()
        Version = pool.get('endpoint.registry.version')
        ModelData = pool.get('ir.model.data')
        version = self._latest()
        reader = make_user('reader')
        with Transaction().set_user(reader.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Version.read([version.id], ['snapshot'])
            with self.assertRaises(AccessError):
                Version.restore([Version(version.id)])
        admin = make_user('versions-admin')
        admin.groups = [ModelData.get_id('endpoint', 'group_endpoint_admin')]
        admin.save()
        with Transaction().set_user(admin.id), \
                Transaction().set_context(_check_access=True):
            self.assertTrue(Version.read([version.id], ['diff']))
            Version.restore([Version(version.id)])
        self.assertEqual(self._latest().create_uid.id, admin.id)
