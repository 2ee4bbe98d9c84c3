"""What the conformance harnesses share: Tryton's own REST tests and
naiad's, unchanged, pointed at the seed REST endpoints of the mount.

The upstream suites exercise the built-in API on the only models module
``res`` has: users, groups, models and languages. The seed endpoints
refuse administration models to every key (DESIGN, "Seed REST
endpoints"), so a harness lifts that one refusal for exactly the models
those suites use, inside its own tests, to compare the wire behaviour;
``test_refusal_holds`` of each harness checks the refusal is back for
the same models outside.
"""
import sys
from contextlib import contextmanager
from unittest import mock

from trytond.pool import Pool

from .tools import make_key

# Models the upstream suites read and write; all but ir.lang are
# administration models.
UPSTREAM_MODELS = frozenset({'res.user', 'res.group', 'ir.model', 'ir.lang'})


def _admin_policy():
    "The module that decides which models are administration models"
    return sys.modules[_is_admin_model().__module__]


def _is_admin_model():
    "The function the seed REST asks, wherever the data policy keeps it"
    import importlib
    for name in ['policy', 'rest', 'snippet_pool']:
        try:
            module = importlib.import_module(f'trytond.modules.endpoint.{name}')
        except ImportError:
            continue
        if hasattr(module, 'is_admin_model'):
            return module.is_admin_model
    raise LookupError("No is_admin_model: adapt tests/conformance.py")


@contextmanager
def upstream_models_reachable():
    "The administration-model refusal lifted for UPSTREAM_MODELS only"
    module = _admin_policy()
    with mock.patch.object(
            module, '_ALLOWED', module._ALLOWED | UPSTREAM_MODELS):
        yield


def is_refused(name):
    return _is_admin_model()(name)


def endpoint_key(login='admin'):
    "A key of the ``endpoint`` application, in place of ``rest``"
    user, = Pool().get('res.user').search([('login', '=', login)])
    return make_key(user)


class MountPrefix:
    """WSGI middleware: the built-in's ``/<db>/rest/…`` paths sent to
    ``/<db>/api/rest/…``, the only change of base URL the suites need."""

    def __init__(self, app, db_name, prefix='/api'):
        self.app = app
        self.old = f'/{db_name}/rest/'
        self.new = f'/{db_name}{prefix}/rest/'

    def __call__(self, environ, start_response):
        # The werkzeug test client keeps the suites' relative paths as is.
        path = '/' + environ.get('PATH_INFO', '').lstrip('/')
        if path.startswith(self.old):
            environ = dict(environ,
                PATH_INFO=self.new + path[len(self.old):])
        return self.app(environ, start_response)


class CreatedAsBuiltin:
    """WSGI middleware: a create's 201 shown as the built-in's 200, once
    its ``Location`` is checked, so an upstream test can check the rest
    of the answer. ``seen`` keeps the Location headers checked."""

    def __init__(self, app):
        self.app = app
        self.seen = []

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            if (status.startswith('201 ')
                    and environ['REQUEST_METHOD'] == 'POST'):
                location = dict(headers).get('Location', '')
                path = '/' + environ['PATH_INFO'].lstrip('/')
                prefix, _, id_ = location.rpartition('/')
                if prefix != path.rstrip('/') or not id_.isdigit():
                    raise AssertionError(
                        f"201 without its Location: {location!r}")
                self.seen.append(location)
                status = '200 OK'
            return start_response(status, headers, exc_info)
        return self.app(environ, start)
