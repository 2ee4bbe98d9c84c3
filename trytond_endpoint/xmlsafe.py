"""XML bodies and XSD contracts, parsed so that nothing can reach out.

Any DOCTYPE is refused before parsing: without a DTD there is no entity
to expand (billion laughs) and none to fetch (XXE). The parser itself is
hardened as well (no entity resolution, no network, no DTD loading) and
its resolvers refuse every URL, so even a bypass of the first check reads
no file and opens no connection.
"""
import re
import threading

from lxml import etree

from .jsonschemas import SchemaError
from .problem import Problem

XML_DEPTH_LIMIT = 256
XML_ELEMENT_LIMIT = 100_000
XSD_NAMESPACE = 'http://www.w3.org/2001/XMLSchema'
# Inclusions of other schema documents: each would be a file or URL read.
_XSD_INCLUSIONS = frozenset({'include', 'import', 'redefine', 'override'})
_ENCODING_DECLARATION = re.compile(
    r'''\A(\s*<\?xml\b[^>]*?)\s+encoding\s*=\s*(["'])[^"']*\2''')
_MAX_PATH = 512
_POSITION_SUFFIX = re.compile(r',\s*line \d+,\s*column \d+\s*$')


class _RefuseResolver(etree.Resolver):
    """Answer every external reference with an empty document, so it
    fails to parse. (Raising would leave the exception stored in the
    parser, to surface in a later, unrelated parse.)"""

    def resolve(self, url, pubid, context):
        return self.resolve_string('', context)


_local = threading.local()


def _new_parser():
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False,
        dtd_validation=False, huge_tree=False, collect_ids=False,
        remove_comments=True, remove_pis=True)
    parser.resolvers.add(_RefuseResolver())
    return parser


def _parser():
    # lxml parsers must not be used by two threads at once: one per thread,
    # built once.
    parser = getattr(_local, 'parser', None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _as_scannable(data):
    """The document in a form whose ASCII markup can be searched: the
    bytes themselves, or text for the UTF-16/32 encodings."""
    head = data[:4]
    for marks, codec in (
            ((b'\x00\x00\xfe\xff', b'\xff\xfe\x00\x00',
                    b'\x00\x00\x00<', b'<\x00\x00\x00'), 'utf-32'),
            ((b'\xfe\xff', b'\xff\xfe'), 'utf-16'),
            ((b'\x00<',), 'utf-16-be'),
            ((b'<\x00',), 'utf-16-le')):
        if any(head.startswith(mark) for mark in marks):
            if codec == 'utf-32' and head[:1] == b'<':
                codec = 'utf-32-le'
            elif codec == 'utf-32' and head[:1] == b'\x00' and head[3:] == b'<':
                codec = 'utf-32-be'
            return data.decode(codec, 'replace')
    return data


def has_doctype(data):
    """Whether the prolog of the document declares a DOCTYPE.

    Walks the prolog (declaration, comments, processing instructions,
    space) in linear time, without a backtracking expression.
    """
    text = _as_scannable(data)
    if isinstance(text, bytes):
        lit = str.encode
        text = text.removeprefix(b'\xef\xbb\xbf')
    else:
        lit = str
        text = text.removeprefix('\ufeff')
    spaces = tuple(lit(c) for c in ' \t\r\n')
    pi, comment, doctype = lit('<?'), lit('<!--'), lit('<!DOCTYPE')
    pos, size = 0, len(text)
    while pos < size:
        if text[pos:pos + 1] in spaces:
            pos += 1
        elif text.startswith(pi, pos):
            end = text.find(lit('?>'), pos + 2)
            if end < 0:
                return False
            pos = end + 2
        elif text.startswith(comment, pos):
            end = text.find(lit('-->'), pos + 4)
            if end < 0:
                return False
            pos = end + 3
        else:
            return text.startswith(doctype, pos)
    return False


def _message(text):
    # libxml2 messages end with the position, already given separately.
    return _POSITION_SUFFIX.sub('', str(text)).strip()


def _has_dtd(root):
    docinfo = root.getroottree().docinfo
    return bool(docinfo.doctype or docinfo.internalDTD is not None
        or docinfo.externalDTD is not None)


def _refuse_doctype():
    return Problem(400, detail=(
            'XML documents with a DOCTYPE are refused: '
            'DTDs and entity declarations are not allowed'))


def _depth_exceeds(root, limit):
    depth = 0
    for event, _ in etree.iterwalk(root, events=('start', 'end')):
        if event == 'start':
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def parse_xml(data):
    """The root element of a hardened parse of ``data``; Problem 400 for
    anything malformed, too big or carrying a DTD."""
    if has_doctype(data):
        raise _refuse_doctype()
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if 'Excessive depth' in str(exc.msg):
            raise Problem(400, detail=(
                    f'XML nested deeper than {XML_DEPTH_LIMIT} levels'))
        line, column = exc.position
        raise Problem(400, detail=(
                f'malformed XML at line {line}, column {column}: '
                f'{_message(exc.msg)}'))
    if _has_dtd(root):
        raise _refuse_doctype()
    # Every element starts with "<": fewer "<" than the limits decide
    # them without walking the tree.
    bound = data.count(b'<')
    if (bound > XML_ELEMENT_LIMIT
            and sum(1 for _ in root.iter()) > XML_ELEMENT_LIMIT):
        raise Problem(400, detail=(
                f'XML document has more than {XML_ELEMENT_LIMIT} elements'))
    if bound > XML_DEPTH_LIMIT and _depth_exceeds(root, XML_DEPTH_LIMIT):
        raise Problem(400, detail=(
                f'XML nested deeper than {XML_DEPTH_LIMIT} levels'))
    return root


# -- XSD -------------------------------------------------------------------

class XsdContract:
    """A compiled XSD. Validation is thread-safe: the schema is read-only
    in libxml2, and the error log, which lxml keeps on the validator, is
    read under a lock."""

    kind = 'xml'

    def __init__(self, text):
        # lxml refuses str with an encoding declaration: the text is
        # already decoded, so the declaration is dropped and UTF-8 used.
        text = _ENCODING_DECLARATION.sub(r'\1', text, count=1)
        # Text loaded from XML data starts with the indentation before
        # the schema, where an XML declaration is not allowed; lines stay
        # counted from the start of the field.
        stripped = text.lstrip()
        skipped = text[:len(text) - len(stripped)].count('\n')
        data = stripped.encode('utf-8')
        if has_doctype(data):
            raise SchemaError(
                'a DOCTYPE is not allowed in an XSD', line=skipped + 1)
        try:
            # A parser of its own: the schema keeps a reference to it.
            document = etree.fromstring(data, _new_parser())
        except etree.XMLSyntaxError as exc:
            raise SchemaError(
                f'malformed XSD: {_message(exc.msg)}',
                line=exc.lineno + skipped)
        if _has_dtd(document):
            raise SchemaError(
                'a DOCTYPE is not allowed in an XSD', line=skipped + 1)
        if etree.QName(document).text != f'{{{XSD_NAMESPACE}}}schema':
            raise SchemaError(
                'an XSD must have xs:schema as its root element',
                line=skipped + 1)
        for element in document.iter(f'{{{XSD_NAMESPACE}}}*'):
            name = etree.QName(element).localname
            if name in _XSD_INCLUSIONS and (
                    name != 'import' or element.get('schemaLocation')):
                raise SchemaError(
                    f'xs:{name} of another schema document is not allowed: '
                    'the XSD must be self-contained',
                    line=element.sourceline + skipped)
        try:
            self.schema = etree.XMLSchema(document)
        except etree.XMLSchemaParseError as exc:
            entry = exc.error_log.last_error
            raise SchemaError(
                f'invalid XSD: {entry.message if entry else exc}',
                line=entry.line + skipped if entry else None)
        self._lock = threading.Lock()

    def errors(self, root):
        """Every violation as {line, column, path, pointer, detail}."""
        with self._lock:
            if self.schema.validate(root.getroottree()):
                return []
            log = self.schema.error_log
        tree = root.getroottree()
        errors = []
        for entry in log:
            path = _readable_path(tree, entry.path)
            errors.append({
                    'line': entry.line,
                    'column': entry.column,
                    'path': path,
                    'pointer': path,
                    'detail': entry.message.strip(),
                    })
        return errors


def _readable_path(tree, path):
    """libxml2's path of an error, with local names instead of the
    ``/*[2]`` it writes for elements of a default namespace."""
    if not path or '*' not in path and ':' not in path:
        return path or ''
    namespaces = {k: v for k, v in tree.getroot().nsmap.items() if k}
    try:
        found = tree.xpath(path, namespaces=namespaces)
    except etree.XPathError:
        return path
    if len(found) != 1 or not isinstance(found[0], etree._Element):
        return path
    parts = []
    element = found[0]
    while element is not None:
        name = etree.QName(element).localname
        parent = element.getparent()
        if parent is not None:
            same = [e for e in parent if isinstance(e.tag, str)
                and etree.QName(e).localname == name]
            if len(same) > 1:
                name += f'[{same.index(element) + 1}]'
        parts.append(name)
        element = parent
    return '/' + '/'.join(reversed(parts))


# -- read-only view ------------------------------------------------------

class XmlElement:
    """A read-only view of a parsed XML element.

    It offers the reading part of the ElementTree API and nothing that
    leads to the parser, the document, resolvers or lxml objects: the
    wrapped element sits in a slot whose attribute name is removed from
    the class below, so no attribute lookup can reach it.
    """

    __slots__ = ('_XmlElement__element',)

    def __init__(self, *args, **kwargs):
        raise TypeError('XmlElement cannot be created')

    def __setattr__(self, name, value):
        raise AttributeError('XML elements are read-only')

    def __delattr__(self, name):
        raise AttributeError('XML elements are read-only')

    def __repr__(self):
        return f'<XmlElement {self.tag}>'

    def __bool__(self):
        # ElementTree's "false when childless" is a classic trap in
        # ``if element.find(...)``.
        return True

    def __len__(self):
        return sum(1 for _ in self)

    def __iter__(self):
        for child in _element(self):
            if isinstance(child.tag, str):
                yield _wrap(child)

    def __getitem__(self, index):
        children = list(self)
        return children[index]

    @property
    def tag(self):
        """The tag, ``{namespace}name`` when namespaced."""
        return _element(self).tag

    @property
    def localname(self):
        return etree.QName(_element(self)).localname

    @property
    def namespace(self):
        return etree.QName(_element(self)).namespace

    @property
    def text(self):
        return _element(self).text

    @property
    def tail(self):
        return _element(self).tail

    @property
    def attrib(self):
        """A copy of the attributes."""
        return dict(_element(self).attrib)

    @property
    def sourceline(self):
        return _element(self).sourceline

    def get(self, key, default=None):
        return _element(self).get(key, default)

    def keys(self):
        return list(_element(self).keys())

    def items(self):
        return list(_element(self).items())

    def find(self, path, namespaces=None):
        found = _element(self).find(*_path_args(path, namespaces))
        return _wrap(found) if found is not None else None

    def findall(self, path, namespaces=None):
        return [_wrap(e) for e in _element(self).findall(
                *_path_args(path, namespaces)) if isinstance(e.tag, str)]

    def findtext(self, path, default=None, namespaces=None):
        path, namespaces = _path_args(path, namespaces)
        return _element(self).findtext(path, default, namespaces)

    def iter(self, tag=None):
        """This element and its descendants, optionally of one tag."""
        if tag is not None and not isinstance(tag, str):
            raise TypeError('tag must be a string')
        for element in _element(self).iter(tag):
            if isinstance(element.tag, str):
                yield _wrap(element)

    def itertext(self):
        return iter(list(_element(self).itertext()))


_slot = XmlElement.__dict__['_XmlElement__element']
_element = _slot.__get__
_set_element = _slot.__set__
del XmlElement._XmlElement__element
del _slot


def _wrap(element):
    view = object.__new__(XmlElement)
    _set_element(view, element)
    return view


def _path_args(path, namespaces):
    if not isinstance(path, str) or len(path) > _MAX_PATH:
        raise ValueError('path must be a short string')
    if namespaces is not None:
        namespaces = {str(k) if k is not None else None: str(v)
            for k, v in dict(namespaces).items()}
    return path, namespaces


def element_view(root):
    """The read-only view of a parsed root element."""
    return _wrap(root)
