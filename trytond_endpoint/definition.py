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
AUTH_MODES = ('public', 'user', 'application')


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
    # HTTP beyond the routes: rate limits, CORS, caching, deprecation
    # (dates as ISO text).
    rate_limit: int | None = None
    rate_period: int | None = None
    cors_origins: str | None = None
    allow_null_origin: bool = False
    cache_max_age: int | None = None
    deprecation: str | None = None
    sunset: str | None = None

    def to_dict(self):
        # Every value is a scalar: no deep copy (asdict) needed.  Fields
        # added later are left out at their default, so what was
        # published before them still reads as live.
        return {name: getattr(self, name) for name in _NAMES
            if name not in _OPTIONAL or getattr(self, name) != _OPTIONAL[name]}

    @classmethod
    def from_dict(cls, values):
        return cls(**{k: v for k, v in values.items() if k in _NAMES})


_NAMES = tuple(f.name for f in fields(Definition))
_OPTIONAL = {
    'rate_limit': None, 'rate_period': None, 'cors_origins': None,
    'allow_null_origin': False, 'cache_max_age': None, 'deprecation': None,
    'sunset': None,
    }
