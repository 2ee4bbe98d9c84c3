"""Conditional requests (RFC 9110, section 13): entity tags, ``304`` and
``412``, without the ORM.

A record's entity tag has two parts, ``"<version>-<representation>"``:
the version is drawn from the record's Tryton timestamp alone, the
representation from what the answer was built with (fields, format,
language, usages…). ``If-None-Match`` compares the whole tag (the same
representation of the same version); ``If-Match`` on a write compares the
version part only, so the tag of any representation the client read
proves it saw the current record.
"""
import hashlib

from werkzeug.http import parse_etags
from werkzeug.wrappers import Response

from trytond_endpoint.http.etag import check_etag

__all__ = ['entity_tag', 'record_version', 'record_tag', 'tag_version',
    'check_etag', 'none_match', 'if_match', 'not_modified',
    'not_modified_response']

# Kept by a 304: what a 200 would have said of caching and validators
# (RFC 9110, 15.4.5); the content's own headers are left out.
_DROPPED_BY_304 = frozenset({'content-type', 'content-length',
        'content-range', 'content-encoding', 'content-disposition',
        'transfer-encoding'})


def _digest(*parts, size=8):
    digest = hashlib.blake2b(digest_size=size)
    for part in parts:
        if not isinstance(part, (bytes, bytearray)):
            part = str(part).encode('utf-8', 'surrogatepass')
        digest.update(part)
        digest.update(b'\x1f')
    return digest.hexdigest()


def record_version(model, id_, timestamp):
    "The version part of a record's tag: its model, id and timestamp"
    return _digest(model, id_, timestamp)


def record_tag(version, *representation):
    "The strong entity tag of a representation of a record's version"
    return f'"{version}-{_digest(*representation, size=5)}"'


def entity_tag(*parts):
    "A strong entity tag of the parts (a collection, a content)"
    return f'"{_digest(*parts, size=10)}"'


def tag_version(tag):
    "The version part of a record's tag, or None for another tag"
    opaque = tag.strip('"')
    version, dash, _ = opaque.partition('-')
    return version if dash else None


def none_match(environ, tag):
    "Whether ``If-None-Match`` names tag (weak comparison)"
    header = environ.get('HTTP_IF_NONE_MATCH')
    if not header or not tag:
        return False
    etags = parse_etags(header)
    return etags.star_tag or etags.contains_weak(_unquote(tag))


def if_match(environ, version):
    """Whether ``If-Match`` lets a write of the record at version through:
    True without the header, for ``*``, or for a tag of that version."""
    header = environ.get('HTTP_IF_MATCH')
    if header is None:
        return True
    etags = parse_etags(header)
    if etags.star_tag:
        return True
    # Strong comparison: a weak tag never matches (RFC 9110, 13.1.1).
    return any(tag_version(t) == version for t in etags)


def not_modified(environ, method, response):
    """The ``304`` for response when its ETag matches ``If-None-Match`` on
    a GET or HEAD, else response itself."""
    if (method not in {'GET', 'HEAD'} or response.status_code != 200
            or 'HTTP_IF_NONE_MATCH' not in environ):
        return response
    tag = response.headers.get('ETag')
    if not tag or not none_match(environ, tag):
        return response
    return not_modified_response(response.headers.items())


def not_modified_response(headers):
    "A 304 with the headers of the 200 it stands for, but the content's"
    answer = Response(status=304)
    for name, value in headers:
        if name.lower() not in _DROPPED_BY_304:
            answer.headers[name] = value
    answer.headers.pop('Content-Type', None)
    return answer


def _unquote(tag):
    if tag.startswith('W/'):
        tag = tag[2:]
    return tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag
