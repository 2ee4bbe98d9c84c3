"""Headers an endpoint's record adds to its answers: rate limit
(IETF httpapi RateLimit headers), caching by others (``Cache-Control``),
deprecation (RFC 9745 ``Deprecation``) and sunset (RFC 8594 ``Sunset``)."""
import calendar
import datetime as dt
import math
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache

__all__ = ['Quota', 'quota_headers', 'cache_control', 'lifecycle_headers',
    'POLICY']

# The name of the one policy each endpoint has.
POLICY = 'endpoint'


@dataclass(frozen=True, slots=True)
class Quota:
    "One caller's window: its limit, period, requests counted, seconds left"
    limit: int
    period: int
    hits: int
    reset: float

    @property
    def exceeded(self):
        return self.hits > self.limit

    @property
    def retry_after(self):
        return max(math.ceil(self.reset), 1)


def quota_headers(quota):
    "``RateLimit-Policy`` and ``RateLimit`` of the caller's quota"
    return {
        'RateLimit-Policy': _policy(quota.limit, quota.period),
        'RateLimit': f'"{POLICY}";r={max(quota.limit - quota.hits, 0)};'
        f't={max(math.ceil(quota.reset), 0)}',
        }


@lru_cache(maxsize=256)
def _policy(limit, period):
    return f'"{POLICY}";q={limit};w={period}'


def cache_control(definition):
    "The ``Cache-Control`` of a successful GET answer, or None"
    if definition.cache_max_age is None:
        return None
    scope = 'public' if definition.auth == 'public' else 'private'
    return f'{scope}, max-age={definition.cache_max_age}'


@lru_cache(maxsize=1024)
def lifecycle_headers(deprecation, sunset):
    """``Deprecation`` (a structured date: ``@`` and seconds) and
    ``Sunset`` (an HTTP date) of ISO dates, each at midnight UTC"""
    headers = {}
    if deprecation:
        headers['Deprecation'] = f'@{_epoch(deprecation)}'
    if sunset:
        headers['Sunset'] = formatdate(_epoch(sunset), usegmt=True)
    return headers


def _epoch(iso_date):
    return calendar.timegm(dt.date.fromisoformat(iso_date).timetuple())
