"""Compile-time half of the snippet sandbox.

RestrictedPython's transformer already routes attribute, item and iteration
access through guard functions and refuses names starting with ``_``. This
policy narrows it further and rewrites the tree so that the runtime half
(:mod:`trytond_endpoint.sandbox_guards`) can bound time and size:

* ``*``, ``**``, ``<<``, ``+`` and ``%`` become calls to size-checking guards
  (they are the C-level operations that turn a small input into a huge
  output, and constant folding would otherwise run them at compile time);
* every loop iteration, function entry, lambda call, comprehension step,
  ``except`` and ``finally`` block calls ``_tick_()``, the per-run deadline
  check, so a runaway snippet stops without signals or threads;
* f-string fields go through ``_format_`` (widths like
  ``{x:>999999999}``, or the text of ``[s] * 10**6``, allocate in C).
"""
import ast
import re

from RestrictedPython import compile_restricted_exec
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
)

MAX_SOURCE = 200_000

# Builtins that give introspection, I/O or code execution. None of them is
# in the snippet's builtins anyway; refusing them at compile time gives the
# author a clear message with a line number instead of a NameError.
FORBIDDEN_NAMES = frozenset({
    '__import__', 'aiter', 'anext', 'breakpoint', 'builtins', 'bytearray',
    'compile', 'delattr', 'dir', 'eval', 'exec', 'exit', 'getattr',
    'globals', 'hasattr', 'help', 'input', 'iter', 'locals', 'memoryview',
    'object', 'open', 'print', 'printed', 'quit', 'setattr', 'super', 'type',
    'vars',
    })

# Attributes that lead to frames, code, globals or the class hierarchy.
# The runtime guard refuses them too; refusing them here reports the line.
FORBIDDEN_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES | {
    'f_back', 'f_builtins', 'f_code', 'f_globals', 'f_locals', 'f_trace',
    'f_generator', 'tb_frame', 'tb_next', 'gi_frame', 'gi_code',
    'gi_yieldfrom', 'cr_frame', 'cr_code', 'cr_await', 'cr_origin',
    'ag_frame', 'ag_code', 'ag_await', 'func_globals', 'func_code',
    'func_closure', 'im_func', 'im_self', 'im_class', 'mro', 'subclasses',
    'with_traceback',
    })
# Names starting so are refused (underscore: private or dunder).
FORBIDDEN_ATTRIBUTE_PREFIXES = ('_', 'co_')

_BINOP_GUARDS = {
    ast.Mult: '_mult_',
    ast.Pow: '_pow_',
    ast.LShift: '_lshift_',
    ast.Add: '_add_',
    ast.Mod: '_mod_',
    }
_LINE = re.compile(r'^Line (\d+|None): ')


class SnippetError(Exception):
    """A snippet refused by the sandbox, at compile time or at run time.

    ``lineno`` is the (1-based) line of the first problem when known,
    ``message`` the text for the author, ``errors`` every problem found as
    ``(lineno, message)`` pairs.
    """

    def __init__(self, message, lineno=None, errors=None):
        self.message = message
        self.lineno = lineno
        self.errors = errors or [(lineno, message)]
        super().__init__(
            f'Line {lineno}: {message}' if lineno else message)


def _call(name, *args):
    return ast.Call(
        func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _tick(node):
    call = _call('_tick_')
    ast.copy_location(call, node)
    return call


def _tick_stmt(node):
    stmt = ast.Expr(_tick(node))
    ast.copy_location(stmt, node)
    return stmt


class SnippetPolicy(RestrictingNodeTransformer):
    "RestrictedPython policy for endpoint snippets."

    def refuse(self, node, message):
        self.error(node, message)
        return node

    def visit_Module(self, node):
        # The nodes added below carry no position of their own.
        return ast.fix_missing_locations(super().visit_Module(node))

    # Names and attributes

    def check_name(self, node, name, allow_magic_methods=False):
        # Never allow magic method names: classes are refused anyway.
        super().check_name(node, name, allow_magic_methods=False)
        if name in FORBIDDEN_NAMES:
            self.error(node, f'"{name}" is not available in snippets.')

    def visit_Name(self, node):
        # Checked before the base class turns `print` into its collector.
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f'"{node.id}" is not available in snippets.')
            return node
        return super().visit_Name(node)

    def check_function_argument_names(self, node):
        # Checks every argument kind, positional-only ones included: a
        # parameter named like a guard would shadow it in the body.
        args = node.args
        for arg in (args.posonlyargs + args.args + args.kwonlyargs
                + [a for a in (args.vararg, args.kwarg) if a]):
            self.check_name(node, arg.arg)

    def check_attribute(self, node, attr):
        if (attr.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES)
                or attr in FORBIDDEN_ATTRIBUTES):
            self.error(node, f'Attribute "{attr}" is not allowed.')

    def visit_Attribute(self, node):
        if not node.attr.startswith('_'):  # the base class reports those
            self.check_attribute(node, node.attr)
        return super().visit_Attribute(node)

    def visit_keyword(self, node):
        if node.arg is not None and node.arg.startswith('_'):
            self.error(node, f'Keyword "{node.arg}" is not allowed.')
        return super().visit_keyword(node)

    # Refused statements

    def visit_Import(self, node):
        return self.refuse(
            node, 'import is not allowed: use the names provided.')

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        return self.refuse(node, 'Class definitions are not allowed.')

    def visit_Global(self, node):
        return self.refuse(node, 'global statements are not allowed.')

    def visit_Nonlocal(self, node):
        return self.refuse(node, 'nonlocal statements are not allowed.')

    def visit_Yield(self, node):
        return self.refuse(
            node, 'yield is not allowed: build and return a list.')

    visit_YieldFrom = visit_Yield

    def visit_TryStar(self, node):
        return self.refuse(node, 'except* is not allowed.')

    def visit_AugAssign(self, node):
        if isinstance(node.op, ast.MatMult):
            return self.refuse(node, 'The @= operator is not allowed.')
        if isinstance(node.target, (ast.Subscript, ast.Attribute)):
            return self.augassign_item(node)
        return super().visit_AugAssign(node)

    def augassign_item(self, node):
        """Allow `totals[key] += qty` and `record.qty += 1` through guards.

        RestrictedPython refuses them; we rewrite them to
        ``_t = obj; _k = key; _write_(_t)[_k] = _inplacevar_(op,
        _getitem_(_t, _k), value)`` so that each part is evaluated once.
        """
        target = node.target
        obj = self.visit(target.value)
        value = self.visit(node.value)
        holder = self.gen_tmp_name()
        statements = [ast.Assign([ast.Name(holder, ast.Store())], obj)]
        if isinstance(target, ast.Subscript):
            key = self.gen_tmp_name()
            statements.append(ast.Assign(
                [ast.Name(key, ast.Store())], self.visit(target.slice)))
            current = _call(
                '_getitem_', ast.Name(holder, ast.Load()),
                ast.Name(key, ast.Load()))
            store = ast.Subscript(
                value=_call('_write_', ast.Name(holder, ast.Load())),
                slice=ast.Name(key, ast.Load()), ctx=ast.Store())
        else:
            self.check_attribute(node, target.attr)
            current = _call(
                '_getattr_', ast.Name(holder, ast.Load()),
                ast.Constant(target.attr))
            store = ast.Attribute(
                value=_call('_write_', ast.Name(holder, ast.Load())),
                attr=target.attr, ctx=ast.Store())
        statements.append(ast.Assign([store], _call(
            '_inplacevar_', ast.Constant(IOPERATOR_TO_STR[type(node.op)]),
            current, value)))
        return [ast.copy_location(s, node) for s in statements]

    # Size guards

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        call = _call(guard, node.left, node.right)
        ast.copy_location(call, node)
        return call

    def visit_FormattedValue(self, node):
        node = super().visit_FormattedValue(node)
        value = _call(
            '_format_', node.value, ast.Constant(node.conversion),
            node.format_spec or ast.Constant(''))
        ast.copy_location(value, node)
        return ast.copy_location(
            ast.FormattedValue(value=value, conversion=-1, format_spec=None),
            node)

    # Budget checks

    def visit_For(self, node):
        node = super().visit_For(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        # `_tick_()` returns None, so `None or body` is the body.
        node.body = ast.copy_location(
            ast.BoolOp(op=ast.Or(), values=[_tick(node), node.body]), node)
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        node.ifs.insert(0, ast.copy_location(
            ast.UnaryOp(op=ast.Not(), operand=_tick(node.iter)), node.iter))
        return node

    def visit_ExceptHandler(self, node):
        # A snippet catching the budget overrun gets it raised again as
        # soon as its handler starts.
        node = super().visit_ExceptHandler(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_Try(self, node):
        node = super().visit_Try(node)
        if node.finalbody:
            node.finalbody.insert(0, _tick_stmt(node.finalbody[0]))
        return node


def compile_snippet(source, filename='<snippet>'):
    """Compile a snippet for :func:`run_snippet`, or raise SnippetError.

    The result is a code object: compile once, run many times.
    """
    if not isinstance(source, str):
        raise SnippetError('The snippet must be text.')
    if len(source) > MAX_SOURCE:
        raise SnippetError(
            f'The snippet is longer than {MAX_SOURCE} characters.')
    try:
        # Parsing normalises identifiers (NFKC), so fullwidth or ligature
        # spellings reach the policy as the plain names they stand for.
        tree = ast.parse(source, filename, 'exec')
    except SyntaxError as exc:
        raise SnippetError(exc.msg, exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SnippetError(f'The snippet cannot be parsed: {exc}') from None
    try:
        result = compile_restricted_exec(
            tree, filename=filename, policy=SnippetPolicy)
    except (RecursionError, MemoryError):
        raise SnippetError('The snippet is nested too deeply.') from None
    if result.errors:
        errors = []
        for text in result.errors:
            match = _LINE.match(text)
            lineno = match and match.group(1)
            lineno = int(lineno) if lineno and lineno.isdigit() else None
            errors.append((lineno, text[match.end():] if match else text))
        lineno, message = errors[0]
        raise SnippetError(message, lineno, errors)
    return result.code
