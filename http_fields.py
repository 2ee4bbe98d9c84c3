# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The endpoint's fields for HTTP beyond its route: rate limit, CORS,
caching by others, deprecation."""
from trytond.model import fields
from trytond.pyson import Bool, Eval

__all__ = ['HTTP_FIELDS', 'HttpFieldsMixin']

HTTP_FIELDS = ['rate_limit', 'rate_period', 'cors_origins',
    'allow_null_origin', 'cache_max_age', 'deprecation', 'sunset']


class HttpFieldsMixin:
    __slots__ = ()

    rate_limit = fields.Integer(
        "Rate Limit",
        domain=['OR',
            ('rate_limit', '=', None),
            ('rate_limit', '>', 0),
            ],
        help="Requests a caller may make per period; "
        "no limit when empty.\n"
        "Counted per application key, per user, or per client address "
        "for public endpoints, by every server.")
    rate_period = fields.Integer(
        "Rate Period",
        domain=['OR',
            ('rate_period', '=', None),
            ('rate_period', '>', 0),
            ],
        states={
            'required': Bool(Eval('rate_limit')),
            },
        help="In seconds.")
    cors_origins = fields.Text(
        "CORS Origins",
        help="Web sites whose scripts may call the endpoint, "
        "one origin a line (https://shop.example), "
        "or * for every site (public endpoints only).\n"
        "The origins of the [web] cors configuration are always allowed.")
    allow_null_origin = fields.Boolean(
        "Allow Null Origin",
        help="Answer scripts of pages without an origin "
        "(local files, sandboxed frames, browser extensions).")
    cache_max_age = fields.Integer(
        "Cache Max Age",
        domain=['OR',
            ('cache_max_age', '=', None),
            ('cache_max_age', '>=', 0),
            ],
        help="Seconds that browsers and proxies may keep a successful "
        "GET answer (Cache-Control); "
        "shared caches only for public endpoints.")
    deprecation = fields.Date(
        "Deprecation",
        help="From when the endpoint is deprecated (Deprecation header, "
        "and marked so in the OpenAPI document).")
    sunset = fields.Date(
        "Sunset",
        domain=['OR',
            ('sunset', '=', None),
            ('deprecation', '=', None),
            ('sunset', '>=', Eval('deprecation', None)),
            ],
        help="When the endpoint is expected to stop answering "
        "(Sunset header).")

    @staticmethod
    def default_allow_null_origin():
        return False
