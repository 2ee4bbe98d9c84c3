"""Content types: parsing the header, matching media types, decoding text."""
import codecs

from werkzeug.http import parse_options_header

from .problem import Problem

JSON = 'json'
XML = 'xml'
FORM = 'form'
TEXT = 'text'
BINARY = 'binary'

# Media types that are the same thing under another name (RFC 7303 makes
# text/xml an alias of application/xml).
_ALIASES = {
    'text/xml': 'application/xml',
    'text/json': 'application/json',
    }
_FORMS = frozenset({
        'application/x-www-form-urlencoded', 'multipart/form-data'})


def parse_content_type(value):
    """Split a Content-Type header into its media type and parameters.

    The media type and the parameter names are lower-cased (both are
    case-insensitive, RFC 9110), the parameter values are kept as sent.
    """
    if not value:
        return '', {}
    mimetype, params = parse_options_header(value.strip())
    return (mimetype.strip().lower(),
        {k.lower(): v for k, v in params.items()})


def _canonical(mimetype):
    mimetype = (mimetype or '').strip().lower()
    mimetype = _ALIASES.get(mimetype, mimetype)
    # Structured syntax suffixes (RFC 6839): application/merge-patch+json
    # is JSON to any JSON consumer.
    _, _, subtype = mimetype.partition('/')
    if '+' in subtype:
        suffix = subtype.rsplit('+', 1)[1]
        if suffix in ('json', 'xml'):
            return 'application/' + suffix
    return mimetype


def media_type_matches(actual, expected):
    """Whether a request's media type is acceptable for an endpoint's.

    Both may be full header values (parameters are ignored). ``expected``
    may use wildcards (``*/*``, ``text/*``). ``text/xml`` is
    ``application/xml`` and ``+json``/``+xml`` suffixes match their base.
    """
    actual = _canonical(parse_content_type(actual)[0])
    expected = _canonical(parse_content_type(expected)[0])
    if not actual or not expected:
        return False
    if expected in ('*', '*/*'):
        return True
    if expected.endswith('/*'):
        return actual.split('/', 1)[0] == expected[:-2]
    return actual == expected


def body_family(mimetype):
    """How a body of this media type is decoded: JSON, XML, FORM, TEXT or
    BINARY."""
    mimetype = _canonical(mimetype)
    if mimetype == 'application/json':
        return JSON
    if mimetype == 'application/xml':
        return XML
    if mimetype in _FORMS:
        return FORM
    if mimetype.startswith('text/'):
        return TEXT
    return BINARY


def charset_of(params, default='utf-8'):
    """The codec named by the charset parameter; 400 if Python has none."""
    charset = (params or {}).get('charset') or default
    try:
        codec = codecs.lookup(charset.strip())
    except LookupError:
        raise Problem(400, detail=f'unknown charset "{charset}"')
    # base64, rot13, zlib, hex, uu are codecs too, but of bytes to bytes.
    if not codec._is_text_encoding:
        raise Problem(400, detail=(
                f'charset "{charset}" is not a text encoding'))
    return codec.name


def decode_text(data, params, default='utf-8'):
    """Decode ``data`` with the charset parameter; 400 when it does not
    decode, so no replacement character silently enters the database."""
    codec = charset_of(params, default)
    if codec == 'utf-8':
        # A BOM is no content (RFC 8259 lets parsers ignore it).
        codec = 'utf-8-sig'
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        name = 'UTF-8' if codec == 'utf-8-sig' else codec
        raise Problem(400, detail=(
                f'body is not valid {name} '
                f'(byte offset {exc.start})'))
