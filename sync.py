# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Sync Registry: what a sync will publish, shown before it is confirmed."""
import json

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from trytond_endpoint.definition import Definition

from .registry import NOTE_SIZE


def preview(records=None):
    """What publishing ``records`` (every endpoint when None) would do.

    ``{'added': [...], 'changed': [...], 'removed': [...], 'errors':
    [...], 'pending': ids}``: lines to show, added, changed and removed as
    seen by a caller (served before and after, or not), and the ids of the
    records whose definition differs from the published one.
    """
    Endpoint = Pool().get('endpoint.endpoint')
    ids = None if records is None else [getattr(r, 'id', r) for r in records]
    pending, errors = Endpoint.pending(ids)
    added, changed, removed = [], [], []
    for definition, published in pending.values():
        before = (Definition.from_dict(json.loads(published))
            if published else None)
        served_before = bool(before and before.active)
        label = f'{definition.method} {definition.route} "{definition.name}"'
        if served_before and not definition.active:
            removed.append(label)
        elif definition.active and not served_before:
            added.append(label)
        else:
            fields_ = _changed_fields(Endpoint, before, definition)
            if not definition.active:
                fields_.append(gettext('endpoint.msg_sync_not_served'))
            changed.append(f'{label}: {", ".join(fields_)}'
                if fields_ else label)
    return {'added': sorted(added), 'changed': sorted(changed),
        'removed': sorted(removed), 'errors': errors,
        'pending': sorted(pending)}


def _changed_fields(Endpoint, before, after):
    if before is None:
        return []
    old, new = before.to_dict(), after.to_dict()
    names = [n for n in {**old, **new} if n != 'id' and old.get(n) != new.get(n)]
    return [Endpoint.__names__(n)['field'] if n in Endpoint._fields else n
        for n in names]


class SyncStart(ModelView):
    "Sync Registry"
    __name__ = 'endpoint.sync_registry.start'

    summary = fields.Char("Summary", readonly=True)
    added = fields.Text("Added", readonly=True,
        states={'invisible': ~Eval('added')})
    changed = fields.Text("Changed", readonly=True,
        states={'invisible': ~Eval('changed')})
    removed = fields.Text("Removed", readonly=True,
        states={'invisible': ~Eval('removed')})
    errors = fields.Text("Errors", readonly=True,
        states={'invisible': ~Eval('errors')})
    note = fields.Char("Note", size=NOTE_SIZE,
        states={'invisible': ~Eval('can_publish')},
        help="Why this version is published; kept with it.")
    can_publish = fields.Boolean("Can Publish", readonly=True)


class SyncRegistry(Wizard):
    "Sync every endpoint"
    __name__ = 'endpoint.sync_registry'
    start = StateView('endpoint.sync_registry.start',
        'endpoint.sync_registry_start_view_form', [
            Button("Close", 'end', 'tryton-cancel'),
            Button("Publish", 'sync', 'tryton-ok', default=True,
                states={'invisible': ~Bool(Eval('can_publish'))}),
            ])
    # Named sync: callers of the action before it had a preview execute
    # this state directly.
    sync = StateTransition()

    def scope(self):
        "The records to publish, None for all, archived ones included"
        return None

    def default_start(self, fields):
        with Transaction().set_context(active_test=False):
            found = preview(self.scope())
        lines = {k: '\n'.join(found[k])
            for k in ['added', 'changed', 'removed', 'errors']}
        if found['errors']:
            summary = gettext('endpoint.msg_sync_preview_errors',
                count=len(found['errors']))
        elif not found['pending']:
            records = self.scope()
            if records and len(records) == 1:
                summary = gettext('endpoint.msg_sync_record_live',
                    endpoint=records[0].rec_name)
            else:
                summary = gettext('endpoint.msg_sync_nothing')
        else:
            summary = gettext('endpoint.msg_sync_preview',
                added=len(found['added']), changed=len(found['changed']),
                removed=len(found['removed']))
        return dict(lines, summary=summary, note=None,
            can_publish=bool(found['pending']) and not found['errors'])

    def transition_sync(self):
        Endpoint = Pool().get('endpoint.endpoint')
        scope = self.scope()
        with Transaction().set_context(active_test=False):
            Endpoint.publish(scope, note=getattr(self.start, 'note', None))
        return 'end'

    def end(self):
        # The open form shows the new state at once.
        return 'reload'


class SyncEndpoints(SyncRegistry):
    "Sync the selected endpoints"
    __name__ = 'endpoint.endpoint.sync'

    def scope(self):
        return list(self.records)
