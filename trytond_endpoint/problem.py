"""RFC 9457 problem details, the body of every error answer."""
import json
from http import HTTPStatus

from werkzeug.wrappers import Response

PROBLEM_CONTENT_TYPE = 'application/problem+json'


class Problem(Exception):
    """An error to answer as ``application/problem+json``.

    ``errors`` is a list of dicts such as ``{"pointer": "/qty", "detail":
    "…"}`` (JSON Pointer into the body) or ``{"parameter": "limit",
    "detail": "…"}`` (a query parameter).
    """

    def __init__(self, status, detail=None, *, title=None, errors=None,
            headers=None, type=None, **extra):
        status = HTTPStatus(status)
        super().__init__(detail or status.phrase)
        self.status = status.value
        self.title = title or status.phrase
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.type = type or 'about:blank'
        self.extra = extra

    def to_dict(self):
        body = {
            'type': self.type,
            'title': self.title,
            'status': self.status,
            'detail': self.detail or self.title,
            }
        if self.errors:
            body['errors'] = self.errors
        body.update(self.extra)
        return body

    def response(self):
        return problem_response(self)


def problem_response(problem):
    response = Response(
        json.dumps(problem.to_dict(), ensure_ascii=False, default=str),
        status=problem.status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response
