# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Where a snippet runs: in a sandbox process (the default) or inline.

``[endpoint] isolation = process`` runs each snippet in a warm sandbox
process of the server worker (``trytond_endpoint/sandbox_process.py``);
its ``pool``, ``rest`` and ``log`` calls come back here and run in the
request's transaction, under the exec user's rights, through the very
objects an inline run uses. ``inline`` runs it in the server process, as
development setups may prefer (a debugger sees it; nothing stops what
runs in C).
"""
from contextlib import nullcontext

from trytond import config

from trytond_endpoint.sandbox import run_snippet
from trytond_endpoint.sandbox_process import PREFETCH, run_isolated

MODES = ('process', 'inline')
ISOLATION = config.get('endpoint', 'isolation', default='process')
if ISOLATION not in MODES:
    raise ValueError(
        f"[endpoint] isolation is 'process' or 'inline', not {ISOLATION!r}")


def run(compiled, source, names, budget, memory, limit=nullcontext):
    """Run the endpoint's snippet with names, as the configuration says.

    ``limit()`` is the context of the run's SQL deadline, entered when
    the snippet starts (after a sandbox process is ready).
    """
    if not _REGISTERED:
        _register()
    if ISOLATION == 'inline':
        with limit():
            run_snippet(compiled.code, names, timeout=budget, memory=memory)
    else:
        run_isolated(source or '', names, timeout=budget, memory=memory,
            limit=limit)


_REGISTERED = []


def _register():
    # What a sandbox gets with the handle of a record or of the user:
    # their id, and a record's text, never change during a run. (Done at
    # the first run: serve imports this module.)
    from . import serve, snippet_pool
    PREFETCH[snippet_pool.RecordView] = lambda r: {
        'id': r.id, '$repr': repr(r)}
    user_facts = getattr(serve, '_UserFacts', None)
    if user_facts is not None:
        PREFETCH[user_facts] = lambda u: {'id': u.id}
    _REGISTERED.append(True)
