# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""RFC 9457 problem answers as Python exceptions, for httpx consumers.

Plain Python: no Tryton, and httpx is only duck-typed (any response with
``status_code``, ``headers``, ``read()`` and ``json()`` will do)::

    import httpx
    from trytond_endpoint.problem_client import ProblemError, raise_for_problem

    client = httpx.Client(base_url='https://shop.example.com/shop/api',
        event_hooks={'response': [raise_for_problem]})
    try:
        client.post('/orders', json={'lines': []})
    except ProblemError as error:
        print(error.status, error.detail, error.errors)

Use :func:`araise_for_problem` with ``httpx.AsyncClient``.
"""
from http import HTTPStatus

PROBLEM_CONTENT_TYPE = 'application/problem+json'
MEMBERS = ('type', 'title', 'status', 'detail', 'instance', 'errors')


class ProblemError(Exception):
    """An error answer: its problem details as attributes.

    ``status`` (int), ``title``, ``detail``, ``type`` (``about:blank`` when
    absent), ``instance`` (None when absent), ``errors`` (a list of dicts
    with ``pointer`` or ``parameter`` and ``detail``; empty when absent),
    ``extra`` (the other members, such as ``error_id``) and ``response``.
    """

    def __init__(self, status, title=None, detail=None, *, type=None,
            instance=None, errors=None, extra=None, response=None):
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.type = type or 'about:blank'
        self.instance = instance
        self.errors = list(errors or [])
        self.extra = dict(extra or {})
        self.response = response
        super().__init__(self._message())

    def _message(self):
        message = f"{self.status} {self.title}"
        if self.detail and self.detail != self.title:
            message += f": {self.detail}"
        for error in self.errors:
            if not isinstance(error, dict):
                continue
            where = error.get('pointer') or error.get('parameter')
            message += f"\n  {where or '-'}: {error.get('detail', '')}"
        return message

    def __getattr__(self, name):
        # Extension members read as attributes: error.error_id
        extra = self.__dict__.get('extra') or {}
        if name in extra:
            return extra[name]
        raise AttributeError(name)

    @property
    def retry_after(self):
        "Seconds to wait from a ``Retry-After`` in seconds, else None"
        headers = getattr(self.response, 'headers', None) or {}
        value = headers.get('Retry-After')
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return None

    @classmethod
    def from_dict(cls, body, status=None, response=None):
        "Return the error of a problem body (a dict)"
        body = body if isinstance(body, dict) else {}
        value = body.get('status')
        if isinstance(value, int) and not isinstance(value, bool):
            status = value
        errors = body.get('errors')
        return cls(status,
            title=_text(body.get('title')),
            detail=_text(body.get('detail')),
            type=_text(body.get('type')),
            instance=_text(body.get('instance')),
            errors=errors if isinstance(errors, list) else None,
            extra={k: v for k, v in body.items() if k not in MEMBERS},
            response=response)

    @classmethod
    def from_response(cls, response):
        """Return the error of a response.

        A problem+json body gives its members; any other body gives the
        status and its phrase, with the text as detail.
        """
        response.read()
        status = response.status_code
        if is_problem(response):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return cls.from_dict(body, status=status, response=response)
        text = (getattr(response, 'text', '') or '').strip()
        return cls(status, detail=text[:1000] or None, response=response)


def is_problem(response):
    "Whether the response says it is application/problem+json"
    content_type = response.headers.get('Content-Type', '')
    return content_type.split(';')[0].strip().lower() == PROBLEM_CONTENT_TYPE


def raise_for_problem(response):
    """Raise :class:`ProblemError` for an error answer (4xx, 5xx).

    Made for ``event_hooks={'response': [raise_for_problem]}`` of
    ``httpx.Client``: the body is read first, as hooks get the response
    before it is.
    """
    if response.status_code >= 400:
        raise ProblemError.from_response(response)


async def araise_for_problem(response):
    "The same, for ``httpx.AsyncClient``"
    if response.status_code >= 400:
        await response.aread()
        raise ProblemError.from_response(response)


def _phrase(status):
    try:
        return HTTPStatus(status).phrase
    except (ValueError, TypeError):
        return 'Error'


def _text(value):
    return value if isinstance(value, str) else None
