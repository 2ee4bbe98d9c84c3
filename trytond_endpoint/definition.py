"""What the engine knows of one endpoint record."""
from dataclasses import dataclass, fields

METHODS = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
BODY_METHODS = frozenset({'POST', 'PUT', 'PATCH'})
CONTENT_TYPES = (
    'application/json',
    'application/xml',
    'text/plain',
    'text/csv',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
    )
AUTH_MODES = ('public', 'user', 'application', 'signature', 'token')


@dataclass(frozen=True)
class Definition:
    """An endpoint as published: plain values, no ORM."""
    id: int
    name: str
    route: str
    method: str = 'GET'
    content_type: str | None = None
    auth: str = 'public'
    exec_user: int | None = None
    request_schema: str | None = None
    query_schema: str | None = None
    response_schema: str | None = None
    code: str = ''
    group: str | None = None
    description: str | None = None
    documented: bool = True
    active: bool = True
    max_body_size: int | None = None
    timeout: float | None = None
    # Fields below this line were added after the first release: left out
    # of the published text while they hold their default (to_dict).
    # More routes, one per line (see routes())
    aliases: str | None = None
    # auth 'signature' (http/signature.py) and 'token' (http/jwt_token.py)
    signature_scheme: str | None = None
    signature_secret: str | None = None
    signature_header: str | None = None
    signature_algorithm: str | None = None
    signature_encoding: str | None = None
    signature_timestamp_header: str | None = None
    signature_tolerance: int | None = None
    token_scopes: str | None = None
    # HTTP beyond the routes: rate limits, CORS, caching, deprecation
    # (dates as ISO text).
    rate_limit: int | None = None
    rate_period: int | None = None
    cors_origins: str | None = None
    allow_null_origin: bool = False
    cache_max_age: int | None = None
    deprecation: str | None = None
    sunset: str | None = None
    # Idempotency-Key honoured (idempotency.py)
    idempotent: bool = False

    def routes(self):
        "The route, then each alias: every rule the endpoint is served at"
        return [self.route, *alias_lines(self.aliases)]

    def to_dict(self):
        # Every value is a scalar: no deep copy (asdict) needed.
        values = {name: getattr(self, name) for name in _NAMES}
        for name, default in _ADDED_LATER:
            # At their default they are left out: what was published
            # before they existed is still the same definition, still live.
            if values[name] in (default, ''):
                del values[name]
        return values

    @classmethod
    def from_dict(cls, values):
        return cls(**{k: v for k, v in values.items() if k in _NAMES})


def alias_lines(text):
    "The aliases of a text field: one rule a line, blank lines ignored"
    return [line.strip() for line in (text or '').splitlines()
        if line.strip()]


_NAMES = tuple(f.name for f in fields(Definition))
_ADDED_LATER = tuple((f.name, f.default) for f in fields(Definition)
    if _NAMES.index(f.name) >= _NAMES.index('aliases'))
