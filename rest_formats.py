# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Record bodies of the REST helper as JSON, XML or CSV; collections also
as a spreadsheet (``xlsx``, see :mod:`trytond_endpoint.xlsx`).

JSON is Tryton's own encoding (``trytond.protocols.jsonrpc.JSONEncoder``),
byte for byte what the built-in REST API answers, so that naiad reads it.
XML and CSV write the same values as text, the same way in both:

========== ==========================================================
value      text
========== ==========================================================
None       empty (XML: ``nil="true"``)
bool       ``true`` / ``false``
Decimal    its exact digits, e.g. ``12.30``
date, time ISO 8601: ``2026-01-02``, ``2026-01-02T10:00:00``, ``10:00:00``
timedelta  seconds, e.g. ``90.0``
bytes      base64 (RFC 4648, standard alphabet)
========== ==========================================================

XML adds a ``type`` attribute to the values that are not text. In CSV,
nested records (dotted ``f``) become ``parent.field`` columns and lists
are written as a JSON array of the texts above.
"""
import csv
import datetime as dt
import io
import json
from decimal import Decimal

from lxml import etree
from trytond import config
from trytond.protocols.jsonrpc import JSONEncoder

from trytond_endpoint import flat_rows, xlsx

FORMATS = {
    'json': 'application/json',
    'xml': 'application/xml',
    'csv': 'text/csv',
    }
# A spreadsheet is a table: only collections have one.
COLLECTION_FORMATS = {**FORMATS, 'xlsx': xlsx.MEDIA_TYPE}
SUFFIXES = tuple(f'.{f}' for f in COLLECTION_FORMATS)
_CONTENT_TYPES = {
    'json': 'application/json',
    'xml': 'application/xml; charset=utf-8',
    'csv': 'text/csv; charset=utf-8; header=present',
    'xlsx': xlsx.MEDIA_TYPE,
    }
# Characters XML 1.0 can not carry, even escaped.
_XML_INVALID = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x9, 0xA, 0xD)] + [0xFFFE, 0xFFFF])


def content_type(format_):
    return _CONTENT_TYPES[format_]


def xlsx_limits():
    "The size of a spreadsheet answer: ``[endpoint] xlsx_max_rows``, ``…cells``"
    return xlsx.Limits(
        max_rows=config.getint('endpoint', 'xlsx_max_rows', default=10_000),
        max_cells=config.getint(
            'endpoint', 'xlsx_max_cells', default=1_000_000))


def fetch_limit(format_, limit):
    """The limit to read a collection with in format_: a spreadsheet is
    bounded (400 when the client asks for more)."""
    if format_ != 'xlsx':
        return limit
    return xlsx_limits().fetch_limit(limit)


def encode(data, format_, model=None):
    "The body of ``data`` (a record dict or a list of them) as bytes"
    if format_ == 'xlsx':
        return xlsx.encode(data, xlsx_limits(), sheet=model or 'records')
    if format_ == 'json':
        return json.dumps(data, cls=JSONEncoder).encode('utf-8')
    if format_ == 'xml':
        return _xml(data, model)
    if format_ == 'csv':
        return _csv(data if isinstance(data, list) else [data])
    raise ValueError(format_)


def text(value):
    "The text of a scalar value in XML and CSV"
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return flat_rows.scalar_text(value)


def _type(value):
    for kind, name in [
            (bool, 'boolean'), (int, 'integer'), (float, 'float'),
            (Decimal, 'decimal'), (dt.datetime, 'datetime'),
            (dt.date, 'date'), (dt.time, 'time'),
            (dt.timedelta, 'timedelta'), ((bytes, bytearray), 'base64')]:
        if isinstance(value, kind):
            return name
    return None


def _xml(data, model):
    if isinstance(data, list):
        root = etree.Element('records')
        if model:
            root.set('model', model)
        for item in data:
            _xml_value(root, 'record', item)
    else:
        root = etree.Element('record')
        _xml_fill(root, data)
    return etree.tostring(root, xml_declaration=True, encoding='utf-8')


def _xml_fill(element, record):
    for key, attribute in [('__name__', 'model'), ('id', 'id')]:
        if record.get(key) is not None:
            element.set(attribute, text(record[key]))
    for key, value in record.items():
        if key not in {'__name__', 'id'}:
            _xml_value(element, key, value)


def _xml_value(parent, tag, value):
    element = etree.SubElement(parent, tag)
    if isinstance(value, dict):
        _xml_fill(element, value)
    elif isinstance(value, (list, tuple)):
        element.set('type', 'list')
        for item in value:
            _xml_value(element, 'item', item)
    elif value is None:
        element.set('nil', 'true')
    else:
        kind = _type(value)
        if kind:
            element.set('type', kind)
        element.text = text(value).translate(_XML_INVALID)
    return element


def _csv(records):
    rows = [dict(flat_rows.flatten(r, text, _item)) for r in records]
    columns = flat_rows.columns(rows)
    output = io.StringIO()
    writer = csv.writer(output, lineterminator='\r\n')
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, '') for c in columns])
    return output.getvalue().encode('utf-8')


def _item(value):
    # In a list's JSON: numbers as numbers, the rest as its CSV text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return text(value) if value is not None else None
