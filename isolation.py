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
import ast
from contextlib import nullcontext
from functools import lru_cache

from trytond import config

from trytond_endpoint.sandbox import run_snippet
from trytond_endpoint.sandbox_process import PREFETCH, run_isolated

from .rest_seed import run_trusted

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
    seed = getattr(compiled, 'seed', None)
    if seed is not None:
        # A seed REST record as the module ships it: its code is the
        # module's, run here (see rest_seed.py).
        with limit():
            run_trusted(seed, names)
    elif ISOLATION == 'inline':
        with limit():
            run_snippet(compiled.code, names, timeout=budget, memory=memory)
    else:
        run_isolated(source or '', names, timeout=budget, memory=memory,
            limit=limit, memo=_memo(source or '', names.get('pool')))


def _memo(source, pool):
    """``pool.get(name)`` of the literal names of source, made here before
    the run: one round trip less each (a name refused is left for the
    snippet's own call, which raises where it is)."""
    memo = []
    if pool is not None:
        for name in _pool_names(source):
            try:
                memo.append((pool, 'get', (name,), pool.get(name)))
            except Exception:
                pass
    return memo


@lru_cache(maxsize=4096)
def _pool_names(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    names = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'get'
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == 'pool'
                and len(node.args) == 1 and not node.keywords
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value not in names):
            names.append(node.args[0].value)
    return tuple(names[:8])


_REGISTERED = []


def _register():
    # What a sandbox gets with the handle of a record or of the user:
    # their id, and a record's text, never change during a run. (Done at
    # the first run: the pipeline imports this module.)
    from . import pipeline, snippet_pool
    PREFETCH[snippet_pool.RecordView] = lambda r: {
        'id': r.id, '$repr': repr(r)}
    user_facts = getattr(pipeline, '_UserFacts', None)
    if user_facts is not None:
        PREFETCH[user_facts] = lambda u: {'id': u.id}
    _REGISTERED.append(True)
