"""Plain JSON for generic consumers: ISO 8601 dates, exact decimals."""
import base64
import datetime as dt
import json
import re
import secrets
from decimal import Decimal

# The C encoder cannot write a raw number for a Decimal, so a Decimal is
# written as a marked string and unquoted afterwards. The mark holds a
# per-process secret so that no payload string can forge one.
_MARK = '\x00' + secrets.token_hex(8)
_MARKED = re.compile(
    re.escape(json.dumps(_MARK)[:-1]) + r'(-?[0-9.Ee+-]+)"')


def _default(value):
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return _MARK + str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode('ascii')
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(
        f"{type(value).__name__} is not JSON serialisable")


# One encoder for every answer: json.dumps makes a new one per call when
# given options.
_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False,
    separators=(',', ':'), allow_nan=False)


def dumps(value):
    text = _ENCODER.encode(value)
    if _MARK[1:] in text:
        text = _MARKED.sub(r'\1', text)
    return text.encode('utf-8')
