"""The syntax of an entity tag (RFC 9110, 8.8.3), with no import a
sandbox could not afford: snippets' ``Response(..., etag=...)`` checks
its tag here."""
import re

__all__ = ['check_etag']

# Optional weakness, then etagc between quotes.
_ETAG = re.compile(r'(W/)?"[\x21\x23-\x7e\x80-\xff]*"\Z')


def check_etag(value):
    "The ETag of a snippet's answer, quoted; ValueError when malformed"
    if not isinstance(value, str):
        raise ValueError('The ETag must be text.')
    if _ETAG.match(value):
        return value
    quoted = f'"{value}"'
    if not _ETAG.match(quoted):
        raise ValueError('The ETag holds a quote, a space or a control '
            'character.')
    return quoted
