"""The ``X-Tryton-Context`` header: URL-safe base64 of a JSON object in
Tryton's encoding, checked for shape before it becomes a transaction's
context."""
import binascii
import re
from base64 import urlsafe_b64decode

from ..jsonbody import loads_objects
from ..problem import Problem

HEADER = 'X-Tryton-Context'
# A context is a few flat keys; deeper is no context.
CONTEXT_DEPTH_LIMIT = 16
MAX_HEADER = 8192
# ir.lang codes: en, fr, pt_BR, zh_CN, sr@latin
LANGUAGE = re.compile(r'[A-Za-z]{2,8}(?:[_-][A-Za-z0-9]{1,8})*(?:@\w{1,8})?')


def _bad(detail):
    return Problem(400, f"{HEADER}: {detail}",
        errors=[{'header': HEADER, 'detail': detail}])


def parse_context(header, object_hook):
    """The context the header holds, without the server's own keys (those
    starting with ``_``) and ``user``; 400 naming the header when it is
    not such an object."""
    if len(header) > MAX_HEADER:
        raise _bad(f"longer than {MAX_HEADER} characters.")
    try:
        text = urlsafe_b64decode(header + '=' * (-len(header) % 4)
            ).decode('utf-8')
    except (binascii.Error, ValueError):
        raise _bad("not URL-safe base64 of UTF-8 JSON.")
    try:
        context = loads_objects(text, object_hook, HEADER,
            depth_limit=CONTEXT_DEPTH_LIMIT)
    except Problem as problem:
        raise _bad(problem.detail.removeprefix(HEADER + ' ') + '.')
    if not isinstance(context, dict):
        raise _bad("must be a JSON object.")
    context = {k: v for k, v in context.items()
        if isinstance(k, str) and not k.startswith('_') and k != 'user'}
    if 'language' in context:
        check_language(context['language'])
    return context


def check_language(value):
    if not (isinstance(value, str) and LANGUAGE.fullmatch(value)):
        raise _bad("language must be a language code such as en or pt_BR.")
    return value


def accepted_language(value):
    "A language from Accept-Language in Tryton's form, None if not one"
    if value and value != '*' and LANGUAGE.fullmatch(value):
        return value.replace('-', '_')
    return None
