#!/usr/bin/env python3
# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from setuptools import setup

MODULE = 'endpoint'
PREFIX = 'trytond.modules.' + MODULE
DATA = ['tryton.cfg', 'view/*.xml', '*.xml', 'locale/*.po',
    'tests/*.rst', 'tests/*.json', 'tests/data/*']

setup(
    name='trytond_endpoint',
    version='8.2.0',
    description="Publish HTTP endpoints as Tryton records",
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='GPL-3.0-or-later',
    python_requires='>=3.10',
    packages=[PREFIX, PREFIX + '.pgtune', PREFIX + '.tests',
        'trytond_endpoint', 'trytond_endpoint.http'],
    package_dir={PREFIX: '.', PREFIX + '.tests': 'tests',
        'trytond_endpoint': 'trytond_endpoint'},
    package_data={PREFIX: DATA,
        'trytond_endpoint': ['static/*']},
    install_requires=[
        'trytond >= 8.2, < 8.3',
        'werkzeug',
        'jsonschema >= 4.18',
        'lxml',
        'PyYAML',
        'RestrictedPython >= 8.0',
        # The sandbox process's system call filter (binds libseccomp2)
        'pyseccomp',
        # Spreadsheets of collections (rest_formats, trytond_endpoint/xlsx.py)
        'XlsxWriter >= 3.0',
        # Access tokens of auth mode 'token' (JWT, JWKS)
        'PyJWT[crypto] >= 2.10',
        # Renders GET /<db>/api/metrics in Prometheus' text format
        'prometheus_client',
        ],
    extras_require={
        'test': ['proteus >= 8.2, < 8.3', 'trytond_party >= 8.2, < 8.3',
            'tryton-naiad >= 8.2, < 8.3', 'pytest', 'httpx', 'ruff',
            'openpyxl'],
        'postgresql': ['psycopg[binary] >= 3', 'psycopg-pool'],
        },
    entry_points={
        'trytond.modules': [f'{MODULE} = {PREFIX}'],
        },
    zip_safe=False,
    )
