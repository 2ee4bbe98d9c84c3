"""The module's views and actions in the real Tryton desktop client.

The client (``tryton`` from PyPI, GTK from Debian, see ``./dev``) runs
under Xvfb against a live server (tests/livesite.py) and walks what an
administrator opens (tests/desktop_client.py). Any error dialog or
exception in the client fails the test. Screenshots of the walk are kept
in ``.test-artifacts/desktop-client/`` (ignored by git).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import unittest

from .livesite import ADMIN_PASSWORD, ROOT, Site
from .pgcluster import clean_env

ARTIFACTS = ROOT / '.test-artifacts' / 'desktop-client'


def _missing():
    "Why the client can not run here, or None"
    if importlib.util.find_spec('tryton') is None:
        return "the tryton client is not installed (./dev setup)"
    try:
        import gi
        gi.require_version('Gtk', '3.0')
        from gi.repository import Gtk  # noqa: F401
    except (ImportError, ValueError) as exception:
        return f"GTK 3 for Python is not available: {exception}"
    if shutil.which('xvfb-run') is None:
        return "xvfb-run is not installed (Debian package xvfb)"
    if os.environ.get('ENDPOINT_TEST_BACKEND') == 'postgresql':
        # The live site is SQLite: a second pass would test the same.
        return "run once, in the SQLite pass of tests/run.py"
    return None


@unittest.skipIf(_missing(), _missing())
class DesktopClientTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.site = Site().start()
        cls.addClassCleanup(cls.site.stop)
        # Log lines for the form's Logs page and the Logs list
        for customer in ['ACME', 'Globex']:
            status, _, _ = cls.site.fetch('/orders', 'POST',
                json.dumps({'customer': customer,
                        'lines': [{'product': 'P1', 'qty': 2}]}),
                {'Content-Type': 'application/json'})
            assert status == 201, status
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        ARTIFACTS.mkdir(parents=True)
        try:
            result = subprocess.run(['xvfb-run', '-a', '-s',
                    '-screen 0 1400x1000x24', sys.executable, '-m',
                    'tests.desktop_client', f'127.0.0.1:{cls.site.port}',
                    cls.site.database, ADMIN_PASSWORD, str(ARTIFACTS)],
                cwd=ROOT, capture_output=True, text=True, timeout=600,
                env=clean_env(HOME=str(cls.site.folder / 'home'),
                    NO_AT_BRIDGE='1', GDK_BACKEND='x11'))
        except subprocess.TimeoutExpired as exception:
            raise AssertionError(
                f"the client did not finish: {exception.stderr}")
        cls.output = result.stdout + result.stderr
        report = ARTIFACTS / 'report.json'
        if not report.exists():
            raise AssertionError(
                f"the client wrote no report:\n{cls.output[-5000:]}")
        cls.report = json.loads(report.read_text())
        cls.facts = cls.report['facts']

    def test_no_error(self):
        "No error dialog, no exception, every step reached its goal"
        errors = [d for d in self.report['dialogs']
            if d['level'] != 'info']
        self.assertEqual(errors, [], self.output[-5000:])
        self.assertEqual(self.report['exceptions'], [])
        failed = [s for s in self.report['steps'] if not s['ok']]
        self.assertEqual(failed, [])
        self.assertEqual([s['name'] for s in self.report['steps']], [
                'login', 'new record', 'test wizard', 'sync record',
                'view revisions', 'sync registry', 'log list', 'statistics',
                'versions', 'signed endpoint',
                'endpoints'])

    def test_no_wizard_at_login(self):
        "The demo's data leave no configuration wizard to show at login"
        self.assertEqual(self.facts['login_wizards'], [])

    def test_tabs_and_logs(self):
        "Every tab lists rows; the form's Logs page shows the log lines"
        tabs = {t['tab']: t['names'] for t in self.facts['tabs']}
        self.assertEqual(set(tabs), {'Out of Sync', 'All'})
        # Archived by the walk, still served until synced
        self.assertEqual(tabs['Out of Sync'], ['Sample hidden'])
        self.assertIn('Sample hidden', tabs['All'])
        self.assertGreater(len(tabs['All']), 20)
        self.assertEqual(self.facts['form_pages'], ['Code', 'Contract',
                'Caller', 'Documentation', 'Aliases', 'HTTP', 'Logs',
                'Code Help'])
        self.assertIn('endpoint-form-http.png', self.report['screenshots'])
        self.assertGreaterEqual(self.facts['form_log_lines'], 2)
        self.assertIn('endpoint-form-logs.png', self.report['screenshots'])
        self.assertIn('endpoint-form-code.png', self.report['screenshots'])

    def test_new_record_test_and_sync(self):
        "A new record is saved, tested on a sample path, synced, live"
        self.assertEqual(self.facts['new_state'], 'out_of_sync')
        self.assertEqual(self.facts['test_path'], '/client/1')
        # No Run As on an application endpoint: the admin picks whom
        self.assertTrue(self.facts['test_as'])
        self.assertEqual(self.facts['test_status'], 200)
        self.assertIn('Made in the client', self.facts['sync_added'])
        self.assertEqual(self.facts['synced_state'], 'live')
        self.assertIn('already live', self.facts['sync_again'])

    def test_http_fields_served(self):
        "The HTTP page's values, saved in the client, are served once synced"
        self.assertEqual(self.facts['new_http'], ['5', '60',
                'https://shop.example', '30', '2026-01-01', '2027-01-01'])
        status, headers, _ = self.site.fetch('/client/1', headers={
                'Authorization': f'Bearer {self.site.key}',
                'Origin': 'https://shop.example'})
        self.assertEqual(status, 200)
        self.assertEqual(headers['RateLimit-Policy'], '"endpoint";q=5;w=60')
        self.assertEqual(headers['Access-Control-Allow-Origin'],
            'https://shop.example')
        self.assertEqual(headers['Cache-Control'], 'private, max-age=30')
        self.assertEqual(headers['Deprecation'], '@1767225600')
        self.assertEqual(headers['Sunset'], 'Fri, 01 Jan 2027 00:00:00 GMT')

    def test_sync_registry(self):
        "Sync Registry shows the archived record removed, then nothing"
        # Changed: the new record's group, set before View Revisions
        self.assertEqual(self.facts['registry_summary'],
            'Publishing will add 0, change 1 and remove 1 endpoints.')
        self.assertIn('"Sample hidden"', self.facts['registry_removed'])
        self.assertEqual(self.facts['registry_after'],
            'Nothing to publish: every endpoint is already live.')

    def test_log_list(self):
        "The Logs list shows the lines and finds one by request id"
        self.assertGreaterEqual(self.facts['log_rows'], 2)
        self.assertTrue(self.facts['request_id'])
        self.assertEqual(self.facts['log_found'], 1)

    def test_signed_endpoint(self):
        "A signed endpoint shows its Caller page; Test signs its sample"
        self.assertIn('Caller', self.facts['signed_pages'])
        self.assertTrue(self.facts['signed_sign'])
        self.assertEqual(self.facts['signed_status'], 200)
        self.assertNotIn('client-secret', self.facts['signed_output'])
        self.assertIn('endpoint-form-caller.png', self.report['screenshots'])

    def test_view_revisions(self):
        "View Revisions shows the record as it was first saved"
        self.assertEqual(self.facts['revision_rows'][0], 2)
        self.assertFalse(self.facts['revision_group'])
        self.assertEqual(self.facts['current_group'], "renamed")
        self.assertIn('endpoint-revision.png', self.report['screenshots'])

    def test_versions_and_restore(self):
        "The versions list and form open; Restore publishes a new version"
        facts = self.facts
        self.assertGreaterEqual(facts['version_rows'], 3)
        self.assertIn('Sync of the client', facts['version_notes'])
        self.assertIn('Added: GET /client/<int:id> "Made in the client"',
            facts['version_diff'])
        self.assertEqual(facts['restore_note'],
            f"Restore of version {facts['restored_number']}")
        # The record archived by the Sync Registry is served again.
        self.assertIn('Changed: GET /samples/hidden', facts['restore_diff'])
        self.assertIn('Active: False -> True', facts['restore_diff'])
        self.assertIn('version-form.png', self.report['screenshots'])

    def test_statistics(self):
        "Statistics open as a graph of the requests, then a list"
        self.assertEqual(self.facts['statistic_view'], 'graph')
        # The two orders of the set-up at least, counted by the server
        self.assertGreaterEqual(self.facts['statistic_requests'], 2)
        self.assertGreaterEqual(self.facts['statistic_rows'], 1)
        self.assertIn('statistic-graph.png', self.report['screenshots'])
        # From an endpoint: its own minutes only
        self.assertEqual(self.facts['statistic_related'], ['graph', True])
