"""Parsing JSON request bodies without surprises.

The C decoder recurses once per nesting level, so a body of 100 000 ``[``
would end in a RecursionError deep inside the worker: the nesting is
measured first, without recursion, and refused above the limit.
"""
import json
import math
import re

from .problem import Problem

JSON_DEPTH_LIMIT = 64

# A JSON string (unrolled loop: no backtracking) or a bracket.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(text, limit):
    """Whether ``text`` nests arrays/objects deeper than ``limit``."""
    # The number of openers bounds the depth: most bodies are decided by
    # two C-speed counts without a scan.
    if text.count('[') + text.count('{') <= limit:
        return False
    depth = 0
    for match in _STRUCTURE.finditer(text):
        char = match.group()
        if char in '[{':
            depth += 1
            if depth > limit:
                return True
        elif char in ']}':
            depth -= 1
    return False


def _refuse_constant(name):
    # NaN and Infinity are Python extensions, not JSON (RFC 8259).
    raise ValueError(f'{name} is not valid JSON')


def _finite(text):
    # 1e999 is valid JSON that no float holds: Python reads it as inf,
    # which no JSON answer can carry.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f'the number {text[:40]} is out of range')
    return value


def loads(text, depth_limit=None):
    """Parse JSON text; Problem 400 with line and column when malformed."""
    if depth_limit is None:
        depth_limit = JSON_DEPTH_LIMIT
    if json_depth_exceeds(text, depth_limit):
        raise Problem(400, detail=(
                f'JSON nested deeper than {depth_limit} levels'))
    try:
        return json.loads(text, parse_constant=_refuse_constant,
            parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise Problem(400, detail=(
                f'malformed JSON at line {exc.lineno}, column {exc.colno}: '
                f'{exc.msg}'))
    except RecursionError:
        # Not reachable after the depth check; kept so that a change of
        # the limit can never turn into a 500.
        raise Problem(400, detail='JSON nested too deeply')
    except ValueError as exc:
        # NaN/Infinity, integers beyond Python's digit limit.
        raise Problem(400, detail=f'malformed JSON: {exc}')


def loads_objects(text, object_hook, what, depth_limit=None):
    """Parse JSON whose objects ``object_hook`` may turn into values (Tryton's
    ``{"__class__": "datetime", …}``); Problem 400 naming ``what`` when the
    text or one of its objects does not decode.
    """
    if depth_limit is None:
        depth_limit = JSON_DEPTH_LIMIT
    if json_depth_exceeds(text, depth_limit):
        raise Problem(400, detail=(
                f'{what} is nested deeper than {depth_limit} levels'))
    try:
        return json.loads(text, object_hook=object_hook,
            parse_constant=_refuse_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise Problem(400, detail=(
                f'{what} is malformed JSON at line {exc.lineno}, '
                f'column {exc.colno}: {exc.msg}'))
    except RecursionError:
        raise Problem(400, detail=f'{what} is nested too deeply')
    except Exception as exc:
        # The hook runs datetime(), Decimal(), base64 on the client's
        # values: whatever it raises is a value that does not decode.
        raise Problem(400, detail=(
                f'{what} holds a value that does not decode '
                f'({type(exc).__name__})'))
