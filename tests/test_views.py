"""Every field of every view has a widget the desktop client knows.

The widget tables are the client's own (``FormXMLViewParser.WIDGETS`` and
``TreeXMLViewParser.WIDGETS`` of the installed ``tryton`` package); a
field the client has no widget for fails to open with a KeyError (a
Timestamp in a list did). No client runs here: only its tables are read.
"""
import importlib.util
import unittest

from lxml import etree
from trytond.pool import Pool
from trytond.tests.test_tryton import DBTestCase, with_transaction


def _client_widgets():
    "{view type: widget names} of the installed client, or a reason"
    if importlib.util.find_spec('tryton') is None:
        return "the tryton client is not installed (./dev setup)"
    try:
        import gi
        gi.require_version('Gtk', '3.0')
        from tryton.gui.window.view_form.view.form import FormXMLViewParser
        from tryton.gui.window.view_form.view.list import TreeXMLViewParser
    except (ImportError, ValueError) as exception:
        return f"the tryton client can not be imported: {exception}"
    return {'form': set(FormXMLViewParser.WIDGETS),
        'tree': set(TreeXMLViewParser.WIDGETS)}


WIDGETS = _client_widgets()
GRAPH_VALUES = {'integer', 'float', 'numeric'}
_SKIP = WIDGETS if isinstance(WIDGETS, str) else None


@unittest.skipIf(_SKIP, _SKIP)
class ViewWidgetsTestCase(DBTestCase):
    "The module's views in the client's widget tables"
    module = 'endpoint'
    extras = ['party']

    @with_transaction()
    def test_every_field_has_a_client_widget(self):
        "Each field of each view, x2many views included, has a widget"
        pool = Pool()
        View = pool.get('ir.ui.view')
        to_check = [(v.model, v.id, None)
            for v in View.search([('module', '=', self.module)])]
        checked, unknown = set(), []
        while to_check:
            model, view_id, view_type = to_check.pop()
            if (model, view_id, view_type) in checked:
                continue
            checked.add((model, view_id, view_type))
            Model = pool.get(model)
            view = Model.fields_view_get(view_id=view_id,
                view_type=view_type or 'form')
            arch = etree.fromstring(view['arch'])
            if view['type'] == 'graph':
                # A graph has no widgets: the client plots numbers on y.
                for node in arch.iterfind('y/field'):
                    name = node.get('name')
                    if name != '#' and view['fields'][name]['type'] not in (
                            GRAPH_VALUES):
                        unknown.append(f"{model} graph view {view_id}: "
                            f"{name} is not a number")
                continue
            known = WIDGETS.get(view['type'])
            self.assertIsNotNone(known,
                f"{model} view {view_id}: type {view['type']}")
            for node in arch.iter('field'):
                name = node.get('name')
                field = view['fields'][name]
                widget = node.get('widget') or field['type']
                if widget not in known:
                    unknown.append(
                        f"{model} {view['type']} view {view['view_id']}: "
                        f"{name} ({field['type']}) widget {widget!r}")
                if field['type'] in {'one2many', 'many2many'}:
                    # The client asks for the relation's own list and form
                    for type_ in ['tree', 'form']:
                        to_check.append((field['relation'], None, type_))
        self.assertEqual(unknown, [])
        # The walk reached the views it is meant to
        self.assertIn(('endpoint.log', None, 'tree'), checked)
        self.assertGreaterEqual(len(checked), 8)
