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
from trytond_endpoint.sandbox_guards import guarded_getattr
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
            limit=limit, memo=lambda: _memo(source or '', names))


def _memo(source, names):
    """Calls of the snippet made here before the run, one round trip less
    each: ``pool.get(name)`` of the literal names of source, and the
    snippet's first statement when it reads records of one of them.

    A call that fails is left for the snippet's own, which raises where
    it is (a failure of the database is kept by the pool and raised after
    the run, as it would be).
    """
    memo = []
    pool = names.get('pool')
    if pool is None:
        return memo
    models = {}
    for name in _pool_names(source):
        try:
            models[name] = pool.get(name)
        except Exception:
            continue
        memo.append((pool, 'get', (name,), models[name], True))
    first = _first_read(source)
    if first is not None and first[0] in models:
        model = models[first[0]]
        args = _read_args(first[1], first[2], names.get('request'))
        if args is not None:
            try:
                value = guarded_getattr(model, 'read')(*args)
            except Exception:
                pass
            else:
                # Only for the run's first call: after any other, the
                # records may have changed.
                memo.append((model, 'read', args, value, False))
    return memo


@lru_cache(maxsize=4096)
def _pool_names(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    names = []
    for node in ast.walk(tree):
        name = _pool_get(node)
        if name is not None and name not in names:
            names.append(name)
    return tuple(names[:8])


@lru_cache(maxsize=4096)
def _first_read(source):
    """``(model, ids, fields)`` when the first statement of source that
    is not ``Name = pool.get('model')`` is ``Model.read(ids, fields)``
    (or assigns its value), with literal fields and ids that are numbers
    or ``request.path_params['name']`` (``('param', name)``)"""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    models = {}
    for statement in tree.body:
        value = getattr(statement, 'value', None)
        if not isinstance(statement, (ast.Assign, ast.Expr)):
            return None
        model = _pool_get(value)
        if (model is not None and isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            models[statement.targets[0].id] = model
            continue
        return _read_call(value, models)
    return None


def _pool_get(node):
    "The literal model name of ``pool.get('model')``"
    if (isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == 'get'
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == 'pool'
            and len(node.args) == 1 and not node.keywords
            and isinstance(node.args[0], ast.Constant)
            and type(node.args[0].value) is str):
        return node.args[0].value
    return None


def _read_call(node, models):
    if not (isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == 'read'
            and len(node.args) == 2 and not node.keywords
            and all(isinstance(a, ast.List) for a in node.args)):
        return None
    target = node.func.value
    model = (models.get(target.id) if isinstance(target, ast.Name)
        else _pool_get(target))
    ids = [_id(e) for e in node.args[0].elts]
    fields = [e.value for e in node.args[1].elts
        if isinstance(e, ast.Constant) and type(e.value) is str]
    if (model is None or not ids or None in ids
            or len(fields) != len(node.args[1].elts)):
        return None
    return model, tuple(ids), tuple(fields)


def _id(node):
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return ('id', node.value)
    if (isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == 'path_params'
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == 'request'
            and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) is str):
        return ('param', node.slice.value)
    return None


def _read_args(ids, fields, request):
    "The arguments the snippet's read will have; None when unsure"
    values = []
    for kind, value in ids:
        if kind == 'param':
            try:
                value = request.path_params[value]
            except Exception:
                return None
        if type(value) is not int:
            return None
        values.append(value)
    return (values, list(fields))


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
