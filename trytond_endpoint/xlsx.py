"""Collections of records as an Office Open XML workbook (``.xlsx``).

Written with XlsxWriter: it only writes (what an answer needs), keeps
the types of the cells (numbers, dates, booleans), needs no temporary
file and depends on nothing else.

One sheet, a header row of column names, one row per record; nested
records (dotted ``f``) become ``parent.field`` columns, lists a JSON
array, as in CSV. The size of a spreadsheet is bounded before it is
written: a collection over ``max_rows`` or ``max_cells`` is refused with
400 (the client pages with ``s``/``Range``), a text over what a cell
holds with 406 (another format carries it).
"""
import datetime as dt
import io
from decimal import Decimal

import xlsxwriter

from . import flat_rows
from .problem import Problem

MEDIA_TYPE = (
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
# What the format itself holds (Excel's specifications and limits).
SHEET_ROWS = 1_048_576
SHEET_COLUMNS = 16_384
CELL_CHARACTERS = 32_767
# A double keeps 15 significant digits: a decimal with more is written as
# its text, so no digit is lost.
_DOUBLE_DIGITS = 15
_FORMATS = {
    'datetime': 'yyyy-mm-dd hh:mm:ss',
    'date': 'yyyy-mm-dd',
    'time': 'hh:mm:ss',
    'timedelta': '[h]:mm:ss',
    }


class Limits:
    "How large a spreadsheet this server writes"
    __slots__ = ('max_rows', 'max_cells')

    def __init__(self, max_rows=10_000, max_cells=1_000_000):
        self.max_rows = min(max_rows, SHEET_ROWS - 1)
        self.max_cells = max_cells

    def check_size(self, size, parameter='s'):
        "400 when a client asks for more rows than a spreadsheet may have"
        if size is not None and size > self.max_rows:
            raise too_many(self.max_rows, parameter)

    def fetch_limit(self, limit):
        """The limit to read a collection with: one row more than allowed
        when the client gave none, so that a larger one is seen without
        reading it all."""
        self.check_size(limit)
        return self.max_rows + 1 if limit is None else limit


def too_many(max_rows, parameter='s'):
    detail = (f"A spreadsheet holds at most {max_rows} records here; "
        "ask for a page with s and p or a Range.")
    return Problem(400, detail,
        errors=[{'parameter': parameter, 'detail': detail}])


def is_records(data):
    "Whether data is a list of records (dicts): what a sheet can show"
    return isinstance(data, (list, tuple)) and all(
        isinstance(r, dict) for r in data)


def encode(records, limits, sheet='records'):
    "The workbook of records (a list of dicts) as bytes"
    if not is_records(records):
        raise Problem(406, "Only a list of records can be a spreadsheet.")
    if len(records) > limits.max_rows:
        raise too_many(limits.max_rows)
    # Cells keep their values: _write types them.
    rows = [dict(flat_rows.flatten(r, _same, _item)) for r in records]
    columns = flat_rows.columns(rows)
    if len(columns) > SHEET_COLUMNS or (
            len(columns) * len(rows) > limits.max_cells):
        raise Problem(400, f"A spreadsheet holds at most {limits.max_cells} "
            "cells here; ask for fewer records or fields.")
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {
            # Texts are data, never formulas or links the reader follows.
            'strings_to_formulas': False,
            'strings_to_urls': False,
            'strings_to_numbers': False,
            'nan_inf_to_errors': True,
            # The size is bounded before: no temporary file to clean.
            'in_memory': True,
            })
    try:
        worksheet = workbook.add_worksheet(_sheet_name(sheet))
        styles = _Styles(workbook)
        bold = workbook.add_format({'bold': True})
        for column, name in enumerate(columns):
            worksheet.write_string(0, column, _cell_text(name), bold)
        for index, row in enumerate(rows, 1):
            for column, name in enumerate(columns):
                if name in row:
                    _write(worksheet, index, column, row[name], styles)
        if columns:
            worksheet.freeze_panes(1, 0)
    finally:
        workbook.close()
    return output.getvalue()


def _sheet_name(name):
    # Excel refuses these characters and names over 31 characters.
    for char in '[]:*?/\\':
        name = name.replace(char, '_')
    return name[:31] or 'records'


def _item(value):
    # In a list's JSON: booleans and numbers as JSON has them
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return flat_rows.scalar_text(value)


def _same(value):
    return value


class _Styles:
    "Number formats, made once per workbook and per pattern"

    def __init__(self, workbook):
        self._workbook = workbook
        self._made = {}

    def get(self, pattern):
        style = self._made.get(pattern)
        if style is None:
            style = self._made[pattern] = self._workbook.add_format(
                {'num_format': pattern})
        return style


def _write(worksheet, row, column, value, styles):
    if value is None:
        return
    if isinstance(value, bool):
        worksheet.write_boolean(row, column, value)
    elif isinstance(value, int):
        if abs(value) < 10 ** _DOUBLE_DIGITS:
            worksheet.write_number(row, column, value)
        else:
            worksheet.write_string(row, column, str(value))
    elif isinstance(value, float):
        worksheet.write_number(row, column, value)
    elif isinstance(value, Decimal):
        _write_decimal(worksheet, row, column, value, styles)
    elif isinstance(value, dt.datetime):
        # Tryton's timestamps are naive UTC; a sheet has no time zones.
        worksheet.write_datetime(row, column, value.replace(tzinfo=None),
            styles.get(_FORMATS['datetime']))
    elif isinstance(value, dt.date):
        worksheet.write_datetime(row, column, value,
            styles.get(_FORMATS['date']))
    elif isinstance(value, dt.time):
        worksheet.write_datetime(row, column, value.replace(tzinfo=None),
            styles.get(_FORMATS['time']))
    elif isinstance(value, dt.timedelta):
        worksheet.write_datetime(row, column, value,
            styles.get(_FORMATS['timedelta']))
    else:
        text = value if isinstance(value, str) else flat_rows.scalar_text(value)
        worksheet.write_string(row, column, _cell_text(text))


def _write_decimal(worksheet, row, column, value, styles):
    if not value.is_finite():
        worksheet.write_string(row, column, str(value))
        return
    sign, digits, exponent = value.as_tuple()
    if len(digits) > _DOUBLE_DIGITS:
        worksheet.write_string(row, column, str(value))
        return
    # As many decimals shown as the value has: 12.30 stays 12.30.
    places = max(-exponent, 0)
    pattern = '0.' + '0' * places if places else '0'
    worksheet.write_number(row, column, float(value), styles.get(pattern))


def _cell_text(text):
    if len(text) > CELL_CHARACTERS:
        raise Problem(406, f"A value of {len(text)} characters is longer "
            f"than a spreadsheet cell holds ({CELL_CHARACTERS}); "
            "ask for another format.")
    return text
