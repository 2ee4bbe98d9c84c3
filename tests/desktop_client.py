"""Drive the Tryton desktop client through the module's views.

``python -m tests.desktop_client HOST:PORT DATABASE PASSWORD OUTDIR`` runs
the real client (GTK, so under a display: ``xvfb-run``) as ``admin``
against a live server and walks what an administrator would open: the
Endpoints list and every tab, an endpoint's form and every page (its Logs
included), a new record saved, the Test wizard, the record's Sync, the
Sync Registry wizard, the Logs list with a search, the Statistics graph,
list and form, View Revisions on a record and the published Versions with
a Restore.

Every dialog the client would show and every exception that reaches the
GTK main loop is recorded instead of shown; what was seen is written to
``OUTDIR/report.json`` with screenshots beside it, for
``tests/test_desktop_client.py`` to judge.
"""
import datetime as dt
import json
import sys
import time
import traceback
from pathlib import Path


class Step(Exception):
    "A step of the walk that did not reach its goal"


class Driver:

    def __init__(self, host, database, password, outdir):
        self.host = host
        self.database = database
        self.password = password
        self.outdir = Path(outdir)
        self.report = {'dialogs': [], 'exceptions': [], 'steps': [],
            'facts': {}, 'screenshots': []}
        self.wizards = []
        self.revisions = []

    # -- set-up -----------------------------------------------------------

    def patch(self):
        from gi.repository import Gtk
        from tryton import common, rpc
        from tryton.common import common as common_module
        from tryton.config import CONFIG
        from tryton.gui.window import wizard

        sys.argv[1:] = []
        CONFIG.parse()
        CONFIG['login.host'] = self.host
        CONFIG['login.db'] = self.database
        CONFIG['login.login'] = 'admin'
        CONFIG['client.check_version'] = False
        CONFIG['client.lang'] = 'en'

        report = self.report

        def dialog(self_, *args, **kwargs):
            # Shown modally by the client: recorded and answered instead.
            kind = type(self_).__name__
            texts = [str(a) for a in args
                if isinstance(a, (str, Exception))]
            level = 'error' if kind == 'ErrorDialog' else 'info'
            if Gtk.MessageType.ERROR in [*args, *kwargs.values()]:
                level = 'error'
            elif kind in {'WarningDialog', 'UserWarningDialog',
                    'ConcurrencyDialog'}:
                level = 'warning'
            report['dialogs'].append(
                {'kind': kind, 'level': level, 'texts': texts})
            if kind == 'SurDialog':
                # Compared by SurDialog with YES.
                return Gtk.ResponseType.YES
            if kind == 'ConfirmationDialog':
                return True
            if kind == 'UserWarningDialog':
                return 'ok'
            return None
        common_module.UniqueDialog.__call__ = dialog

        def excepthook(type_, value, tb):
            report['exceptions'].append(''.join(
                    traceback.format_exception(type_, value, tb)))
        sys.excepthook = excepthook

        def credentials(user_id=None):
            rpc.login({'password': self.password})
        common.get_credentials = credentials
        common_module.get_credentials = credentials

        from tryton.gui.window import revision
        revisions = self.revisions
        original = revision.Revision.__init__

        def revision_init(self_, revisions_, *args, **kwargs):
            original(self_, revisions_, *args, **kwargs)
            from gi.repository import Gtk
            self_.combobox = self_.entry
            while not isinstance(self_.combobox, Gtk.ComboBox):
                self_.combobox = self_.combobox.get_parent()
            revisions.append(self_)
        revision.Revision.__init__ = revision_init

        wizards = self.wizards
        for cls in [wizard.WizardDialog, wizard.WizardForm]:
            def init(self_, *args, __init=cls.__init__, **kwargs):
                __init(self_, *args, **kwargs)
                wizards.append(self_)
            cls.__init__ = init

    def start(self):
        from gi.repository import Gio
        from tryton import gui
        self.app = gui.Main(application_id='org.tryton.EndpointTest',
            flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.app.register(None)
        self.app.activate()
        self.wait(lambda: self.app.menu_screen is not None, "menu shown")
        # What the client opens by itself at login (the module
        # configuration wizard while its items are open)
        self.pump(2)
        self.report['facts']['login_wizards'] = [
            w.name for w in self.wizards]

    # -- helpers ----------------------------------------------------------

    def pump(self, seconds=0.3):
        from gi.repository import Gtk
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            while Gtk.events_pending():
                Gtk.main_iteration_do(False)
            time.sleep(0.01)

    def wait(self, condition, what, timeout=30):
        from gi.repository import Gtk
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while Gtk.events_pending():
                Gtk.main_iteration_do(False)
            try:
                if condition():
                    self.pump(0.2)
                    return
            except Exception:
                pass
            time.sleep(0.02)
        raise Step(f"timed out waiting for: {what}")

    def rpc(self, model, method, *args):
        from tryton.common import RPCExecute
        return RPCExecute('model', model, method, *args)

    def menu_action(self, name):
        "The action of the entry name of the Endpoints menu"
        menu, = self.rpc('ir.ui.menu', 'search_read',
            [('parent.name', '=', 'Endpoints'), ('name', '=', name)],
            0, 1, None, ['action'])
        return int(menu['action'].split(',')[1])

    def open(self, name, wizard=False):
        "Open the entry of the Endpoints menu, as a click on it does"
        from tryton.action import Action
        before = len(self.app.pages)
        Action.execute(self.menu_action(name), {})
        if wizard:
            return
        self.wait(lambda: len(self.app.pages) > before, f"{name} opened")
        return self.app.pages[-1]

    def loaded(self, screen):
        # The client searches synchronously: a view shown is filled.
        return screen.current_view is not None

    def screenshot(self, name, wizard=None):
        "The main window, or the wizard's own dialog when it has one"
        from gi.repository import Gdk
        self.pump(0.5)
        window = getattr(wizard, 'dia', None) or self.app.window
        window = window.get_window()
        width, height = window.get_width(), window.get_height()
        pixbuf = Gdk.pixbuf_get_from_window(window, 0, 0, width, height)
        path = self.outdir / f'{name}.png'
        pixbuf.savev(str(path), 'png', [], [])
        self.report['screenshots'].append(path.name)

    def step(self, name, function):
        print(f"step {name}", file=sys.stderr, flush=True)
        try:
            function()
        except Exception:
            self.report['steps'].append(
                {'name': name, 'ok': False, 'error': traceback.format_exc()})
            return False
        self.report['steps'].append({'name': name, 'ok': True})
        return True

    def field(self, screen, name):
        record = screen.current_record
        return record[name].get(record)

    def set_field(self, screen, name, value):
        record = screen.current_record
        record[name].set_client(record, value)
        screen.display()

    def button(self, screen, name):
        for widget in screen.current_view.state_widgets:
            if getattr(widget, 'attrs', {}).get('name') == name:
                return widget
        raise Step(f"no button {name!r} in the view")

    def new_wizard(self, count):
        self.wait(lambda: len(self.wizards) > count and self.wizards[-1]
            .screen is not None, "wizard shown")
        return self.wizards[-1]

    def wizard_press(self, wizard, state):
        for response, button in wizard.response2button.items():
            if button.attrs.get('state') == state:
                wizard.response(None, response)
                return
        raise Step(f"no wizard button for {state!r}: "
            + repr([b.attrs.get('state')
                    for b in wizard.response2button.values()]))

    def wizard_at(self, wizard, state):
        self.wait(lambda: wizard.screen_state == state
            and not wizard._Wizard__processing, f"wizard state {state}")

    def wizard_ended(self, wizard):
        self.wait(lambda: wizard.state == wizard.end_state
            and not wizard._Wizard__processing, "wizard closed")

    def notebook_pages(self, widget):
        "Every Gtk.Notebook page under widget, walked one by one"
        from gi.repository import Gtk
        books = []

        def walk(w):
            if isinstance(w, Gtk.Notebook):
                books.append(w)
            if isinstance(w, Gtk.Container):
                for child in w.get_children():
                    walk(child)
        walk(widget)
        return books

    # -- the walk ---------------------------------------------------------

    def walk(self):
        # Archived but still served until the next sync: the tabs must
        # show it.
        hidden, = self.rpc('endpoint.endpoint', 'search',
            [('name', '=', 'Sample hidden')], 0, None, None)
        self.rpc('endpoint.endpoint', 'write', [hidden], {'active': False})
        page = self.open('Endpoints')
        screen = page.screen
        self.wait(lambda: self.loaded(screen), "endpoint list loaded")
        container = screen.screen_container
        tabs = []
        if container.notebook is not None:
            for index in range(container.notebook.get_n_pages()):
                container.notebook.set_current_page(index)
                self.wait(lambda: self.loaded(screen), f"tab {index}")
                tabs.append({'tab': container.tab_domain[index][0],
                        'rows': len(screen.group),
                        'names': sorted(r['name'].get(r)
                            for r in screen.group)})
        self.report['facts']['tabs'] = tabs
        self.screenshot('endpoint-list')

        # The record with log lines, in its form, every page
        container.notebook.set_current_page(
            container.notebook.get_n_pages() - 1)
        self.wait(lambda: self.loaded(screen), "All tab")
        names = [r['name'].get(r) for r in screen.group]
        target = self.report['facts']['logged'] = 'Echo order'
        screen.current_record = screen.group[names.index(target)]
        screen.switch_view('form')
        self.wait(lambda: screen.current_view.view_type == 'form',
            "form view")
        self.report['facts']['form_pages'] = self.form_pages(
            screen, 'endpoint-form')
        record = screen.current_record
        self.report['facts']['form_log_lines'] = len(
            record['logs'].get_client(record))

        def new_record():
            page.sig_new()
            self.wait(lambda: screen.current_record is not None
                and screen.current_record.id < 0, "new record")
            self.form_pages(screen, None)
            self.set_field(screen, 'name', "Made in the client")
            self.set_field(screen, 'route', '/client/<int:id>')
            # The HTTP page's fields, served after the sync
            self.set_field(screen, 'rate_limit', 5)
            self.set_field(screen, 'rate_period', 60)
            self.set_field(screen, 'cors_origins', 'https://shop.example')
            self.set_field(screen, 'cache_max_age', 30)
            self.set_field(screen, 'deprecation', dt.date(2026, 1, 1))
            self.set_field(screen, 'sunset', dt.date(2027, 1, 1))
            page.sig_save()
            self.wait(lambda: screen.current_record.id > 0, "saved")
            self.report['facts']['new_http'] = [
                str(self.field(screen, n)) for n in ['rate_limit',
                    'rate_period', 'cors_origins', 'cache_max_age',
                    'deprecation', 'sunset']]
            self.report['facts']['new_state'] = self.field(screen, 'state')
        if not self.step('new record', new_record):
            return

        def test_wizard():
            count = len(self.wizards)
            self.button(screen, 'test').clicked()
            wizard = self.new_wizard(count)
            self.wizard_at(wizard, 'start')
            self.report['facts']['test_path'] = self.field(
                wizard.screen, 'path')
            self.report['facts']['test_as'] = self.field(
                wizard.screen, 'user')
            self.screenshot('test-wizard-start', wizard)
            self.wizard_press(wizard, 'run')
            self.wizard_at(wizard, 'response')
            self.report['facts']['test_status'] = self.field(
                wizard.screen, 'status')
            self.screenshot('test-wizard', wizard)
            self.wizard_press(wizard, 'end')
            self.wizard_ended(wizard)
        self.step('test wizard', test_wizard)

        def sync_record():
            count = len(self.wizards)
            self.button(screen, 'sync_wizard').clicked()
            wizard = self.new_wizard(count)
            self.wizard_at(wizard, 'start')
            self.report['facts']['sync_added'] = self.field(
                wizard.screen, 'added')
            self.set_field(wizard.screen, 'note', "Sync of the client")
            self.screenshot('sync-wizard', wizard)
            self.wizard_press(wizard, 'sync')
            self.wizard_ended(wizard)
            self.wait(lambda: self.field(screen, 'state') == 'live',
                "form reloaded as live")
            self.report['facts']['synced_state'] = self.field(
                screen, 'state')

            # Again: the record is live, nothing to do, and it says so
            count = len(self.wizards)
            self.button(screen, 'sync_wizard').clicked()
            wizard = self.new_wizard(count)
            self.wizard_at(wizard, 'start')
            self.report['facts']['sync_again'] = self.field(
                wizard.screen, 'summary')
            self.wizard_press(wizard, 'end')
            self.wizard_ended(wizard)
        self.step('sync record', sync_record)
        self.step('view revisions', lambda: self.view_revisions(page))

        def sync_registry():
            count = len(self.wizards)
            self.open('Sync Registry', wizard=True)
            wizard = self.new_wizard(count)
            self.wizard_at(wizard, 'start')
            self.report['facts']['registry_summary'] = self.field(
                wizard.screen, 'summary')
            self.report['facts']['registry_removed'] = self.field(
                wizard.screen, 'removed')
            self.screenshot('sync-registry', wizard)
            self.wizard_press(wizard, 'sync')
            self.wizard_ended(wizard)

            count = len(self.wizards)
            self.open('Sync Registry', wizard=True)
            wizard = self.new_wizard(count)
            self.wizard_at(wizard, 'start')
            self.report['facts']['registry_after'] = self.field(
                wizard.screen, 'summary')
            self.wizard_press(wizard, 'end')
            self.wizard_ended(wizard)
        self.step('sync registry', sync_registry)

        def log_list():
            logs = self.open('Logs')
            self.wait(lambda: self.loaded(logs.screen), "log list loaded")
            self.report['facts']['log_rows'] = len(logs.screen.group)
            request_id = self.report['facts']['request_id'] = (
                logs.screen.group[0]['request_id'].get(logs.screen.group[0]))
            logs.screen.search_filter(f'Request: "{request_id}"')
            self.wait(lambda: self.loaded(logs.screen), "log search")
            self.report['facts']['log_found'] = len(logs.screen.group)
            self.screenshot('log-list')
            logs.screen.switch_view('form')
            self.wait(lambda: logs.screen.current_view.view_type == 'form',
                "log form")
            self.pump(0.5)
        self.step('log list', log_list)

        def statistics():
            # The server writes its counts every few seconds.
            self.wait(lambda: self.rpc('endpoint.statistic', 'search_count',
                    []) > 0, "statistics written", timeout=30)
            graph = self.open('Statistics')
            self.wait(lambda: self.loaded(graph.screen), "graph loaded")
            facts = self.report['facts']
            facts['statistic_view'] = graph.screen.current_view.view_type
            facts['statistic_requests'] = sum(
                r['requests'].get(r) or 0 for r in graph.screen.group)
            self.screenshot('statistic-graph')
            graph.screen.switch_view('tree')
            self.wait(lambda: graph.screen.current_view.view_type == 'tree',
                "statistic list")
            facts['statistic_rows'] = len(graph.screen.group)
            self.screenshot('statistic-list')
            graph.screen.switch_view('form')
            self.wait(lambda: graph.screen.current_view.view_type == 'form',
                "statistic form")
            self.pump(0.5)
            # An endpoint's Open related records ▸ Statistics
            from tryton.action import Action
            record = graph.screen.group[0]
            endpoint = record['endpoint'].get(record)
            action, = self.rpc('ir.action.keyword', 'search_read', [
                    ('keyword', '=', 'form_relate'),
                    ('model', '=', 'endpoint.endpoint,-1'),
                    ('action.name', '=', 'Statistics')],
                0, None, None, ['action'])
            before = len(self.app.pages)
            Action.execute(action['action'], {'model': 'endpoint.endpoint',
                    'id': endpoint, 'ids': [endpoint]})
            self.wait(lambda: len(self.app.pages) > before, "related opened")
            related = self.app.pages[-1]
            self.wait(lambda: self.loaded(related.screen), "related loaded")
            facts['statistic_related'] = (
                related.screen.current_view.view_type,
                len(related.screen.group) == self.rpc('endpoint.statistic',
                    'search_count', [('endpoint', '=', endpoint)]))
        self.step('statistics', statistics)

        self.step('versions', self.versions)

        def signed_endpoint():
            # A signed webhook: its Caller page shown, its Test wizard
            # signing the sample.
            web, = self.rpc('res.user', 'search',
                [('login', '=', 'web')], 0, None, None)
            self.rpc('endpoint.endpoint', 'create', [{
                        'name': "Signed in the client",
                        'route': '/client/hook', 'method': 'POST',
                        'content_type': 'application/json',
                        'auth': 'signature', 'exec_user': web,
                        'signature_scheme': 'github',
                        'signature_secret': 'client-secret',
                        'code': "result['payload'] = {'ok': True}"}])
            signed = self.open('Endpoints')
            screen = signed.screen
            self.wait(lambda: self.loaded(screen), "endpoint list again")
            notebook = screen.screen_container.notebook
            notebook.set_current_page(notebook.get_n_pages() - 1)
            self.wait(lambda: self.loaded(screen), "All tab again")
            names = [r['name'].get(r) for r in screen.group]
            screen.current_record = screen.group[
                names.index("Signed in the client")]
            screen.switch_view('form')
            self.wait(lambda: screen.current_view.view_type == 'form',
                "signed form")
            self.pump(0.5)
            shown = []
            for book in self.notebook_pages(screen.current_view.widget):
                for index in range(book.get_n_pages()):
                    child = book.get_nth_page(index)
                    if child.get_visible():
                        shown.append(self.text_of(book.get_tab_label(child)))
                        if shown[-1] == 'Caller':
                            book.set_current_page(index)
            self.report['facts']['signed_pages'] = shown
            self.screenshot('endpoint-form-caller')
            count = len(self.wizards)
            self.button(screen, 'test').clicked()
            wizard = self.new_wizard(count)
            self.wizard_at(wizard, 'start')
            self.report['facts']['signed_sign'] = self.field(
                wizard.screen, 'sign')
            self.set_field(wizard.screen, 'body', '{"zen": "hi"}')
            self.wizard_press(wizard, 'run')
            self.wizard_at(wizard, 'response')
            self.report['facts']['signed_status'] = self.field(
                wizard.screen, 'status')
            self.report['facts']['signed_output'] = ' '.join(
                str(self.field(wizard.screen, f) or '')
                for f in ['headers', 'body', 'logs'])
            self.screenshot('test-wizard-signed', wizard)
            self.wizard_press(wizard, 'end')
            self.wizard_ended(wizard)
        self.step('signed endpoint', signed_endpoint)

    def pick_revision(self, index):
        "Answer the next Revision dialog with its row index (0: current)"
        from gi.repository import GLib, Gtk
        count = len(self.revisions)

        def answer():
            if len(self.revisions) == count:
                return True  # not shown yet: ask again
            dialog = self.revisions[-1]
            try:
                combobox = dialog.combobox
                rows = combobox.get_model()
                self.report['facts'].setdefault('revision_rows', []).append(
                    len(rows) - 1)
                combobox.set_active(
                    index if index >= 0 else len(rows) + index)
            except Exception:
                self.report['exceptions'].append(traceback.format_exc())
            # Always answered: an open modal dialog would block the walk.
            dialog.win.response(Gtk.ResponseType.OK)
            return False
        GLib.timeout_add(100, answer)

    def view_revisions(self, page):
        "View Revisions on the new record: its first revision, then back"
        screen = page.screen
        # Group: not translated, so read from the history table itself.
        self.set_field(screen, 'group', "renamed")
        page.sig_save()
        self.wait(lambda: not screen.current_record.modified, "renamed")
        # The oldest revision is the last row of the dialog.
        self.pick_revision(-1)
        page.sig_revision()
        self.wait(lambda: screen.context.get('_datetime'), "at a revision")
        self.report['facts']['revision_group'] = self.field(screen, 'group')
        self.screenshot('endpoint-revision')
        self.pick_revision(0)
        page.sig_revision()
        self.wait(lambda: not screen.context.get('_datetime'), "back")
        self.report['facts']['current_group'] = self.field(screen, 'group')

    def versions(self):
        "The published versions, one opened, the one before restored"
        versions = self.open('Versions')
        screen = versions.screen
        self.wait(lambda: self.loaded(screen), "version list loaded")
        facts = self.report['facts']
        facts['version_rows'] = len(screen.group)
        facts['version_notes'] = [r['note'].get(r) for r in screen.group]
        self.screenshot('version-list')
        target = screen.group[1]
        facts['restored_number'] = target['number'].get(target)
        screen.current_record = target
        screen.switch_view('form')
        self.wait(lambda: screen.current_view.view_type == 'form',
            "version form")
        facts['version_diff'] = self.field(screen, 'diff')
        self.screenshot('version-form')
        self.button(screen, 'restore').clicked()
        self.wait(lambda: self.rpc('endpoint.registry.version',
                'search_count', []) == facts['version_rows'] + 1,
            "restored")
        screen.switch_view('tree')
        self.wait(lambda: screen.current_view.view_type == 'tree',
            "version list")
        screen.search_filter(screen.screen_container.get_text())
        self.wait(lambda: len(screen.group) == facts['version_rows'] + 1,
            "restored version listed")
        top = screen.group[0]
        facts['restore_note'] = top['note'].get(top)
        facts['restore_diff'] = self.rpc('endpoint.registry.version',
            'read', [top.id], ['diff'])[0]['diff']



    def form_pages(self, screen, shot):
        "Show every page of the form's notebooks; the labels shown"
        labels = []
        for book in self.notebook_pages(screen.current_view.widget):
            for index in range(book.get_n_pages()):
                book.set_current_page(index)
                self.pump(0.4)
                label = self.text_of(
                    book.get_tab_label(book.get_nth_page(index)))
                labels.append(label)
                if shot and label in {'Code', 'Logs', 'HTTP'}:
                    self.screenshot(f'{shot}-{label.lower()}')
            book.set_current_page(0)
        self.pump(0.3)
        return labels

    def text_of(self, widget):
        "The text of the first label in widget"
        from gi.repository import Gtk
        if isinstance(widget, Gtk.Label):
            return widget.get_text().replace('_', '')
        if isinstance(widget, Gtk.Container):
            for child in widget.get_children():
                text = self.text_of(child)
                if text:
                    return text
        return None

    def run(self):
        self.outdir.mkdir(parents=True, exist_ok=True)
        try:
            self.patch()
            if self.step('login', self.start):
                self.step('endpoints', self.walk)
        finally:
            (self.outdir / 'report.json').write_text(
                json.dumps(self.report, indent=2, default=str))


if __name__ == '__main__':
    Driver(*sys.argv[1:5]).run()
