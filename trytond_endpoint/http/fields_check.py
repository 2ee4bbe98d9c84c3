"""What makes an endpoint's rate limit, CORS, caching and deprecation
fields unservable."""
import datetime as dt

from .cors import parse_origins

__all__ = ['check_http_fields']


def check_http_fields(definition):
    "``[(field, message)]``, like ``compiled.check_definition``"
    errors = []
    limit, period = definition.rate_limit, definition.rate_period
    if limit is not None and limit <= 0:
        errors.append(('rate_limit', "The rate limit must be positive."))
    if period is not None and period <= 0:
        errors.append(('rate_period', "The rate period must be positive."))
    if (limit is None) != (period is None):
        errors.append(('rate_period' if limit else 'rate_limit',
                "A rate limit needs both a number of requests and a "
                "period."))
    try:
        origins = parse_origins(definition.cors_origins)
    except ValueError as exception:
        errors.append(('cors_origins', str(exception)))
    else:
        if origins.any and definition.auth != 'public':
            # A browser sends no credentials to "*": only an endpoint
            # that needs none can be opened to every site.
            errors.append(('cors_origins',
                    "Only a public endpoint can allow every origin (*)."))
    if definition.cache_max_age is not None and definition.cache_max_age < 0:
        errors.append(('cache_max_age',
                "The cache age can not be negative."))
    try:
        deprecation = _date(definition.deprecation)
        sunset = _date(definition.sunset)
    except ValueError:
        errors.append(('deprecation', "Not a date."))
    else:
        if deprecation and sunset and sunset < deprecation:
            errors.append(('sunset',
                    "The sunset can not come before the deprecation."))
    return errors


def _date(text):
    return dt.date.fromisoformat(text) if text else None
