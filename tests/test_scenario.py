# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Runs the proteus scenarios ``scenario_*.rst`` of this folder."""
import doctest
import io
import unittest
from pathlib import Path

from trytond.tests.test_tryton import doctest_checker, doctest_setup, doctest_teardown

HERE = Path(__file__).parent
FLAGS = (doctest.REPORT_ONLY_FIRST_FAILURE | doctest.ELLIPSIS
    | doctest.IGNORE_EXCEPTION_DETAIL)


def load_tests(loader, tests, pattern):
    for path in sorted(HERE.glob('scenario_*.rst')):
        tests.addTests(doctest.DocFileSuite(
                str(path), module_relative=False, setUp=doctest_setup,
                tearDown=doctest_teardown, encoding='utf-8',
                checker=doctest_checker, optionflags=FLAGS))
    return tests


class ScenarioTestCase(unittest.TestCase):
    "One test per scenario, for runners that ignore load_tests"

    def run_scenario(self, name):
        suite = doctest.DocFileSuite(
            str(HERE / name), module_relative=False, setUp=doctest_setup,
            tearDown=doctest_teardown, encoding='utf-8',
            checker=doctest_checker, optionflags=FLAGS)
        stream = io.StringIO()
        result = unittest.TextTestRunner(stream=stream).run(suite)
        self.assertTrue(result.wasSuccessful(), stream.getvalue())

    def test_scenarios(self):
        "Every scenario passes"
        names = sorted(p.name for p in HERE.glob('scenario_*.rst'))
        self.assertIn('scenario_endpoint.rst', names)
        for name in names:
            with self.subTest(scenario=name):
                self.run_scenario(name)
