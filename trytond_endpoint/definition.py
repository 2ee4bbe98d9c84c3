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
    idempotent: bool = False

    def to_dict(self):
        # Every value is a scalar: no deep copy (asdict) needed.
        return {name: getattr(self, name) for name in _NAMES}

    @classmethod
    def from_dict(cls, values):
        return cls(**{k: v for k, v in values.items() if k in _NAMES})


_NAMES = tuple(f.name for f in fields(Definition))
