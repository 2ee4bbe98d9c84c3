# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Seed REST endpoints as trusted module code.

The seed records of ``rest.xml`` hold a few lines that call the ``rest``
helper, which runs in the worker in any case. While a seed record's code
is still exactly the text this module ships, the worker runs that text
itself, as the module's own code: no sandbox process and no round trip
per ``rest`` call. Trust is decided once, when a map's entry is compiled
(after each sync), never per request, and only for the module's own
records: a record whose code was edited, a copy, or another endpoint with
the very same text run in the sandbox like any snippet. See
``doc/rest.rst``.
"""
import os
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from xml.etree import ElementTree

from trytond.pool import Pool
from trytond.transaction import without_check_access

from trytond_endpoint.compiled import Compiled, compile_definition

__all__ = ['compile_served', 'run_trusted']

MODULE = 'endpoint'
_SEED_FILE = os.path.join(os.path.dirname(__file__), 'rest.xml')


@dataclass(frozen=True)
class ServedCompiled(Compiled):
    "What is compiled for a served entry; ``seed``: trusted module code"
    seed: object = None


def compile_served(definition):
    "compile_definition, and the seed's own code if it is still the module's"
    compiled = compile_definition(definition)
    seed = _trusted_code(definition)
    if seed is None:
        return compiled
    return ServedCompiled(seed=seed, **{
            f.name: getattr(compiled, f.name) for f in fields(compiled)})


def run_trusted(seed, names):
    "Run the module's code of a trusted seed (its ``seed``) with names"
    # The run's names are those its text writes (rest, request, result);
    # the seed texts use no builtin.
    exec(seed, {**names, '__builtins__': {}})


def _trusted_code(definition):
    "The code object of the module's text when definition is its record"
    for fs_id, text in seed_texts().items():
        if definition.code == text and _db_id(fs_id) == definition.id:
            return _compile(fs_id, text)
    return None


def _db_id(fs_id):
    ModelData = Pool().get('ir.model.data')
    with without_check_access():
        try:
            return ModelData.get_id(MODULE, fs_id)
        except KeyError:
            return None


@cache
def _compile(fs_id, text):
    return compile(text, f'<{MODULE}.{fs_id}>', 'exec')


@lru_cache(maxsize=1)
def seed_texts():
    "``{xml id: code}`` of the endpoint records this module ships"
    root = ElementTree.parse(_SEED_FILE).getroot()
    return {record.get('id'): field.text or ''
        for record in root.iter('record')
        if record.get('model') == 'endpoint.endpoint'
        for field in record.iter('field') if field.get('name') == 'code'}
