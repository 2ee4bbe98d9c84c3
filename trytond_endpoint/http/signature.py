"""Signed webhooks: the schemes of the providers and a generic one.

No ORM here.  ``verify`` checks the signature of a raw body, in constant
time, and answers what identifies it for the replay check; ``sign`` makes
the headers a sender of the scheme would send (for the Test wizard).

Every refusal is the same ``SignatureRefused``, with no reason a caller
sees: telling a missing header from a bad digest or a stale timestamp
helps only who forges.
"""
import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

__all__ = ['SCHEMES', 'ALGORITHMS', 'ENCODINGS', 'DEFAULT_TOLERANCE',
    'Scheme', 'SignatureRefused', 'scheme_of', 'verify', 'sign']

SCHEMES = ('github', 'stripe', 'shopify', 'slack', 'generic')
ALGORITHMS = ('sha256', 'sha512')
ENCODINGS = ('hex', 'base64')
# Seconds a timestamped signature stays acceptable, either way.
DEFAULT_TOLERANCE = 300
# A header value longer than this is no signature of any scheme: refused
# before any work.
_MAX_HEADER = 4096
_clock = time.time


class SignatureRefused(Exception):
    "The request is not signed as the endpoint expects"


@dataclass(frozen=True)
class Scheme:
    """How one endpoint's sender signs.

    ``layout``: ``plain`` (the body), ``stripe`` (``t.body``, both in one
    header), ``slack`` (``v0:t:body``) or ``dotted`` (``t.body``, the
    timestamp in a header of its own).
    """
    header: str
    algorithm: str = 'sha256'
    encoding: str = 'hex'
    prefix: str = ''
    layout: str = 'plain'
    timestamp_header: str | None = None
    tolerance: int = DEFAULT_TOLERANCE
    # Whether the digest may come without its prefix (generic senders
    # write it alone or after "sha256=").
    bare: bool = False

    @property
    def timestamped(self):
        return self.layout != 'plain'


def scheme_of(definition):
    """The Scheme of a definition's ``signature_*`` values; ValueError
    names what is wrong with them"""
    name = definition.signature_scheme
    tolerance = definition.signature_tolerance or DEFAULT_TOLERANCE
    if tolerance < 0:
        raise ValueError("The tolerance must be a positive number of seconds.")
    if name == 'github':
        return Scheme('X-Hub-Signature-256', prefix='sha256=')
    if name == 'stripe':
        return Scheme('Stripe-Signature', layout='stripe',
            tolerance=tolerance)
    if name == 'shopify':
        return Scheme('X-Shopify-Hmac-Sha256', encoding='base64')
    if name == 'slack':
        return Scheme('X-Slack-Signature', prefix='v0=', layout='slack',
            timestamp_header='X-Slack-Request-Timestamp',
            tolerance=tolerance)
    if name == 'generic':
        header = (definition.signature_header or '').strip()
        if not header or not _is_token(header):
            raise ValueError("The generic scheme needs a header name.")
        algorithm = definition.signature_algorithm or 'sha256'
        if algorithm not in ALGORITHMS:
            raise ValueError(f"Unknown algorithm {algorithm!r}.")
        encoding = definition.signature_encoding or 'hex'
        if encoding not in ENCODINGS:
            raise ValueError(f"Unknown encoding {encoding!r}.")
        timestamp_header = (
            definition.signature_timestamp_header or '').strip() or None
        if timestamp_header and not _is_token(timestamp_header):
            raise ValueError("The timestamp header is not a header name.")
        return Scheme(header, algorithm=algorithm, encoding=encoding,
            prefix=f'{algorithm}=',
            layout='dotted' if timestamp_header else 'plain',
            timestamp_header=timestamp_header, tolerance=tolerance,
            bare=True)
    raise ValueError(f"Unknown signature scheme {name!r}.")


def _is_token(name):
    return name.isascii() and all(
        c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name)


def verify(scheme, secret, headers, body, now=None):
    """The replay token ``(timestamp, digest)`` of a valid signature
    (``timestamp`` None for a scheme without one); SignatureRefused else.

    headers: a mapping with case-insensitive ``get``.
    """
    if not secret:
        raise SignatureRefused
    key = secret.encode('utf-8')
    value = _header(headers, scheme.header)
    timestamp = None
    if scheme.layout == 'stripe':
        timestamp, signatures = _stripe_parts(value)
    else:
        signatures = [value]
        if scheme.timestamp_header:
            timestamp = _header(headers, scheme.timestamp_header)
    if scheme.timestamped:
        _check_time(timestamp, scheme.tolerance, now)
    expected = _digest(scheme, key, body, timestamp)
    matched = None
    for signature in signatures:
        given = _decode(scheme, signature)
        # Every candidate compared: no early exit tells which one matched.
        if given is not None and hmac.compare_digest(given, expected):
            matched = given
    if matched is None:
        raise SignatureRefused
    return (int(timestamp) if timestamp is not None else None,
        hashlib.sha256(matched).hexdigest())


def sign(scheme, secret, body, now=None):
    "The headers a sender of scheme sends with body"
    timestamp = None
    if scheme.timestamped:
        timestamp = str(int(now if now is not None else _clock()))
    digest = _digest(scheme, secret.encode('utf-8'), body, timestamp)
    encoded = (digest.hex() if scheme.encoding == 'hex'
        else base64.b64encode(digest).decode('ascii'))
    if scheme.layout == 'stripe':
        return {scheme.header: f't={timestamp},v1={encoded}'}
    headers = {scheme.header: scheme.prefix + encoded}
    if scheme.timestamp_header:
        headers[scheme.timestamp_header] = timestamp
    return headers


def _header(headers, name):
    value = headers.get(name)
    if not value or len(value) > _MAX_HEADER:
        raise SignatureRefused
    return value.strip()


def _stripe_parts(value):
    "``t=…,v1=…[,v1=…]``: several v1 while a secret is rolled over"
    timestamp = None
    signatures = []
    for item in value.split(','):
        name, _, item_value = item.strip().partition('=')
        if name == 't':
            if timestamp is not None:
                raise SignatureRefused
            timestamp = item_value
        elif name == 'v1':
            signatures.append(item_value)
    if timestamp is None or not signatures:
        raise SignatureRefused
    return timestamp, signatures


def _check_time(timestamp, tolerance, now):
    if (not timestamp or not timestamp.isascii() or not timestamp.isdigit()
            or len(timestamp) > 12):
        raise SignatureRefused
    if now is None:
        now = _clock()
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureRefused


def _digest(scheme, key, body, timestamp):
    if scheme.layout == 'plain':
        message = body
    elif scheme.layout == 'slack':
        message = b'v0:' + timestamp.encode('ascii') + b':' + body
    else:
        message = timestamp.encode('ascii') + b'.' + body
    return hmac.new(key, message, scheme.algorithm).digest()


def _decode(scheme, signature):
    "The digest's bytes a header value carries, None when it carries none"
    if scheme.prefix and signature.startswith(scheme.prefix):
        signature = signature[len(scheme.prefix):]
    elif scheme.prefix and not scheme.bare:
        return None
    try:
        if scheme.encoding == 'hex':
            return bytes.fromhex(signature)
        return base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return None
