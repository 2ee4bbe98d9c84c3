"""Records as flat rows: the one shape of CSV and spreadsheet answers.

Nested records (dotted ``f``) become ``parent.field`` columns, lists a
JSON array; each format says how a cell and a list item are written.
"""
import base64
import datetime as dt
import json


def columns(rows):
    "Every key of the rows, in the order met, ``id`` first"
    names = list(dict.fromkeys(k for row in rows for k in row))
    if 'id' in names:
        names.remove('id')
        names.insert(0, 'id')
    return names


def flatten(record, cell, item, prefix=''):
    "(column, value) pairs of a record: cell(scalar), lists of item(...)"
    for key, value in record.items():
        if key == '__name__':
            continue
        if isinstance(value, dict):
            yield from flatten(value, cell, item, f'{prefix}{key}.')
        elif isinstance(value, (list, tuple)):
            yield f'{prefix}{key}', json.dumps(
                [plain(v, item) for v in value], ensure_ascii=False)
        else:
            yield f'{prefix}{key}', cell(value)


def plain(value, item):
    "value for JSON: nested records and lists kept, item(each other value)"
    if isinstance(value, dict):
        return {k: plain(v, item) for k, v in value.items()
            if k != '__name__'}
    if isinstance(value, (list, tuple)):
        return [plain(v, item) for v in value]
    return item(value)


def scalar_text(value):
    "The text of a value no format writes natively"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode('ascii')
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    return str(value)
