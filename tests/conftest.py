# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What the whole suite shares: the ``backend_free`` mark and the copies
of activated databases.

``backend_free`` marks the tests that never touch a database (the engine,
and unit tests of the module's helpers): they run the same on any
backend, so ``tests/run.py`` runs them in the SQLite pass only.

With ``DB_CACHE`` set (``tests/run.py`` sets it for each pass), trytond's
test cases copy the database a first activation made instead of
activating the modules again for every test case.
"""
import os
import secrets

import pytest

# Files whose every test is backend free, and the test cases of the other
# files that are: (file name, class name or None for the whole file).
BACKEND_FREE = {
    ('test_contracts.py', None),
    ('test_routing.py', None),
    ('test_sandbox.py', None),
    ('test_openapi.py', None),
    ('test_problem_client.py', None),
    ('test_isolation.py', None),
    ('test_conformance_pglog.py', None),
    ('test_aliases.py', 'AliasRuleTestCase'),
    ('test_headers.py', 'HeaderValuesTestCase'),
    ('test_hostile.py', 'BodyTestCase'),
    ('test_hostile.py', 'HeaderTestCase'),
    ('test_hostile.py', 'GuardTestCase'),
    # Classifies both drivers' errors whatever the backend
    ('test_pipeline.py', 'DatabaseFailureTestCase'),
    ('test_ratelimit.py', 'QuotaTestCase'),
    ('test_request_id.py', 'AcceptTestCase'),
    ('test_signature.py', 'SchemeTestCase'),
    ('test_statistics.py', 'BufferTestCase'),
    ('test_token.py', 'VerifyTestCase'),
    ('test_token.py', 'SlowJWKSTestCase'),
    ('test_xlsx.py', 'WriterTestCase'),
    }


def pytest_configure(config):
    config.addinivalue_line('markers', 'backend_free: touches no database, '
        'runs the same on every backend (tests/conftest.py)')
    if os.environ.get('DB_CACHE'):
        _restore_with_fresh_version()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _backend_free(item):
            item.add_marker(pytest.mark.backend_free)


def _backend_free(item):
    name = item.path.name
    cls = getattr(item, 'cls', None)
    if ((name, None) not in BACKEND_FREE
            and (name, cls and cls.__name__) not in BACKEND_FREE):
        return False
    from trytond.tests.test_tryton import DBTestCase
    if cls is not None and issubclass(cls, DBTestCase):
        raise pytest.UsageError(
            f"{item.nodeid} uses a database: it is not backend free")
    return True


def _restore_with_fresh_version():
    """A copied database starts its registry at a version of its own, as
    an activation does (``endpoint.registry.__register__``): the maps the
    process built for the test case before, under the same database name,
    are never met again."""
    # tools: the proteus scenarios' activate_modules
    from trytond.tests import test_tryton, tools
    restore = test_tryton.restore_db_cache

    def restore_db_cache(name):
        restored = restore(name)
        if restored:
            _new_registry_version(test_tryton.DB_NAME)
        return restored
    test_tryton.restore_db_cache = tools.restore_db_cache = restore_db_cache


def _new_registry_version(database):
    from trytond.transaction import Transaction
    with Transaction().start(database, 0) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute('UPDATE "endpoint_registry" SET "version" = %s'
            % secrets.randbelow(2 ** 30))
        transaction.commit()
