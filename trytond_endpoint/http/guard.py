"""The mount's guard: a WSGI middleware in front of Tryton's application,
for the mount's paths only.

Tryton's application decides some things before any route runs, and
answers them in HTML or not at all: a foreign ``Origin`` or ``Origin:
null`` aborts outside its error handling (a 500 page; the guard keeps
such an origin for the endpoint to decide, see :mod:`.cors`), a ``Host`` header
that is no host name fails in the routing (a 500 page), and its request
log line (``Request.__repr__``) parses a JSON or XML body, up to the
route's size limit, even for a request that is refused. The guard answers
the first ones as problem+json and keeps the body stream for the mount's
own reader (:func:`.body.read_body`), so a request refused for its
credentials, path, method, type or size is refused before a byte of its
body is read, at any log level.
"""
import io
import logging
import re
import urllib.parse

from ..problem import Problem
from .body import INPUT_KEY, declared_length
from .cors import ORIGIN_KEY
from .credentials import check_credentials

logger = logging.getLogger(__name__)

# A host name or address with an optional port (RFC 3986 reg-name,
# IPv4, [IPv6]); DNS names are at most 253 characters.
HOST = re.compile(r'(?:[A-Za-z0-9._~-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])'
    r'(?::[0-9]{1,5})?')


class MountGuard:
    """Wrap ``app`` (a WSGI application) for paths ``/<db>/<prefix>/…``.

    ``cors()`` gives the origins allowed besides the request's own host
    (Tryton's ``[web] cors``, read at each request as Tryton does);
    ``proxies`` is Tryton's ``[web] num_proxies``: the host the client
    asked for is then the one the proxies forwarded.
    """

    def __init__(self, app, prefix, cors=tuple, proxies=0):
        self.app = app
        self.mount = re.compile(r'/[^/]+/' + re.escape(prefix) + r'(?:/|\Z)')
        self.cors = cors
        self.proxies = proxies

    def __call__(self, environ, start_response):
        if not self.mount.match(environ.get('PATH_INFO', '')):
            return self.app(environ, start_response)
        try:
            self.check(environ)
        except Problem as problem:
            logger.info("Refused %s %s: %s", environ.get('REQUEST_METHOD'),
                _quote(environ.get('PATH_INFO', '')), problem.detail)
            return problem.response()(environ, start_response)
        # Only the mount's reader gets the body: anything else that reads
        # the request's stream (Tryton's log line) finds it empty.
        environ[INPUT_KEY] = environ.get('wsgi.input')
        environ['wsgi.input'] = io.BytesIO()
        return self.app(environ, start_response)

    def check(self, environ):
        host = self.host(environ)
        # HTTP/1.0 requests may have none: the server's name is used.
        if host is not None and not HOST.fullmatch(host):
            raise Problem(400, "The Host header is not a host name.",
                errors=[{'header': 'Host', 'detail': "not a host name"}])
        self.check_origin(environ, host)
        declared_length(environ)
        check_credentials(environ)

    def host(self, environ):
        host = environ.get('HTTP_HOST')
        if self.proxies:
            forwarded = environ.get('HTTP_X_FORWARDED_HOST', '').split(',')
            if len(forwarded) >= self.proxies and forwarded[-self.proxies]:
                host = forwarded[-self.proxies].strip()
        return host

    def check_origin(self, environ, host):
        """An origin Tryton allows is left to Tryton; any other is kept
        aside (:data:`.cors.ORIGIN_KEY`) for the endpoint to decide, and
        hidden from Tryton's application, which would refuse it."""
        origin = environ.get('HTTP_ORIGIN')
        if not origin:
            return
        if origin.startswith(('moz-extension://', 'chrome-extension://')):
            # As Tryton: an extension is no site.
            origin = 'null'
        elif origin != 'null':
            if origin in self.cors():
                return
            try:
                origin_host = urllib.parse.urlsplit(origin).netloc
            except ValueError:
                origin_host = None
            if origin_host == host:
                return
        environ[ORIGIN_KEY] = origin
        del environ['HTTP_ORIGIN']


def _quote(text):
    return repr(text[:200])
