"""The models a snippet names literally, as in ``pool.get('party.party')``.

A snippet of an old version may name a model whose module is no longer
activated: restoring it would publish an endpoint that fails on every
call. Names built at run time can not be known and are not listed.
"""
import ast


def literal_models(code):
    "The sorted model names given as a literal to ``pool.get``"
    try:
        tree = ast.parse(code or '')
    except SyntaxError:
        # Reported by the definition's own check.
        return []
    names = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'get'
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == 'pool'
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return sorted(names)
