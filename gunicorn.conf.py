# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""gunicorn's configuration for serving Tryton with endpoints in production.

    TRYTOND_CONFIG=trytond.conf TRYTOND_DATABASE_NAMES=mydb \\
        gunicorn -c gunicorn.conf.py

Threaded workers: a client that sends its request slowly, or announces
more body than it sends, holds one thread of a worker, not the worker
(``[endpoint] body_timeout`` bounds how long), and the other threads keep
serving. See doc/configuration.rst.
"""
import os

wsgi_app = 'trytond.application:app'
bind = os.environ.get('GUNICORN_BIND', '127.0.0.1:8000')
workers = int(os.environ.get('WEB_CONCURRENCY', '2'))
worker_class = 'gthread'
threads = 4
# A worker whose threads are all held in C (or by a snippet past its
# budget) is replaced after this long.
timeout = 60
graceful_timeout = 5
keepalive = 5
# gunicorn's defaults, written out: a request line, header and header
# count past these is refused before the application runs.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
